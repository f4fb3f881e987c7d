"""Staff accounts (authority admins), venue devices (venue admins) and case assignments (health
officers). Every change is on the transparency log."""

from __future__ import annotations

from fastapi import APIRouter

from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.schemas_auth import AssignIn, DeviceIn, DeviceOut, StaffIn, StaffOut
from healthcode.entrypoints.web.security import Caller
from healthcode.services import staff
from healthcode.services.auth import actor_for
from healthcode.services.ports import DeviceToken, StaffAccount

router = APIRouter(tags=["staff and devices"])


def staff_out(a: StaffAccount, totp_uri: str | None = None) -> StaffOut:
    return StaffOut(
        staff_id=a.staff_id,
        username=a.username,
        role=a.role,
        venue_id=a.venue_id,
        created_at=a.created_at,
        disabled_at=a.disabled_at,
        totp_uri=totp_uri,
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


@router.post("/staff", status_code=201, response_model=StaffOut)
def create_staff(body: StaffIn, caller: Caller, ctx: Ctx) -> StaffOut:
    made = staff.create_staff(
        ctx, actor_for(ctx, caller), body.username, body.role, body.password, body.venue_id
    )
    return staff_out(made.account, made.totp_uri)


@router.post("/staff/{staff_id}/disable", status_code=204)
def disable_staff(staff_id: str, caller: Caller, ctx: Ctx) -> None:
    staff.disable_staff(ctx, actor_for(ctx, caller), staff_id)


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
