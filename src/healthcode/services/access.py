"""The `access_*` gates: the one way a use case reaches a person, a venue or a case for someone
(AUTHZ-3, AUTHZ-5).

- A resident reaches themselves, and as guardian their dependants.
- An officer (tracer, health officer) reaches a person only through an open case they are
  assigned to that involves the person (the case's own subject, or an exposure found by tracing
  it); each such read is logged with its purpose: the case.
- Venue staff, venue admins and devices reach their own venue only.
- Anything else is refused, logged as a refused attempt, and answered exactly as if the object
  did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.domain.access import OFFICERS, ROLE_NAMES, Role, allowed
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.domain.audit import LogEntry, commitment
from healthcode.domain.errors import N_, Forbidden, Refused
from healthcode.services.auth import actor_of
from healthcode.services.context import ServiceContext
from healthcode.services.ports import UnitOfWork

ACCESS_BASIS = "public_health_emergency_act"
NO_RESIDENT = N_("no such resident")


@dataclass(frozen=True, slots=True)
class Grant:
    """May act on `subject_id`, as `role`; an officer's purpose is `case_id`."""

    subject_id: str
    role: Role
    case_id: str | None = None


def require(principal: Principal, action: str) -> None:
    """The role-level half (AUTHZ-1): may this role attempt this action at all?"""
    if not allowed(action, principal.role):
        raise Forbidden(
            "%(role)s may not do this",
            code="forbidden",
            params={"role": ROLE_NAMES.get(principal.role, principal.role.value)},
        )


def _subject_ref(uow: UnitOfWork, subject_id: str) -> str:
    identity = uow.vault.get(subject_id)
    return commitment(identity.commit_key, subject_id) if identity else "unknown"


def log_route_refusal(
    ctx: ServiceContext, principal: Principal, action: str, subject_id: str | None
) -> None:
    """A role refused a whole route (403). On a route about a person, the refusal names that
    person by commitment, so that it is in their record ("who tried to read my record")."""
    ref = None
    if subject_id is not None:
        with ctx.uow(read_only=True) as uow:
            if uow.subjects.get(subject_id) is not None:
                ref = _subject_ref(uow, subject_id)
    refused = Refused.of(action, "subject", ref) if ref else Refused.of(action, "route", action)
    log_refusal(ctx, principal, refused, outcome="refused:role")


def log_refusal(
    ctx: ServiceContext,
    principal: Principal,
    refused: Refused,
    outcome: str = "refused:not_permitted",
) -> None:
    """A refused attempt, on the log in its own transaction (the refused one stored nothing).
    Call it after the refused unit of work has ended: the web layer does, for every Refused."""
    with ctx.uow() as uow:
        uow.log.append(
            LogEntry(
                "access.refused",
                actor_of(uow, principal),
                refused.kind,
                refused.ref,
                "access_control",
                ACCESS_BASIS,
                outcome=outcome,
                details={"action": refused.action},
            ),
            ctx.clock.now(),
        )
        uow.commit()


def _officer_case(uow: UnitOfWork, principal: Principal, subject_id: str) -> str | None:
    """An open case assigned to this officer that involves the person, if any."""
    mine = set(uow.assignments.cases_of(principal.ref))
    if not mine:
        return None
    for case in uow.cases.cases_of([subject_id]).get(subject_id, []):
        if case.case_id in mine and case.closed_at is None:
            return case.case_id
    for exposure in uow.exposures.of_subject(subject_id):
        traced = uow.cases.get_case(exposure.case_id) if exposure.case_id in mine else None
        if traced is not None and traced.closed_at is None:
            return traced.case_id
    return None


def _decide(uow: UnitOfWork, principal: Principal, subject_id: str) -> Grant | None:
    subject = uow.subjects.get(subject_id)
    if subject is None or subject.erased_at is not None:
        return None
    if principal.kind == PrincipalKind.RESIDENT:
        if subject_id == principal.ref:
            return Grant(subject_id, Role.RESIDENT)
        if uow.subjects.is_guardian_of(principal.ref, subject_id):
            return Grant(subject_id, Role.GUARDIAN)
        return None
    if principal.kind == PrincipalKind.STAFF and principal.role in OFFICERS:
        case_id = _officer_case(uow, principal, subject_id)
        return Grant(subject_id, principal.role, case_id) if case_id else None
    return None


def _refusal(uow: UnitOfWork, subject_id: str, action: str) -> Refused:
    exists = uow.subjects.get(subject_id) is not None
    ref = _subject_ref(uow, subject_id) if exists else "unknown"
    return Refused(NO_RESIDENT, field="subject_id", action=action, kind="subject", ref=ref)


def _log_read(
    ctx: ServiceContext, uow: UnitOfWork, principal: Principal, grant: Grant, action: str
) -> None:
    assert grant.case_id is not None  # noqa: S101 - only officers' reads are logged here
    uow.log.append(
        LogEntry(
            "personal_data.read",
            actor_of(uow, principal),
            "subject",
            _subject_ref(uow, grant.subject_id),
            "case_investigation",
            ACCESS_BASIS,
            details={"action": action, "case": grant.case_id},
        ),
        ctx.clock.now(),
    )


def access_subject(
    ctx: ServiceContext, uow: UnitOfWork, principal: Principal, subject_id: str, action: str
) -> Grant:
    """The person `subject_id`, for `principal` doing `action`, or Refused (which answers as
    NotFound). An officer's read is logged here, in the caller's transaction, with the case as
    purpose."""
    require(principal, action)
    grant = _decide(uow, principal, subject_id)
    if grant is None:
        raise _refusal(uow, subject_id, action)
    if grant.case_id is not None:
        _log_read(ctx, uow, principal, grant, action)
    return grant


def gate_subject(ctx: ServiceContext, principal: Principal, subject_id: str, action: str) -> Grant:
    """`access_subject` in transactions of its own, for a use case that opens its own: decided
    in a read-only transaction (residents' requests take no write lock), and an officer's read
    logged in a write transaction that commits before the data is read."""
    require(principal, action)
    with ctx.uow(read_only=True) as uow:
        grant = _decide(uow, principal, subject_id)
        if grant is None:
            raise _refusal(uow, subject_id, action)
    if grant.case_id is not None:
        with ctx.uow() as uow:
            _log_read(ctx, uow, principal, grant, action)
            uow.commit()
    return grant


def access_venue(principal: Principal, venue_id: str, action: str) -> None:
    """Venue staff, admins and devices act for their own venue; authority admins for any."""
    require(principal, action)
    if principal.role is Role.AUTHORITY_ADMIN:
        return
    if principal.venue_id != venue_id:
        raise Refused("no such venue", field="venue_id", action=action, kind="venue", ref=venue_id)


def access_case(uow: UnitOfWork, principal: Principal, case_id: str, action: str) -> None:
    """Every officer, health officers included, works only on the cases a second person
    assigned to them (AUTHZ-9): a made-up positive for someone's ID number would otherwise let
    any officer trace where that person was."""
    require(principal, action)
    case = uow.cases.get_case(case_id)
    if case is not None and uow.assignments.is_assigned(case_id, principal.ref):
        return
    if case is None:
        raise Refused("no such case", field="case_id", action=action, kind="case", ref="unknown")
    # A refused attempt on someone's case is an attempt on them: it goes in their record.
    ref = _subject_ref(uow, case.subject_id)
    raise Refused("no such case", field="case_id", action=action, kind="subject", ref=ref)
