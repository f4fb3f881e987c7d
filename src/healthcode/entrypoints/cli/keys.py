"""`healthcode keys ...` and `healthcode trust ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from healthcode.domain.audit import Actor
from healthcode.domain.keys import KeyUse
from healthcode.entrypoints.cli.common import (
    command_group,
    console,
    fail,
    handles_errors,
    open_app,
    print_json,
)
from healthcode.services import keys

keys_app = command_group(help="Signing keys: list, rotate, withdraw.", no_args_is_help=True)
trust_app = command_group(
    help="Trust lists: export ours, import other cities'.", no_args_is_help=True
)
CLI_ADMIN = Actor("authority_admin", "cli")


@keys_app.command("list")
@handles_errors
def list_keys() -> None:
    table = Table("kid", "use", "alg", "state", "not before", "not after")
    for key in keys.list_keys(open_app().ctx):
        table.add_row(
            key.kid,
            key.use.value,
            key.alg,
            key.state.value,
            str(key.not_before),
            str(key.not_after),
        )
    console.print(table)


@keys_app.command("rotate")
@handles_errors
def rotate(
    use: Annotated[KeyUse, typer.Argument(help="health or place")],
    alg: Annotated[str | None, typer.Option(help="ES256 or PS256 (default: settings)")] = None,
) -> None:
    """New key signs from now; the old one verifies until its codes have expired."""
    print_json({"new_kid": keys.rotate_key(open_app().ctx, use, CLI_ADMIN, alg)})


@keys_app.command("withdraw")
@handles_errors
def withdraw(
    kid: Annotated[str, typer.Argument(help="Key id (hex)")],
    reason: Annotated[str, typer.Option(help="Short token, e.g. key_compromise")],
) -> None:
    """Verifiers reject this key at once (compromise)."""
    print_json({"replacement": keys.withdraw_key(open_app().ctx, kid, CLI_ADMIN, reason)})


@trust_app.command("export")
@handles_errors
def export(out: Annotated[Path | None, typer.Option(help="Write to a file")] = None) -> None:
    """Our signed trust list, and the anchor fingerprint other cities must pin."""
    app = open_app()
    stored = keys.our_trust_list(app.ctx)
    if out is not None:
        out.write_text(stored.document, encoding="utf-8")
        console.print(f"trust list v{stored.version} written to {out}")
    else:
        console.print(stored.document, markup=False)
    console.print(f"anchor fingerprint: {stored.anchor_fingerprint}", style="bold")


@trust_app.command("import")
@handles_errors
def import_list(
    file: Annotated[Path, typer.Argument(help="Another city's trust list (JSON)")],
    fingerprint: Annotated[str, typer.Option(help="Its anchor fingerprint, learned out of band")],
) -> None:
    try:
        document = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    parsed = keys.import_trust_list(open_app().ctx, document, fingerprint, CLI_ADMIN)
    print_json({"city": parsed.city, "version": parsed.version, "keys": len(parsed.keys)})


@trust_app.command("list")
@handles_errors
def held() -> None:
    table = Table("city", "version", "source", "anchor fingerprint")
    for t in keys.held_trust_lists(open_app().ctx):
        table.add_row(t.city, str(t.version), t.source, t.anchor_fingerprint)
    console.print(table)
