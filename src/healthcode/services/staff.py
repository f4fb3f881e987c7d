"""Staff accounts, venue devices and case assignments: who may act, for which venue or case.

Who may act is itself guarded by two people (AUTHZ-7, domain/duties.py). Creating an account,
giving it another role and re-enabling it are *requests* by one authority admin that take effect
only when a second, independent authority admin approves; an auditor's account is made, changed
or removed by one auditor and one authority admin together. A new or re-roled account approves
nothing during its cooling-off period, and no approver may be an appointee of the person who
asked, nor a fellow appointee of the same admin. Every request, decision and refusal is on the
public log, naming staff by their random id only. Only the server's operator may make accounts
alone, and only the city's first two authority admins and first two auditors (bootstrap).

Disabling an account protects and takes effect at once (an auditor's apart), but nobody disables
their own account, and the city's last active authority admin stays.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace

from healthcode.domain.access import OFFICERS, Role
from healthcode.domain.accounts import (
    Principal,
    PrincipalKind,
    check_password,
    check_username,
    staff_role,
)
from healthcode.domain.audit import Actor, LogEntry
from healthcode.domain.duties import (
    BOOTSTRAP_PER_ROLE,
    REFUSALS,
    ChangeKind,
    ChangeState,
    StaffChange,
    independence_refusal,
    new_change_id,
    pair_refusal,
)
from healthcode.domain.duties import OPERATOR as OPERATOR_ID
from healthcode.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from healthcode.services.auth import actor_of, new_device_token
from healthcode.services.context import ServiceContext
from healthcode.services.ports import DeviceToken, StaffAccount, UnitOfWork

STAFF_BASIS = "staff_administration"
PURPOSE = "access_management"
VENUE_ROLES = frozenset({Role.VENUE_STAFF, Role.VENUE_ADMIN})
OPERATOR = Actor("operator", "cli")  # whoever runs the CLI on the server itself
REQUESTERS = frozenset({Role.AUTHORITY_ADMIN, Role.AUDITOR})  # auditors: auditors' changes only
AUDITOR_PAIR = REFUSALS["auditor_pair"]  # the refusal of a change to auditors by the wrong pair


@dataclass(frozen=True, slots=True)
class NewStaff:
    account: StaffAccount
    totp_uri: str  # shown once, to set up the authenticator app
    change: StaffChange | None = None  # the request that waits for a second person


@dataclass(frozen=True, slots=True)
class NewDevice:
    device: DeviceToken
    token: str  # shown once


def _log(
    uow: UnitOfWork,
    action: str,
    actor: Actor,
    ref: str,
    now: int,
    details: Mapping[str, str | int] | None = None,
    *,
    kind: str = "staff",
) -> None:
    uow.log.append(
        LogEntry(action, actor, kind, ref, PURPOSE, STAFF_BASIS, details=details or {}), now
    )


def _staff_principal(principal: Principal, roles: frozenset[Role], what: str) -> None:
    if principal.kind != PrincipalKind.STAFF or principal.role not in roles:
        names = ", ".join(sorted(r.value for r in roles))
        raise Forbidden("only a %(names)s may %(what)s", params={"names": names, "what": what})


def _active(uow: UnitOfWork, role: Role) -> list[StaffAccount]:
    return [a for a in uow.staff.all() if a.role == role.value and a.is_active]


def _account(uow: UnitOfWork, staff_id: str) -> StaffAccount:
    account = uow.staff.get(staff_id) if isinstance(staff_id, str) else None
    if account is None:
        raise NotFound("no such staff account", field="staff_id")
    return account


def _checked_new(username: str, role: str, password: str, venue_id: str | None) -> tuple[str, Role]:
    name = check_username(username.strip().lower())
    kind = staff_role(role)
    check_password(password)
    if kind in VENUE_ROLES and not venue_id:
        raise InvalidInput(
            "venue staff and venue admins need the venue they work for", field="venue_id"
        )
    if kind not in VENUE_ROLES and venue_id:
        raise InvalidInput("only venue staff and venue admins belong to a venue", field="venue_id")
    return name, kind


def _new_account(
    uow: UnitOfWork,
    name: str,
    kind: Role,
    hashed: str,
    secret: str,
    venue_id: str | None,
    now: int,
    active: bool,
) -> StaffAccount:
    if uow.staff.by_username(name) is not None:
        raise Conflict("that username is taken", field="username")
    if venue_id and uow.venues.get(venue_id) is None:
        raise NotFound("no such venue", field="venue_id")
    account = StaffAccount(
        "s" + secrets.token_hex(8),
        name,
        kind.value,
        venue_id,
        hashed,
        secret,
        0,
        now,
        activated_at=now if active else None,
    )
    uow.staff.add(account)
    return account


# -- the operator's bootstrap --------------------------------------------------------------------


def bootstrap_staff(ctx: ServiceContext, username: str, role: str, password: str) -> NewStaff:
    """The server's operator makes the city's first authority admins and auditors (two of
    each at most while fewer are active); everything else takes two people over HTTP."""
    name, kind = _checked_new(username, role, password, None)
    if kind not in (Role.AUTHORITY_ADMIN, Role.AUDITOR):
        raise Conflict(
            "the operator makes only the first authority admins and auditors; other accounts are "
            "requested by an authority admin and approved by a second one (POST /staff)",
            field="role",
            code="two_person_rule",
        )
    now = ctx.clock.now()
    secret = ctx.credentials.new_totp_secret()
    hashed = ctx.credentials.hash_password(password)  # slow on purpose: outside the transaction
    with ctx.uow() as uow:
        uow.log.lock()  # two bootstraps cannot both see "one admin so far"
        if len(_active(uow, kind)) >= BOOTSTRAP_PER_ROLE:
            raise Conflict(
                "the city already has %(bootstrap_per_role)s active %(value)s accounts: a new "
                "one is requested by one of them and approved by a second person (POST /staff)",
                field="role",
                code="two_person_rule",
                params={"bootstrap_per_role": BOOTSTRAP_PER_ROLE, "value": kind.value},
            )
        account = _new_account(uow, name, kind, hashed, secret, None, now, active=True)
        change = StaffChange(
            new_change_id(), account.staff_id, ChangeKind.CREATE.value, kind.value, OPERATOR_ID,
            "operator", now, ChangeState.APPROVED.value, OPERATOR_ID, now,
        )  # fmt: skip
        uow.staff_changes.add(change)
        said = {"role": kind.value, "request": change.change_id, "requested_by": OPERATOR_ID}
        _log(uow, "staff.created", OPERATOR, f"staff:{account.staff_id}", now, said)
        uow.commit()
    return NewStaff(account, ctx.credentials.totp_uri(secret, name), change)


# -- requests ------------------------------------------------------------------------------------


def _requester(principal: Principal, role_after: str, current_role: str | None) -> None:
    _staff_principal(principal, REQUESTERS, "ask for a staff change")
    if principal.role is Role.AUDITOR and Role.AUDITOR.value not in (role_after, current_role):
        raise InvalidInput(
            "an auditor asks only for changes to auditors' accounts",
            field="role" if current_role is None else "staff_id",
            code="auditors_only",
        )


def _pending_for(uow: UnitOfWork, staff_id: str) -> None:
    if any(c.staff_id == staff_id for c in uow.staff_changes.pending()):
        raise Conflict(
            "a change to this account already waits for a second person",
            field="staff_id",
            code="pending",
        )


def _request(
    uow: UnitOfWork, principal: Principal, staff_id: str, kind: ChangeKind, role: str, now: int
) -> StaffChange:
    """Store and log `principal`'s request to change `staff_id` (to `role`)."""
    change = StaffChange(
        new_change_id(), staff_id, kind.value, role, principal.ref, principal.role.value, now
    )
    uow.staff_changes.add(change)
    said = {"change": change.kind, "role": change.role, "request": change.change_id}
    actor = actor_of(uow, principal)
    _log(uow, "staff.change_requested", actor, f"staff:{change.staff_id}", now, said)
    return change


