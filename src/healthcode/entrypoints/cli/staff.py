"""`healthcode staff ...`: accounts for the people who run the system. The city's first two
authority admins and first two auditors are made here, on the server itself; every later
account, role change and re-enabling is asked for by one authority admin and approved by a
second, independent one over HTTP (POST /staff, /staff/requests/{id}/approve). Every account
change is on the transparency log."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import segno
import typer
from rich.table import Table

from healthcode.entrypoints.cli.common import command_group, console, fail, handles_errors, open_app
from healthcode.services import staff

STAFF_ID = Annotated[str, typer.Argument(help="The staff id (see `staff list`)")]
staff_app = command_group(help="Staff accounts: roles, passwords, authenticator apps.",
                        no_args_is_help=True)  # fmt: skip


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = typer.prompt("password (12+ characters)", hide_input=True)
    if typer.prompt("again", hide_input=True) != first:
        raise fail("the two passwords differ")
    return str(first)


@staff_app.command("add")
@handles_errors
def add(
    username: Annotated[str, typer.Argument(help="Lowercase sign-in name, e.g. li.tracer")],
    role: Annotated[str, typer.Option(help="authority_admin or auditor (bootstrap only)")],
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin")] = False,
) -> None:
    """Make one of the city's first two authority admins or auditors; prints the
    authenticator set-up (once: it is not shown again). Every other account takes two admins."""
    made = staff.bootstrap_staff(open_app().ctx, username, role, _password(password_stdin))
    a = made.account
    console.print(f"created {a.username} ({a.role}), staff id {a.staff_id}")
    console.print("scan this with the authenticator app, or enter the URI by hand:")
    segno.make(made.totp_uri, error="m").terminal(compact=True)
    console.print(made.totp_uri, soft_wrap=True)


@staff_app.command("list")
@handles_errors
def list_accounts() -> None:
    """Every account, its role, and whether it is pending, active or disabled."""
    table = Table("staff id", "username", "role", "venue", "state", "created (UTC)",
                  "disabled (UTC)")  # fmt: skip
    for a in staff.list_staff(open_app().ctx):
        when = lambda t: time.strftime("%Y-%m-%d %H:%M", time.gmtime(t)) if t else ""  # noqa: E731
        table.add_row(a.staff_id, a.username, a.role, a.venue_id or "", a.state,
                      when(a.created_at), when(a.disabled_at))  # fmt: skip
    console.print(table)


@staff_app.command("disable")
@handles_errors
def disable(
    staff_id: Annotated[str, typer.Argument(help="The staff id (see `staff list`)")],
) -> None:
    """Stop an account at once: its sessions end and it cannot sign in (never the last
    authority admin; an auditor only by an auditor and an admin together)."""
    staff.operator_disable(open_app().ctx, staff_id)
    console.print(f"disabled {staff_id}")
