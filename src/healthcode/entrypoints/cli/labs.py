"""`healthcode lab import` and `healthcode case list`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Column, Table

from healthcode.domain.audit import Actor
from healthcode.entrypoints.cli.common import (
    EXIT_USAGE,
    console,
    err,
    fail,
    handles_errors,
    open_app,
    print_json,
)
from healthcode.services import labs, trace

lab_app = typer.Typer(help="Lab results: import them; positives open cases.", no_args_is_help=True)
case_app = typer.Typer(help="Cases opened by positive results.", no_args_is_help=True)


@lab_app.command("import")
@handles_errors
def import_csv(
    file: Annotated[Path, typer.Argument(help="CSV: " + ",".join(labs.COLUMNS))],
    lab: Annotated[str, typer.Option(help="Who sends the results, for the log")] = "lab",
) -> None:
    """Import results; a bad row refuses the whole file, with every bad line listed."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file} as UTF-8 text: {exc}") from None
    app = open_app()
    refused: labs.ImportRefused | None = None
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True
    ) as progress:
        progress.add_task(f"checking and importing {file.name}")
        rows = labs.parse_csv(text)
        try:
            report = labs.import_results(app.ctx, rows, Actor("lab", lab.lower()[:40] or "lab"))
        except labs.ImportRefused as exc:
            refused = exc
    # Report only once the progress display is gone, so nothing interleaves with it.
    if refused is not None:
        for e in refused.errors:
            err.print(f"line {e.line}: {e.field}: {e.message}", markup=False)
        err.print(f"[red]error:[/red] {len(refused.errors)} bad row(s); nothing imported")
        raise typer.Exit(EXIT_USAGE)
    print_json(
        {
            "rows": len(rows),
            "imported": report.imported,
            "duplicates": report.duplicates,
            "cases_opened": report.cases_opened,
        }
    )


@case_app.command("list")
@handles_errors
def list_cases() -> None:
    """Open cases and their infectious windows (UTC)."""
    # ids fold onto a second line rather than being cut: a tracer needs them whole
    table = Table(
        Column("case", overflow="fold", min_width=17), "window from", "window to", "opened"
    )
    for case in labs.open_cases(open_app().ctx):
        table.add_row(
            case.case_id,
            *(
                time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))
                for t in (case.window_start, case.window_end, case.opened_at)
            ),
        )
    console.print(table)


@case_app.command("trace")
@handles_errors
def trace_case(
    case_id: Annotated[str, typer.Argument(help="The case to trace")],
    depth: Annotated[
        int, typer.Option(min=1, max=2, help="1: close contacts; 2: and secondary")
    ] = 2,
) -> None:
    """Close and secondary contacts of a case, with the evidence. Logged with the case."""
    result = trace.trace_case(open_app().ctx, case_id, Actor("tracer", "cli"), depth)
    table = Table(
        Column("contact", overflow="fold", min_width=32),
        "kind",
        Column("venue", overflow="fold"),
        "from (UTC)",
        "to (UTC)",
        "minutes",
    )
    for kind, contacts in (("close", result.close), ("secondary", result.secondary)):
        for contact in contacts:
            for e in contact.exposures:
                table.add_row(
                    contact.subject_id,
                    kind,
                    e.source.venue_id,
                    _when(e.start),
                    _when(e.end),
                    str(e.seconds // 60),
                )
    console.print(table)
    console.print(f"{len(result.close)} close, {len(result.secondary)} secondary contacts")


@case_app.command("trace-all")
@handles_errors
def trace_all(
    case_ids: Annotated[
        list[str] | None, typer.Argument(help="Cases to trace (default: every open case)")
    ] = None,
    depth: Annotated[
        int, typer.Option(min=1, max=2, help="1: close contacts; 2: and secondary")
    ] = 2,
) -> None:
    """Trace an outbreak: many cases in one batch, each logged with its case."""
    ctx = open_app().ctx
    wanted = case_ids or [c.case_id for c in labs.open_cases(ctx)]
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("tracing cases", total=len(wanted))
        report = trace.trace_outbreak(
            ctx, wanted, Actor("tracer", "cli"), depth, lambda n: progress.advance(task, n)
        )
    print_json(
        {
            "cases": report.cases,
            "close": report.close,
            "secondary": report.secondary,
            "new_exposures": report.new_exposures,
            "colour_changes": report.colour_changes,
        }
    )


def _when(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch))