def request_staff(
    ctx: ServiceContext,
    principal: Principal,
    username: str,
    role: str,
    password: str,
    venue_id: str | None = None,
) -> NewStaff:
    """An account that cannot sign in until a second person approves its creation."""
    name, kind = _checked_new(username, role, password, venue_id)
    _requester(principal, kind.value, None)
    now = ctx.clock.now()
    secret = ctx.credentials.new_totp_secret()
    hashed = ctx.credentials.hash_password(password)  # slow on purpose: outside the transaction
    with ctx.uow() as uow:
        account = _new_account(uow, name, kind, hashed, secret, venue_id, now, active=False)
        change = _request(uow, principal, account.staff_id, ChangeKind.CREATE, kind.value, now)
        uow.commit()
    return NewStaff(account, ctx.credentials.totp_uri(secret, name), change)


def request_role(
    ctx: ServiceContext, principal: Principal, staff_id: str, role: str
) -> StaffChange:
    kind = staff_role(role)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        account = _account(uow, staff_id)
        _requester(principal, kind.value, account.role)
        if account.role == kind.value:
            raise Conflict("the account already has this role", field="role", code="unchanged")
        if (kind in VENUE_ROLES) != (account.venue_id is not None):
            raise InvalidInput(
                "venue accounts stay venue accounts: make a new account instead", field="role"
            )
        if account.staff_id == principal.ref:
            raise Conflict("you cannot change your own role", field="staff_id", code="self")
        _pending_for(uow, staff_id)
        change = _request(uow, principal, staff_id, ChangeKind.ROLE, kind.value, now)
        uow.commit()
        return change


