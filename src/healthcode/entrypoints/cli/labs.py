"""`healthcode lab keygen | list | import` and `healthcode case list`.

A lab's key is made by the lab (`lab keygen`, on its own machine); the authority registers only
the public key, by two admins (POST /labs, then /labs/{id}/approve). `lab import` sends a file as
the lab does over HTTP: signed with the lab's key, checked against the registered one.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Column, Table

from healthcode.adapters.crypto.signer import raw_es256
from healthcode.adapters.fhir import parse_bundle
from healthcode.domain.labs import LabSignature, signed_message
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
from healthcode.services import lab_registry, labs, trace
from healthcode.services.staff import OPERATOR

lab_app = command_group(
    help="Labs: their keys, the list of registered labs, and sending results as a lab.",
    no_args_is_help=True,
)
case_app = command_group(help="Cases opened by positive results.", no_args_is_help=True)
ROUTES = {False: "/lab-results/csv", True: "/lab-results/fhir"}


@lab_app.command("keygen")
@handles_errors
def keygen(
    out: Annotated[Path, typer.Option(help="Where the lab keeps its private key (PEM)")],
) -> None:
    """Make a lab's ES256 key pair; prints the public key an admin registers. Run by the lab:
    the private key never leaves it, and nobody at the authority ever holds it."""
    if out.exists():
        raise fail(f"{out} exists: a lab's key is never overwritten")
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    console.print(f"private key: {out} (keep it at the lab)")
    console.print("public key, for the authority's admins to register:")
    console.print(base64.b64encode(public).decode(), soft_wrap=True)


@lab_app.command("list")
@handles_errors
def list_labs() -> None:
    """Every lab: code, name, key id, and whether it is pending, active or revoked."""
    table = Table(Column("lab", overflow="fold"), "code", "name", "key id", "state")
    for lab in lab_registry.list_labs(open_app().ctx):
        table.add_row(lab.lab_id, lab.code, lab.name, lab.kid, lab.state)
    console.print(table)


def _key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise fail(f"cannot read the lab's private key {path}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise fail(f"{path} is not an ES256 (P-256) private key")
    return key


@lab_app.command("import")
@handles_errors
def import_file(
    file: Annotated[Path, typer.Argument(help="CSV (" + ",".join(labs.COLUMNS) + ") or FHIR")],
    lab: Annotated[str, typer.Option(help="The lab's id (see `lab list`)")],
    key: Annotated[Path, typer.Option(help="The lab's private key (from `lab keygen`)")],
    fhir: Annotated[bool, typer.Option(help="The file is an HL7 FHIR R4 Bundle")] = False,
) -> None:
    """Send results as the lab: signed with its key and checked against the registered one;
    a bad row refuses the whole file, with every bad line listed."""
    try:
        body = file.read_bytes()
        text = body.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file} as UTF-8 text: {exc}") from None
    app = open_app()
    created = app.ctx.clock.now()
    route = ROUTES[fhir]
    signature = raw_es256(_key(key), signed_message(created, route, body))
    source = lab_registry.authenticate_lab(app.ctx, LabSignature(lab, created, signature),
                                           route, body)  # fmt: skip
    principal = labs.lab_principal(source)
    refused: labs.ImportRefused | None = None
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True
    ) as progress:
        progress.add_task(f"checking and importing {file.name}")
        rows = parse_bundle(text) if fhir else labs.parse_csv(text)
        try:
            report = labs.import_results(app.ctx, rows, principal)
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
            "registered": report.registered,
            "positives": report.positives,
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
    result = trace.trace_case(open_app().ctx, case_id, OPERATOR, depth)
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
            ctx, wanted, OPERATOR, depth, lambda n: progress.advance(task, n)
        )
    print_json(
        {
            "cases": report.cases,
            "close": report.close,
            "secondary": report.secondary,
            "new_exposures": report.new_exposures,
            "colour_changes": report.colour_changes,
            "searched": report.searched,
        }
    )


@case_app.command("archive")
@handles_errors
def archive() -> None:
    """Write the closed days of check-ins to the contact archive (the server does it every
    hour): Parquet files that trace-all searches with DuckDB."""
    ctx = open_app().ctx
    with console.status("archiving closed days"):
        written = trace.archive_days(ctx)
    if written is None:
        raise fail("this city keeps no contact archive: set HEALTHCODE_CONTACT_ARCHIVE=true")
    print_json({"days_written": written.days, "rows": written.rows, "days_current": written.kept})


def _when(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch))
