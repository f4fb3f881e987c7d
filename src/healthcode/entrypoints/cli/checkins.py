"""`healthcode checkin ...`: scan a poster, a guard's scan, a device upload, a resident's list,
and the authority's bulk import of a CSV file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from healthcode.domain.audit import Actor
from healthcode.entrypoints.cli.common import (
    EXIT_USAGE,
    command_group,
    console,
    err,
    fail,
    handles_errors,
    open_app,
    print_json,
)
from healthcode.services import checkin_import, checkins
from healthcode.services.checkins import MAX_BATCH, UploadItem, UploadReport
from healthcode.services.labs import ImportRefused

checkin_app = command_group(
    help="Check-ins: who was where, from when to when.", no_args_is_help=True
)


def _when(epoch: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch)) if epoch else "—"


@checkin_app.command("place")
@handles_errors
def place(
    subject_id: Annotated[str, typer.Argument(help="The resident who scanned")],
    place_code: Annotated[str, typer.Argument(help="The scanned poster's place code")],
    dependant: Annotated[list[str] | None, typer.Option(help="A dependant checking in too")] = None,
) -> None:
    """The resident scanned a venue's poster."""
    made = checkins.check_in_at_place(open_app().ctx, subject_id, place_code, dependant or [])
    print_json(
        [
            {
                "venue_id": c.venue_id,
                "checkin_id": c.checkin_id,
                "time_in": c.time_in,
                "closes_at": c.closes_at,
            }
            for c in made
        ]
    )


@checkin_app.command("scan")
@handles_errors
def scan(
    venue_id: Annotated[str, typer.Argument(help="The venue whose device scanned")],
    code: Annotated[str, typer.Argument(help="The visitor's health code")],
) -> None:
    """A venue device scanned a visitor's code: admit or refuse, and a check-in on admit."""
    result = checkins.scan_health_code(open_app().ctx, venue_id, code)
    print_json({**result.verdict.for_guard(), "recorded": result.recorded})


@checkin_app.command("out")
@handles_errors
def out(
    subject_id: Annotated[str, typer.Argument(help="The resident")],
    venue_id: Annotated[str, typer.Argument(help="The venue")],
    checkin_id: Annotated[str, typer.Argument(help="The visit")],
) -> None:
    """Check out of a visit."""
    left = checkins.leave(open_app().ctx, subject_id, venue_id, checkin_id)
    console.print(f"checked out at {_when(left.time_out)} UTC")


@checkin_app.command("list")
@handles_errors
def list_visits(subject_id: Annotated[str, typer.Argument(help="The resident")]) -> None:
    """A resident's own check-ins of the last 14 days."""
    table = Table("venue", "in (UTC)", "out (UTC)", "how")
    for c in checkins.my_checkins(open_app().ctx, subject_id):
        table.add_row(
            c.venue_id, _when(c.time_in), _when(c.time_out or c.closes_at), c.source.value
        )
    console.print(table)


def _read_items(path: Path) -> list[UploadItem]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return [UploadItem(str(i["client_id"]), str(i["code"]), int(i["scanned_at"])) for i in raw]
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise fail(f"{path}: expected a JSON list of {{client_id, code, scanned_at}}") from None


@checkin_app.command("upload")
@handles_errors
def upload(
    venue_id: Annotated[str, typer.Argument(help="The venue whose device was offline")],
    file: Annotated[Path, typer.Argument(help="JSON list of {client_id, code, scanned_at}")],
) -> None:
    """Upload an offline device's scans (idempotent: repeating an upload adds nothing)."""
    items = _read_items(file)
    ctx = open_app().ctx
    total = UploadReport()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("uploading", total=len(items))
        for start in range(0, len(items), MAX_BATCH):
            report = checkins.upload_scans(ctx, venue_id, items[start : start + MAX_BATCH])
            total.accepted += report.accepted
            total.duplicates += report.duplicates
            total.rejected += report.rejected
            progress.advance(task, min(MAX_BATCH, len(items) - start))
    print_json(
        {
            "accepted": len(total.accepted),
            "duplicates": len(total.duplicates),
            "rejected": [{"client_id": r.client_id, "reason": r.reason} for r in total.rejected],
        }
    )


@checkin_app.command("import")
@handles_errors
def import_csv(
    file: Annotated[Path, typer.Argument(help="CSV: " + ",".join(checkin_import.COLUMNS))],
    officer: Annotated[str, typer.Option(help="Who imports, for the log")] = "cli",
) -> None:
    """Bulk import by the authority: a bad row refuses the whole file, every bad line listed.
    Idempotent: rows whose (venue_id, client_id) is already stored count as duplicates."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file} as UTF-8 text: {exc}") from None
    app = open_app()
    actor = Actor("authority_admin", officer.lower()[:40] or "cli")
    refused: ImportRefused | None = None
    rows: list[checkin_import.CheckInRow] = []
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"reading {file.name}", total=None)
        try:
            rows = checkin_import.parse_csv(text)
            progress.update(task, description=f"checking {len(rows):,} rows")

            def advance(done: int) -> None:
                progress.update(task, description="importing", total=len(rows), advance=done)

            report = checkin_import.import_checkins(app.ctx, rows, actor, advance)
        except ImportRefused as exc:
            refused = exc
    # Report only once the progress display is gone, so nothing interleaves with it.
    if refused is not None:
        for e in refused.errors:
            err.print(f"line {e.line}: {e.field}: {e.message}", markup=False)
        err.print(f"[red]error:[/red] {len(refused.errors)} bad row(s); nothing imported")
        raise typer.Exit(EXIT_USAGE)
    print_json({"rows": len(rows), "imported": report.imported, "duplicates": report.duplicates})
