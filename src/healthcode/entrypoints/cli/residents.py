"""`healthcode resident ...` and `healthcode code ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from healthcode.adapters.qr import qr_png
from healthcode.entrypoints.cli.common import (
    command_group,
    console,
    handles_errors,
    open_app,
    print_json,
)
from healthcode.services import codes, enrolment

residents = command_group(help="Enrol residents and their dependants.", no_args_is_help=True)
code_app = command_group(help="Issue health codes.", no_args_is_help=True)


@residents.command("enrol")
@handles_errors
def enrol(
    name: Annotated[str, typer.Option(help="Full name (kept in the identity vault only)")],
    doc_type: Annotated[str, typer.Option(help="prc_id, passport, hk_macau_permit, ...")],
    doc_number: Annotated[str, typer.Option(help="Document number")],
    phone: Annotated[str, typer.Option(help="Mobile number")],
) -> None:
    """Enrol a resident; prints the pseudonymous subject id."""
    done = enrolment.enrol_resident(
        open_app().ctx, enrolment.EnrolResident(name, doc_type, doc_number, phone)
    )
    print_json({"subject_id": done.subject_id, "commitment": done.commitment})


@residents.command("add-dependant")
@handles_errors
def add_dependant(
    guardian: Annotated[str, typer.Argument(help="Guardian's subject id")],
    name: Annotated[str, typer.Option(help="Dependant's full name")],
    relation: Annotated[str, typer.Option(help="child, elder or ward")],
    doc_type: Annotated[str | None, typer.Option(help="Optional document type")] = None,
    doc_number: Annotated[str | None, typer.Option(help="Optional document number")] = None,
) -> None:
    """Enrol a child or an elder without a phone, held by a guardian."""
    cmd = enrolment.AddDependant(guardian, name, relation, doc_type, doc_number)
    done = enrolment.add_dependant(open_app().ctx, cmd)
    print_json({"subject_id": done.subject_id, "commitment": done.commitment})


@code_app.command("issue")
@handles_errors
def issue(
    subject_id: Annotated[str, typer.Argument(help="Resident's or dependant's subject id")],
    png: Annotated[Path | None, typer.Option(help="Also write the QR as a PNG file")] = None,
) -> None:
    """Issue a fresh, short-lived health code."""
    issued = codes.issue_health_code(open_app().ctx, subject_id)
    if png is not None:
        png.write_bytes(qr_png(issued.text))
    print_json(
        {
            "code": issued.text,
            "colour": issued.colour,
            "expires_at": issued.expires_at,
            "rule": issued.rule_ref,
        }
    )
    if png is not None:
        console.print(f"QR written to {png}")
