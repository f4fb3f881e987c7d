"""Staff credentials: Argon2id password hashes (argon2-cffi) and TOTP second factors (pyotp).

A refusal costs the same whether the username exists or not (AUTHN-1): an unknown user is checked
against a fixed dummy hash, so the Argon2 work is done either way.
"""

from __future__ import annotations

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOTP_STEP = 30  # seconds (RFC 6238 default)
TOTP_WINDOW = 1  # steps either side accepted, for clock drift


class StaffCredentials:
    """Argon2id with the library's RFC 9106 low-memory profile (t=3, m=64 MiB, p=4) by default
    (tests pass cheaper parameters); TOTP per RFC 6238: 6 digits, 30 s steps, SHA-1, which is what
    every authenticator app reads."""

    def __init__(
        self,
        issuer: str,
        *,
        time_cost: int = 3,
        memory_cost: int = 65536,
        parallelism: int = 4,
    ) -> None:
        self.issuer = issuer
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism
        )
        self._dummy: str | None = None  # made on first use: building the app stays quick

    def hash_password(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify_password(self, stored: str | None, password: str) -> bool:
        if self._dummy is None:
            self._dummy = self._hasher.hash("not anyone's password: for equal-time refusals")
        try:
            self._hasher.verify(stored or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return stored is not None

    def new_totp_secret(self) -> str:
        return pyotp.random_base32()

    def totp_uri(self, secret: str, username: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=self.issuer)

    def totp_step(self, secret: str, code: str, now: int) -> int | None:
        totp = pyotp.TOTP(secret)
        if not (code.isdigit() and len(code) == totp.digits):
            return None
        step = now // TOTP_STEP
        for candidate in range(step - TOTP_WINDOW, step + TOTP_WINDOW + 1):
            if pyotp.utils.strings_equal(totp.at(candidate * TOTP_STEP), code):
                return candidate
        return None


def totp_code(secret: str, now: int) -> str:
    """The code an authenticator app shows at `now` (for the CLI's set-up check and tests)."""
    return pyotp.TOTP(secret).at(now)
