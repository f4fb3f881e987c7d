"""Staff accounts, venue devices and case assignments: who may act, for which venue or case.

Creating an account, disabling it, registering or revoking a device and assigning an officer to
a case are all privileged actions and go on the log, naming staff by their random id only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from healthcode.domain.access import OFFICERS, Role
from healthcode.domain.accounts import (
    Principal,
    PrincipalKind,
    check_password,
    check_username,
    staff_role,
)
from healthcode.domain.audit import Actor, LogEntry
from healthcode.domain.errors import Conflict, InvalidInput, NotFound
from healthcode.services.auth import actor_of, new_device_token
from healthcode.services.context import ServiceContext
from healthcode.services.ports import DeviceToken, StaffAccount, UnitOfWork

STAFF_BASIS = "staff_administration"
VENUE_ROLES = frozenset({Role.VENUE_STAFF, Role.VENUE_ADMIN})
OPERATOR = Actor("operator", "cli")  # whoever runs the CLI on the server itself


@dataclass(frozen=True, slots=True)
class NewStaff:
    account: StaffAccount
    totp_uri: str  # shown once, to set up the authenticator app


@dataclass(frozen=True, slots=True)
class NewDevice:
    device: DeviceToken
    token: str  # shown once


def _log(
    uow: UnitOfWork, action: str, actor: Actor, kind: str, ref: str, now: int, **details: str | int
) -> None:
    uow.log.append(
        LogEntry(action, actor, kind, ref, "access_management", STAFF_BASIS, details=details), now
    )


def create_staff(
    ctx: ServiceContext,
    actor: Actor,
    username: str,
    role: str,
    password: str,
    venue_id: str | None = None,
) -> NewStaff:
    name = check_username(username.strip().lower())
    kind = staff_role(role)
    check_password(password)
    if kind in VENUE_ROLES and not venue_id:
        raise InvalidInput(
            "venue staff and venue admins need the venue they work for", field="venue_id"
        )
    if kind not in VENUE_ROLES and venue_id:
        raise InvalidInput("only venue staff and venue admins belong to a venue", field="venue_id")
    now = ctx.clock.now()
    secret = ctx.credentials.new_totp_secret()
    hashed = ctx.credentials.hash_password(password)  # slow on purpose: outside the transaction
    with ctx.uow() as uow:
        if uow.staff.by_username(name) is not None:
            raise Conflict("that username is taken", field="username")
        if venue_id and uow.venues.get(venue_id) is None:
            raise NotFound("no such venue", field="venue_id")
        account = StaffAccount(
            "s" + secrets.token_hex(8), name, kind.value, venue_id, hashed, secret, 0, now
        )
        uow.staff.add(account)
        _log(
            uow, "staff.created", actor, "staff", f"staff:{account.staff_id}", now, role=kind.value
        )
        uow.commit()
    return NewStaff(account, ctx.credentials.totp_uri(secret, name))


def disable_staff(ctx: ServiceContext, actor: Actor, staff_id: str) -> None:
    """The account stops working at once: its sessions end and sign-in is refused."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        account = uow.staff.get(staff_id)
        if account is None:
            raise NotFound("no such staff account", field="staff_id")
        if account.disabled_at is None:
            uow.staff.disable(staff_id, now)
            ended = uow.sessions.end_all(PrincipalKind.STAFF, staff_id, now)
            _log(uow, "staff.disabled", actor, "staff", f"staff:{staff_id}", now, sessions=ended)
        uow.commit()


def list_staff(ctx: ServiceContext) -> list[StaffAccount]:
    with ctx.uow(read_only=True) as uow:
        return uow.staff.all()


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
        _log(uow, "device.registered", actor, "device", f"device:{device.device_id}", now)
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
            _log(uow, "device.revoked", actor, "device", f"device:{device_id}", now)
        uow.commit()


def devices_of(ctx: ServiceContext, principal: Principal, venue_id: str) -> list[DeviceToken]:
    _own_venue(principal, venue_id)
    with ctx.uow(read_only=True) as uow:
        return uow.devices.of_venue(venue_id)


def assign_case(ctx: ServiceContext, principal: Principal, case_id: str, staff_id: str) -> None:
    """Give an officer a case: the only way an officer may read the people it involves."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        case = uow.cases.get_case(case_id)
        if case is None:
            raise NotFound("no such case", field="case_id")
        if case.closed_at is not None:
            raise Conflict("the case is closed", field="case_id")
        account = uow.staff.get(staff_id)
        if account is None or account.disabled_at is not None or Role(account.role) not in OFFICERS:
            raise InvalidInput("an active tracer or health officer", field="staff_id")
        uow.assignments.add(case_id, staff_id, principal.ref, now)
        actor = actor_of(uow, principal)
        _log(uow, "case.assigned", actor, "case", case_id, now, officer=f"staff:{staff_id}")
        uow.commit()


def cases_of(ctx: ServiceContext, staff_id: str) -> list[str]:
    """The cases an officer is assigned to."""
    with ctx.uow(read_only=True) as uow:
        return uow.assignments.cases_of(staff_id)