def request_enable(ctx: ServiceContext, principal: Principal, staff_id: str) -> StaffChange:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        account = _account(uow, staff_id)
        _requester(principal, account.role, account.role)
        if account.disabled_at is None:
            raise Conflict("the account is not disabled", field="staff_id", code="unchanged")
        _pending_for(uow, staff_id)
        change = _request(uow, principal, staff_id, ChangeKind.ENABLE, account.role, now)
        uow.commit()
        return change


def disable_staff(ctx: ServiceContext, principal: Principal, staff_id: str) -> StaffChange | None:
    """The account stops working at once: its sessions end and sign-in is refused. An
    auditor's account is the exception: removing an overseer takes an auditor and an admin,
    so it is a request (returned) until the second one approves."""
    if principal.kind != PrincipalKind.STAFF:
        raise Forbidden("only staff disable staff accounts")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        account = _account(uow, staff_id)
        if account.disabled_at is not None:
            return None
        if account.role == Role.AUDITOR.value:
            _requester(principal, account.role, account.role)
            _pending_for(uow, staff_id)
            change = _request(uow, principal, staff_id, ChangeKind.DISABLE, account.role, now)
            uow.commit()
            return change
        if principal.role is not Role.AUTHORITY_ADMIN:
            raise InvalidInput("an auditor disables only auditors' accounts (with an admin)",
                               field="staff_id", code="auditors_only")  # fmt: skip
        _disable(uow, actor_of(uow, principal), account, principal.ref, now)
        uow.commit()
    return None


