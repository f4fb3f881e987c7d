"""Staff accounts (two authority admins, or an auditor and an admin for auditors), venue devices
(venue admins) and case assignments (health officers). Every change is on the transparency log.

A staff change is a request until a second, independent person approves it (domain/duties.py):
`POST /staff`, `/staff/{id}/role` and `/staff/{id}/enable` answer 202 with the request, and
`POST /staff/requests/{id}/approve` makes it take effect."""

from __future__ import annotations

from fastapi import APIRouter, Response

from healthcode.domain.duties import StaffChange
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.schemas_auth import (
    AssignIn,
    DeviceIn,
    DeviceOut,
    RoleIn,
    StaffChangeOut,
    StaffIn,
    StaffOut,
    StaffRequestOut,
)
from healthcode.entrypoints.web.security import Caller
from healthcode.services import staff
from healthcode.services.ports import DeviceToken, StaffAccount

router = APIRouter(tags=["staff and devices"])


def staff_out(a: StaffAccount, totp_uri: str | None = None) -> StaffOut:
    return StaffOut(
        staff_id=a.staff_id,
        username=a.username,
        role=a.role,
        venue_id=a.venue_id,
        state=a.state,
        created_at=a.created_at,
        activated_at=a.activated_at,
        disabled_at=a.disabled_at,
        totp_uri=totp_uri,
    )


def change_out(c: StaffChange) -> StaffChangeOut:
    return StaffChangeOut(
        request=c.change_id,
        staff_id=c.staff_id,
        change=c.kind,
        role=c.role,
        requested_by=c.requested_by,
        requested_at=c.requested_at,
        state=c.state,
        decided_by=c.decided_by,
        decided_at=c.decided_at,
    )


def device_out(d: DeviceToken, token: str | None = None) -> DeviceOut:
    return DeviceOut(
        device_id=d.device_id,
        venue_id=d.venue_id,
        label=d.label,
        created_at=d.created_at,
        revoked_at=d.revoked_at,
        token=token,
    )


@router.get("/staff", response_model=list[StaffOut])
def list_staff(caller: Caller, ctx: Ctx) -> list[StaffOut]:
    return [staff_out(a) for a in staff.list_staff(ctx)]


@router.post("/staff", status_code=202, response_model=StaffRequestOut)
def request_staff(body: StaffIn, caller: Caller, ctx: Ctx) -> StaffRequestOut:
    """Ask for a new account: it signs in once a second, independent admin approves (an
    auditor's: one auditor and one admin). The authenticator set-up is shown now, once."""
    made = staff.request_staff(ctx, caller, body.username, body.role, body.password, body.venue_id)
    assert made.change is not None  # noqa: S101 - a request always has one
    return StaffRequestOut(
        account=staff_out(made.account, made.totp_uri), request=change_out(made.change)
    )


@router.post("/staff/{staff_id}/role", status_code=202, response_model=StaffChangeOut)
def request_role(staff_id: str, body: RoleIn, caller: Caller, ctx: Ctx) -> StaffChangeOut:
    return change_out(staff.request_role(ctx, caller, staff_id, body.role))


@router.post("/staff/{staff_id}/enable", status_code=202, response_model=StaffChangeOut)
def request_enable(staff_id: str, caller: Caller, ctx: Ctx) -> StaffChangeOut:
    return change_out(staff.request_enable(ctx, caller, staff_id))


@router.post(
    "/staff/{staff_id}/disable",
    status_code=204,
    responses={202: {"model": StaffChangeOut, "description": "an auditor: a request"}},
    response_model=None,
)
def disable_staff(staff_id: str, caller: Caller, ctx: Ctx) -> Response | StaffChangeOut:
    """Stops the account at once; an auditor's account only once an auditor and an admin
    agree (202 with the request)."""
    change = staff.disable_staff(ctx, caller, staff_id)
    if change is None:
        return Response(status_code=204)
    return Response(
        change_out(change).model_dump_json(), status_code=202, media_type="application/json"
    )


@router.get("/staff/requests", response_model=list[StaffChangeOut])
def pending_requests(caller: Caller, ctx: Ctx) -> list[StaffChangeOut]:
    return [change_out(c) for c in staff.pending_changes(ctx)]


@router.post("/staff/requests/{request_id}/approve", response_model=StaffOut)
def approve_request(request_id: str, caller: Caller, ctx: Ctx) -> StaffOut:
    """A second, independent person approves (403 `two_person_rule` otherwise, logged)."""
    return staff_out(staff.approve_change(ctx, caller, request_id))


@router.post("/staff/requests/{request_id}/refuse", response_model=StaffChangeOut)
def refuse_request(request_id: str, caller: Caller, ctx: Ctx) -> StaffChangeOut:
    return change_out(staff.refuse_change(ctx, caller, request_id))


@router.get("/venues/{venue_id}/devices", response_model=list[DeviceOut])
def list_devices(venue_id: str, caller: Caller, ctx: Ctx) -> list[DeviceOut]:
    return [device_out(d) for d in staff.devices_of(ctx, caller, venue_id)]


@router.post("/venues/{venue_id}/devices", status_code=201, response_model=DeviceOut)
def register_device(venue_id: str, body: DeviceIn, caller: Caller, ctx: Ctx) -> DeviceOut:
    made = staff.register_device(ctx, caller, venue_id, body.label)
    return device_out(made.device, made.token)


@router.post("/venues/{venue_id}/devices/{device_id}/revoke", status_code=204)
def revoke_device(venue_id: str, device_id: str, caller: Caller, ctx: Ctx) -> None:
    staff.revoke_device(ctx, caller, venue_id, device_id)


@router.post("/cases/{case_id}/assign", status_code=204)
def assign_case(case_id: str, body: AssignIn, caller: Caller, ctx: Ctx) -> None:
    staff.assign_case(ctx, caller, case_id, body.staff_id)
