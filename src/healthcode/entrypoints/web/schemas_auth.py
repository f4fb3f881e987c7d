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
    created_at: int
    disabled_at: int | None
    totp_uri: str | None = Field(None, description="Only when created: set up the app with it.")


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