def operator_disable(ctx: ServiceContext, staff_id: str) -> None:
    """The operator on the server stops an account at once (a stolen password at night); the
    same limits hold: the last admin stays, and auditors are removed by two parties only."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        account = _account(uow, staff_id)
        if account.disabled_at is not None:
            return
        if account.role == Role.AUDITOR.value:
            raise Conflict(
                "an auditor is removed by one auditor and one authority admin together",
                field="staff_id",
                code="two_person_rule",
            )
        _disable(uow, OPERATOR, account, OPERATOR_ID, now)
        uow.commit()


def _disable(uow: UnitOfWork, actor: Actor, account: StaffAccount, by: str, now: int) -> None:
    if account.staff_id == by:
        raise Conflict("you cannot disable your own account", field="staff_id", code="self")
    admins = _active(uow, Role.AUTHORITY_ADMIN)
    if [a.staff_id for a in admins] == [account.staff_id]:
        raise Conflict(
            "this is the last active authority admin: enable or add another first",
            field="staff_id",
            code="last_admin",
        )
    uow.staff.disable(account.staff_id, now)
    ended = uow.sessions.end_all(PrincipalKind.STAFF, account.staff_id, now)
    _log(uow, "staff.disabled", actor, f"staff:{account.staff_id}", now,
         {"role": account.role, "sessions": ended})  # fmt: skip


# -- the second person ---------------------------------------------------------------------------


def check_independent(
    ctx: ServiceContext, uow: UnitOfWork, approver: str, proposer: str, now: int
) -> str | None:
    """Why `approver` cannot be the second person for what `proposer` asked (a token of
    domain/duties.REFUSALS), or None. Both are staff ids (the proposer may be the operator)."""
    found = uow.staff_changes.appointments([approver, proposer])
    return independence_refusal(approver, proposer, found, now, ctx.duties)


def log_independence_refusal(
    ctx: ServiceContext,
    principal: Principal,
    action: str,
    kind: str,
    ref: str,
    basis: str,
    purpose: str,
    why: str,
    **details: str | int,
) -> Forbidden:
    """Log a refused second person in a transaction of its own; the error to raise."""
    with ctx.uow() as uow:
        actor = actor_of(uow, principal)
        entry = LogEntry(
            action, actor, kind, ref, purpose, basis, outcome=f"refused:{why}", details=details
        )
        uow.log.append(entry, ctx.clock.now())
        uow.commit()
    return Forbidden(REFUSALS.get(why, why), code="two_person_rule")


def _pending(uow: UnitOfWork, change_id: str) -> StaffChange:
    change = uow.staff_changes.get(change_id) if isinstance(change_id, str) else None
    if change is None:
        raise NotFound("no such staff change request", field="request")
    if change.state != ChangeState.PENDING.value:
        raise Conflict(
            "the request was %(state)s already", field="request", params={"state": change.state}
        )
    return change


def _open_change(ctx: ServiceContext, uow: UnitOfWork, change_id: str, now: int) -> StaffChange:
    """A pending request still inside its time to be approved."""
    change = _pending(uow, change_id)
    if now - change.requested_at >= ctx.duties.request_seconds:
        raise Conflict("the request has expired: ask again", field="request", code="expired")
    return change


def _pair_refusal(uow: UnitOfWork, principal: Principal, change: StaffChange) -> str | None:
    """Why `principal` may not decide on this change, whatever their independence."""
    target = uow.staff.get(change.staff_id)
    current = target.role if target is not None and change.kind != ChangeKind.CREATE else None
    return pair_refusal(change, current, principal.role.value)


def _decider_refusal(
    ctx: ServiceContext, uow: UnitOfWork, principal: Principal, change: StaffChange, now: int
) -> str | None:
    pair = _pair_refusal(uow, principal, change)
    if pair is not None:
        return pair
    return check_independent(ctx, uow, principal.ref, change.requested_by, now)


def approve_change(ctx: ServiceContext, principal: Principal, change_id: str) -> StaffAccount:
    """A second, independent person approves: the change takes effect now, and the account's
    cooling-off period starts."""
    _staff_principal(principal, REQUESTERS, "approve a staff change")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        change = _open_change(ctx, uow, change_id, now)
        why = _decider_refusal(ctx, uow, principal, change, now)
        if why is None:
            account = _apply(uow, principal, change, now)
            uow.commit()
            return account
    raise log_independence_refusal(
        ctx, principal, "staff.change_approved", "staff", f"staff:{change.staff_id}",
        STAFF_BASIS, PURPOSE, why, request=change.change_id,
    )  # fmt: skip


def _apply(uow: UnitOfWork, principal: Principal, change: StaffChange, now: int) -> StaffAccount:
    account = _account(uow, change.staff_id)
    actor = actor_of(uow, principal)
    decided = replace(
        change, state=ChangeState.APPROVED.value, decided_by=principal.ref, decided_at=now
    )
    uow.staff_changes.decide(decided)
    ref = f"staff:{account.staff_id}"
    said: dict[str, str | int] = {"request": change.change_id, "requested_by": change.requested_by}
    if change.kind == ChangeKind.CREATE:
        uow.staff.activate(account.staff_id, now)
        _log(uow, "staff.created", actor, ref, now, {"role": change.role, **said})
    elif change.kind == ChangeKind.ROLE:
        uow.staff.set_role(account.staff_id, change.role)
        uow.sessions.end_all(PrincipalKind.STAFF, account.staff_id, now)  # sessions hold roles
        _log(uow, "staff.role_changed", actor, ref, now,
             {"role": change.role, "was": account.role, **said})  # fmt: skip
    elif change.kind == ChangeKind.ENABLE:
        uow.staff.enable(account.staff_id)
        _log(uow, "staff.enabled", actor, ref, now, {"role": account.role, **said})
    else:
        _disable(uow, actor, account, principal.ref, now)
    return _account(uow, account.staff_id)


def refuse_change(ctx: ServiceContext, principal: Principal, change_id: str) -> StaffChange:
    """The second person says no (or the one who asked withdraws): nothing changes; an
    account whose creation is refused never signs in."""
    _staff_principal(principal, REQUESTERS, "refuse a staff change")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        change = _pending(uow, change_id)  # an expired one may still be refused
        mine = change.requested_by == principal.ref
        if not mine and _pair_refusal(uow, principal, change) is not None:
            raise Forbidden(AUDITOR_PAIR, code="two_person_rule")
        refused = replace(
            change, state=ChangeState.REFUSED.value, decided_by=principal.ref, decided_at=now
        )
        uow.staff_changes.decide(refused)
        if change.kind == ChangeKind.CREATE:
            uow.staff.disable(change.staff_id, now)
        _log(uow, "staff.change_refused", actor_of(uow, principal), f"staff:{change.staff_id}",
             now, {"change": change.kind, "request": change.change_id})  # fmt: skip
        uow.commit()
        return refused


def pending_changes(ctx: ServiceContext) -> list[StaffChange]:
    """The requests that wait for a second person, oldest first (expired ones left out)."""
    now = ctx.clock.now()
    with ctx.uow(read_only=True) as uow:
        found = uow.staff_changes.pending()
    return [c for c in found if now - c.requested_at < ctx.duties.request_seconds]


def list_staff(ctx: ServiceContext) -> list[StaffAccount]:
    with ctx.uow(read_only=True) as uow:
        return uow.staff.all()


# -- venue devices -------------------------------------------------------------------------------


def _own_venue(principal: Principal, venue_id: str) -> None:
    """Venue admins manage their own venue only; anything else looks like no venue at all."""
    if principal.role is Role.VENUE_ADMIN and principal.venue_id != venue_id:
        raise NotFound("no such venue", field="venue_id")


def register_device(
    ctx: ServiceContext, principal: Principal, venue_id: str, label: str
) -> NewDevice:
    label = label.strip()
    if not 1 <= len(label) <= 40:
        raise InvalidInput("a label of 1 to 40 characters, e.g. 'north gate'", field="label")
    _own_venue(principal, venue_id)
    now = ctx.clock.now()
    token, digest = new_device_token()
    with ctx.uow() as uow:
        if uow.venues.get(venue_id) is None:
            raise NotFound("no such venue", field="venue_id")
        device = DeviceToken("d" + secrets.token_hex(8), venue_id, label, digest, now)
        uow.devices.add(device)
        actor = actor_of(uow, principal)
        _log(uow, "device.registered", actor, f"device:{device.device_id}", now, kind="device")
        uow.commit()
    return NewDevice(device, token)


def revoke_device(ctx: ServiceContext, principal: Principal, venue_id: str, device_id: str) -> None:
    _own_venue(principal, venue_id)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        device = uow.devices.get(device_id)
        if device is None or device.venue_id != venue_id:
            raise NotFound("no such device", field="device_id")
        if device.revoked_at is None:
            uow.devices.revoke(device_id, now)
            actor = actor_of(uow, principal)
            _log(uow, "device.revoked", actor, f"device:{device_id}", now, kind="device")
        uow.commit()


def devices_of(ctx: ServiceContext, principal: Principal, venue_id: str) -> list[DeviceToken]:
    _own_venue(principal, venue_id)
    with ctx.uow(read_only=True) as uow:
        return uow.devices.of_venue(venue_id)


# -- case assignments ----------------------------------------------------------------------------


def assign_case(ctx: ServiceContext, principal: Principal, case_id: str, staff_id: str) -> None:
    """Give an officer a case: the only way any officer may trace it or read the people it
    involves (AUTHZ-9). A second person assigns: nobody assigns a case to themselves, nor to
    an account they had appointed."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        case = uow.cases.get_case(case_id)
        if case is None:
            raise NotFound("no such case", field="case_id")
        if case.closed_at is not None:
            raise Conflict("the case is closed", field="case_id")
        account = uow.staff.get(staff_id) if isinstance(staff_id, str) else None
        if account is None or not account.is_active or Role(account.role) not in OFFICERS:
            raise InvalidInput("an active tracer or health officer", field="staff_id")
        why = "same_person" if staff_id == principal.ref else None
        if why is None:
            found = uow.staff_changes.appointments([principal.ref, staff_id])
            if any(a.sponsor == principal.ref for a in found.get(staff_id, [])):
                why = "appointed_by_proposer"
        if why is None:
            uow.assignments.add(case_id, staff_id, principal.ref, now)
            actor = actor_of(uow, principal)
            _log(uow, "case.assigned", actor, case_id, now, {"officer": f"staff:{staff_id}"},
                 kind="case")  # fmt: skip
            uow.commit()
            return
    raise log_independence_refusal(
        ctx, principal, "case.assigned", "case", case_id, STAFF_BASIS, PURPOSE, why,
        officer=f"staff:{staff_id}",
    )  # fmt: skip


def cases_of(ctx: ServiceContext, staff_id: str) -> list[str]:
    """The cases an officer is assigned to."""
    with ctx.uow(read_only=True) as uow:
        return uow.assignments.cases_of(staff_id)
