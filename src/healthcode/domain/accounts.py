"""Who is signed in: principals, sessions and their timeouts, staff names, phone numbers.

A session token is 256 random bits, shown once and stored only as its SHA-256 (AUTHN-2). A session
ends when it has been idle too long, when it is too old whatever its use, or at logout; signing in
always starts a new session (rotation), and the browser's previous one is ended.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from healthcode.domain.access import STAFF_ROLES, Role
from healthcode.domain.errors import InvalidInput

TOKEN_BYTES = 32  # 256 bits (AUTHN-2 asks for at least 128)
USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{2,31}$")
OTP_DIGITS = 6
MIN_PASSWORD = 12
MAX_PASSWORD = 256


class PrincipalKind:
    STAFF = "staff"
    RESIDENT = "resident"
    APPLICANT = "applicant"
    DEVICE = "device"
    LAB = "lab"


@dataclass(frozen=True, slots=True)
class Principal:
    """Whoever is making a request. `ref` is a staff id, a subject id, a device id, or for an
    applicant the keyed hash of the phone number they proved."""

    kind: str
    ref: str
    role: Role
    venue_id: str | None = None  # venue staff, venue admins and devices act for one venue
    session_id: str | None = None  # the token hash, for logout and rotation

    @property
    def pseudonym(self) -> str:
        """How the log names this principal: never a name, a phone number or a token."""
        if self.kind == PrincipalKind.STAFF:
            return f"staff:{self.ref}"
        if self.kind == PrincipalKind.DEVICE:
            return f"device:{self.ref}"
        if self.kind == PrincipalKind.LAB:
            return f"lab:{self.ref}"
        return self.kind  # residents are named by their commitment where it matters


PUBLIC = Principal("public", "public", Role.PUBLIC)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle_seconds: int
    absolute_seconds: int

    def alive(self, created_at: int, last_seen: int, now: int) -> bool:
        return now - last_seen < self.idle_seconds and now - created_at < self.absolute_seconds


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_otp() -> str:
    return f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise InvalidInput(
            "3–32 characters: lowercase letters, digits, '_', '.', '-', starting with a letter",
            field="username",
        )
    return username


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            "a password needs %(min_password)s to %(max_password)s characters",
            field="password",
            params={"min_password": MIN_PASSWORD, "max_password": MAX_PASSWORD},
        )
    return password


def staff_role(value: str) -> Role:
    role = next((r for r in STAFF_ROLES if r.value == value), None)
    if role is None:
        names = ", ".join(sorted(r.value for r in STAFF_ROLES))
        raise InvalidInput(
            "a staff role is one of: %(names)s", field="role", params={"names": names}
        )
    return role
