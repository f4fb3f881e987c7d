"""Staff accounts for tests, made the way the city makes them (AUTHZ-7).

The city's first two authority admins and first auditor are made by the operator (bootstrap);
every other account is asked for by one admin and approved by a second. Each account gets a
sponsor of its own (a fresh admin that asks for it), so that no two test accounts count as
appointees of the same admin: tests of orders, rules and labs get independent second persons,
as a real city's would be. The tests of separation of duties themselves build their own chains.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from healthcode.bootstrap import App
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.services import staff
from healthcode.services.staff import NewStaff

PASSWORD = "a test staff password"


def principal_of(made: NewStaff) -> Principal:
    a = made.account
    return Principal(PrincipalKind.STAFF, a.staff_id, Role(a.role), a.venue_id)


def _name(role: str) -> str:
    return f"t.{role.replace('_', '.')}.{uuid.uuid4().hex[:6]}"


@dataclass
class Founders:
    """The accounts the operator made when the city started."""

    admins: tuple[Principal, Principal]
    auditor: Principal


_founders: dict[str, Founders] = {}  # by database: the founders live there


def founders(app: App) -> Founders:
    where = str(app.settings.database_url)
    found = _founders.get(where)
    if found is None:
        first = staff.bootstrap_staff(app.ctx, _name("authority_admin"), "authority_admin",
                                      PASSWORD)  # fmt: skip
        second = staff.bootstrap_staff(app.ctx, _name("authority_admin"), "authority_admin",
                                       PASSWORD)  # fmt: skip
        auditor = staff.bootstrap_staff(app.ctx, _name("auditor"), "auditor", PASSWORD)
        found = Founders((principal_of(first), principal_of(second)), principal_of(auditor))
        _founders[where] = found
    return found


def copied(source: str, copy: str) -> None:
    """The database `copy` is a copy of `source`: the same founders live there."""
    if source in _founders:
        _founders[copy] = _founders[source]


def appoint(
    app: App,
    role: str,
    venue_id: str | None = None,
    *,
    sponsor: Principal | None = None,
    approver: Principal | None = None,
    username: str | None = None,
) -> NewStaff:
    """A new active account with `role`: asked for by `sponsor` (default: a fresh admin of its
    own) and approved by `approver` (default: a founding admin, or for an auditor, the founding
    auditor or admin that makes the pair)."""
    city = founders(app)
    name = username or _name(role)
    if sponsor is None:
        if role == Role.AUDITOR.value:
            sponsor = city.auditor
        else:
            fresh = staff.request_staff(app.ctx, city.admins[0], _name("authority_admin"),
                                        "authority_admin", PASSWORD)  # fmt: skip
            assert fresh.change is not None
            staff.approve_change(app.ctx, city.admins[1], fresh.change.change_id)
            sponsor = principal_of(fresh)
    if approver is None:
        approver = city.admins[1]
    made = staff.request_staff(app.ctx, sponsor, name, role, PASSWORD, venue_id)
    assert made.change is not None
    staff.approve_change(app.ctx, approver, made.change.change_id)
    return NewStaff(staff_account(app, made.account.staff_id), made.totp_uri, made.change)


def staff_account(app: App, staff_id: str) -> staff.StaffAccount:
    (found,) = [a for a in staff.list_staff(app.ctx) if a.staff_id == staff_id]
    return found
