"""`healthcode log ...`: checkpoints, export and proofs of the transparency log."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from healthcode.entrypoints.cli.common import (
    command_group,
    console,
    handles_errors,
    open_app,
    print_json,
)
from healthcode.services import audit

log_app = command_group(help="The public transparency log.", no_args_is_help=True)


@log_app.command("checkpoint")
@handles_errors
def checkpoint(force: Annotated[bool, typer.Option(help="Sign even if not due")] = True) -> None:
    """Sign a checkpoint over the entries waiting since the last one."""
    made = audit.checkpoint_now(open_app().ctx, force=force)
    console.print(made.note if made else "nothing new to sign", markup=False)


@log_app.command("export")
@handles_errors
def export(
    out: Annotated[Path, typer.Option(help="Log copy (JSON Lines)")],
    checkpoints: Annotated[Path, typer.Option(help="Checkpoints (JSON)")],
) -> None:
    """Write a copy of the log and its checkpoints for `healthcode audit verify`."""
    app = open_app()
    size = audit.log_size(app.ctx)
    with Progress(console=console, transient=True) as progress, out.open("w") as handle:
        task = progress.add_task("exporting", total=size)
        for line in audit.export_lines(app.ctx):
            handle.write(line + "\n")
            progress.advance(task)
    notes = [c.note for c in audit.checkpoints(app.ctx)]
    checkpoints.write_text(json.dumps({"vkey": app.keyring.log_vkey(), "checkpoints": notes}))
    console.print(f"{size} entries → {out}; {len(notes)} checkpoints → {checkpoints}")
    console.print(f"log verifier key: {app.keyring.log_vkey()}", markup=False)


@log_app.command("prove")
@handles_errors
def prove(
    index: Annotated[int, typer.Argument(help="Entry sequence number")],
    size: Annotated[int | None, typer.Option(help="Tree size (default: latest checkpoint)")] = None,
) -> None:
    """Inclusion proof of one entry in a checkpointed tree."""
    app = open_app()
    latest = audit.latest_checkpoint(app.ctx)
    tree = size or (latest.size if latest else audit.log_size(app.ctx))
    proof = audit.inclusion_proof(app.ctx, index, tree)
    print_json(
        {"index": index, "size": tree, "proof": [base64.b64encode(p).decode() for p in proof]}
    )
