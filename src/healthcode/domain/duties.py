"""Separation of duties (AUTHZ-7): who counts as a truly independent second person.

Every step that can harm a resident takes two people: an order is approved by a second officer,
a frozen order released by an auditor, a rule set activated by a second admin, a lab registered by
a second admin, and a staff account created, raised to another role or re-enabled by a second
admin. Two people are only two if one did not make the other. So the system keeps, for every
account, its *appointments*: each approved creation, role change or re-enabling, with who asked
for it (the sponsor) and when it took effect, and refuses an approver who

- is the proposer (`same_person`);
- took up their powers less than the cooling-off period ago (`cooling_off`): a new or re-roled
  account approves nothing at first, so an admin cannot make a helper and use it at once;
- was appointed by the proposer, at any time (`appointed_by_proposer`), or appointed the
  proposer (`appointed_proposer`): an admin's own appointee is the admin's second hand;
- shares a sponsor with the proposer within the independence window (`same_sponsor`): two
  accounts one admin asked for are one admin's two hands.

The server's operator (the command line on the server, which bootstraps the city's first two
authority admins and auditors) is not an admin whose helpers we fear: its appointments count for
neither the cooling-off period nor the shared sponsor, so a new city can start at once.

Auditors are appointed outside the authority's own chain: a change that makes, raises, re-enables
or disables an auditor takes one auditor and one authority admin (`auditor_pair`), never two
admins, so the authority cannot appoint its own overseers, nor remove them alone.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from healthcode.domain.access import Role
from healthcode.domain.errors import N_

OPERATOR = "operator"  # the sponsor of accounts the server's operator made (bootstrap only)
BOOTSTRAP_PER_ROLE = 2  # the operator makes admins and auditors only while fewer are active


class ChangeKind(StrEnum):
    CREATE = "create"
    ROLE = "role"  # give an account another role
    ENABLE = "enable"  # re-enable a disabled account
    DISABLE = "disable"  # only auditors' disabling is a two-person change


class ChangeState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class DutyPolicy:
    cooling_off_seconds: int = 72 * 3600
    independence_seconds: int = 30 * 86400
    request_seconds: int = 7 * 86400  # how long a staff change waits for its second admin


@dataclass(frozen=True, slots=True)
class Appointment:
    """An approved staff change: `staff_id` got `role` at `at`, because `sponsor` asked."""

    staff_id: str
    kind: str
    role: str
    sponsor: str  # a staff id, or OPERATOR
    at: int


@dataclass(frozen=True, slots=True)
class StaffChange:
    """A request to change who may act: made by one person, decided by a second."""

    change_id: str
    staff_id: str
    kind: str  # ChangeKind
    role: str  # the account's role once the change is made
    requested_by: str  # a staff id, or OPERATOR
    requested_role: str
    requested_at: int
    state: str = ChangeState.PENDING.value
    decided_by: str | None = None
    decided_at: int | None = None

    def appointment(self) -> Appointment | None:
        if self.state != ChangeState.APPROVED.value or self.decided_at is None:
            return None
        if self.kind == ChangeKind.DISABLE.value:
            return None
        return Appointment(self.staff_id, self.kind, self.role, self.requested_by, self.decided_at)


def new_change_id() -> str:
    return "sc" + secrets.token_hex(8)


REFUSALS = {
    "same_person": N_("the person who asked cannot also approve: a second person must"),
    "cooling_off": N_(
        "an account approves nothing in its first hours after it was created, given "
        "another role or re-enabled (the cooling-off period)"
    ),
    "appointed_by_proposer": N_(
        "you were appointed (created, given your role or re-enabled) at the "
        "request of the person who asked: an independent second person must approve"
    ),
    "appointed_proposer": N_(
        "you asked for the appointment of the person who asked: an independent "
        "second person must approve"
    ),
    "same_sponsor": N_(
        "you and the person who asked were both appointed at the request of the same "
        "admin recently: an independent second person must approve"
    ),
    "auditor_pair": N_(
        "auditors are appointed and removed by one auditor and one authority admin "
        "together, never by two admins"
    ),
}


def _recent_sponsors(found: Iterable[Appointment], now: int, window: int) -> set[str]:
    return {a.sponsor for a in found if a.sponsor != OPERATOR and now - a.at < window}


def independence_refusal(
    approver: str,
    proposer: str,
    appointments: Mapping[str, list[Appointment]],
    now: int,
    policy: DutyPolicy,
) -> str | None:
    """Why `approver` may not be the second person for something `proposer` asked for (a token
    of REFUSALS), or None. Both are staff ids (the proposer may be OPERATOR)."""
    if approver == proposer:
        return "same_person"
    mine = appointments.get(approver, [])
    theirs = appointments.get(proposer, [])
    cooling = [a for a in mine if a.sponsor != OPERATOR]
    if cooling and now - max(a.at for a in cooling) < policy.cooling_off_seconds:
        return "cooling_off"
    if any(a.sponsor == proposer for a in mine):
        return "appointed_by_proposer"
    if any(a.sponsor == approver for a in theirs):
        return "appointed_proposer"
    window = policy.independence_seconds
    if _recent_sponsors(mine, now, window) & _recent_sponsors(theirs, now, window):
        return "same_sponsor"
    return None


def involves_auditor(change: StaffChange, current_role: str | None) -> bool:
    return Role.AUDITOR.value in (change.role, current_role)


def pair_refusal(change: StaffChange, current_role: str | None, approver_role: str) -> str | None:
    """Who may decide a staff change, by role: auditors' changes take one auditor and one
    authority admin; every other change two authority admins."""
    roles = {change.requested_role, approver_role}
    if involves_auditor(change, current_role):
        wanted = {Role.AUDITOR.value, Role.AUTHORITY_ADMIN.value}
        return None if roles == wanted else "auditor_pair"
    return None if approver_role == Role.AUTHORITY_ADMIN.value else "auditor_pair"
