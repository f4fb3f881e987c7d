"""`healthcode retention ...`: purge what is past retention; end the emergency (sunset).

`purge` exits 1 when the purge fails (RET-2: a failed purge is loud). `sunset` deletes every
piece of personal data for good, so it asks for an explicit flag and exits 2 without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from healthcode.entrypoints.cli.common import (
    command_group,
    console,
    err,
    fail,
    handles_errors,
    open_app,
    print_json,
)
from healthcode.services import retention

EXIT_FAILED = 1
CONFIRM = "--yes-end-the-emergency"

retention_app = command_group(
    help="Retention: purge personal data past its time; sunset at the end of the emergency.",
    no_args_is_help=True,
)


@retention_app.command("purge")
@handles_errors
def purge() -> None:
    """Delete check-ins, exposures and notices older than the retention period, and destroy the
    check-in keys of the days past it (also run hourly by the server). Prints the counts; exits
    1 if the purge fails."""
    ctx = open_app().ctx
    with console.status("purging personal data past retention…"):
        try:
            report = retention.purge(ctx)
        except retention.PurgeFailed as exc:
            err.print(f"[red]error:[/red] {exc}; personal data past retention remains")
            raise typer.Exit(EXIT_FAILED) from None
    table = Table("deleted", "count", title=f"retention: {ctx.retention.days} days")
    for name, n in report.counts.items():
        table.add_row(name, str(n))
    console.print(table)


@retention_app.command("health")
@handles_errors
def health() -> None:
    """The last purge: when, whether it worked, what it deleted. Exits 1 if degraded."""
    found = retention.purge_health(open_app().ctx)
    print_json(
        {
            "status": found.status,
            "degraded": found.degraded,
            "last_run_at": found.last_run_at,
            "last_ok_at": found.last_ok_at,
            "counts": found.counts,
            "error": found.error,
        }
    )
    if found.degraded:
        raise typer.Exit(EXIT_FAILED)


@retention_app.command("sunset")
@handles_errors
def sunset(
    yes: Annotated[
        bool,
        typer.Option(CONFIRM, help="Confirm: every piece of personal data is deleted, for good."),
    ] = False,
    out: Annotated[
        Path, typer.Option(help="Where to write the deletion attestation (JSON) to publish")
    ] = Path("sunset-attestation.json"),
) -> None:
    """End the emergency: delete all personal data, keep counts, and publish a signed
    deletion attestation on the log. New personal data is refused afterwards."""
    if not yes:
        raise fail(f"sunset deletes all personal data for good: repeat with {CONFIRM}")
    attestation = retention.sunset(open_app().ctx)
    out.write_text(attestation.to_json() + "\n", encoding="utf-8")
    table = Table("deleted", "count", title="the emergency has ended")
    for name, n in attestation.deleted.items():
        table.add_row(name, str(n))
    console.print(table)
    console.print(
        f"attestation: log entry {attestation.log_index}, signed checkpoint of size "
        f"{attestation.checkpoint_size}; written to {out}"
    )
