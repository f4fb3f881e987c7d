"""Bodies of signing in and out, staff accounts, venue devices and case assignments."""

from __future__ import annotations

from pydantic import BaseModel, Field

from healthcode.entrypoints.web.schemas import Strict


class StaffSignInIn(Strict):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    totp: str = Field(max_length=12, description="The code the authenticator app shows now.")


class CodeRequestIn(Strict):
    phone: str = Field(max_length=40, examples=["13812345678"])


class CodeSentOut(BaseModel):
    expires_in: int = Field(description="Seconds the code stays valid.")


class CodeSignInIn(Strict):
    phone: str = Field(max_length=40)
    code: str = Field(max_length=12)


class SessionOut(BaseModel):
    """Who is signed in. `token` only in the answer to a sign-in, and only once."""

    kind: str
    role: str
    ref: str = Field(description="Staff id, subject id or device id; '' for an applicant.")
    venue_id: str | None = None
    idle_seconds: int | None = None
    absolute_seconds: int | None = None
    token: str | None = None


class StaffIn(Strict):
    username: str = Field(max_length=64)
    role: str = Field(max_length=24, examples=["tracer"])
    password: str = Field(max_length=256)
    venue_id: str | None = Field(None, max_length=24)


class StaffOut(BaseModel):
    staff_id: str
    username: str
    role: str
    venue_id: str | None
    state: str = Field(description="pending (waits for a second admin), active or disabled")
    created_at: int
    activated_at: int | None
    disabled_at: int | None
    totp_uri: str | None = Field(None, description="Only when requested: set up the app with it.")


class StaffChangeOut(BaseModel):
    request: str = Field(description="What the second person names to approve or refuse it.")
    staff_id: str
    change: str = Field(description="create, role, enable or disable")
    role: str = Field(description="The account's role once the change is made.")
    requested_by: str
    requested_at: int
    state: str = Field(description="pending, approved or refused")
    decided_by: str | None
    decided_at: int | None


class StaffRequestOut(BaseModel):
    """A requested account: it signs in only once a second admin approves the request."""

    account: StaffOut
    request: StaffChangeOut


class RoleIn(Strict):
    role: str = Field(max_length=24, examples=["health_officer"])


class DeviceIn(Strict):
    label: str = Field(max_length=40, examples=["north gate"])


class DeviceOut(BaseModel):
    device_id: str
    venue_id: str
    label: str
    created_at: int
    revoked_at: int | None
    token: str | None = Field(None, description="Only when registered: shown once.")


class AssignIn(Strict):
    staff_id: str = Field(max_length=24)
