"""Lifecycle of signing keys: active → retired (verifies until its codes expire) or withdrawn.

Rotation stops a key signing at once but leaves it on the trust list until every code it signed
has expired (SIG-6); withdrawal (compromise) makes verifiers reject it immediately.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class KeyUse(StrEnum):
    HEALTH = "health"  # signs health codes
    PLACE = "place"  # signs place codes (posters)


class KeyState(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str  # hex of the 8-byte kid
    use: KeyUse
    alg: str
    public_key: bytes  # SubjectPublicKeyInfo DER
    not_before: int
    not_after: int
    created_at: int
    retired_at: int | None = None
    withdrawn_at: int | None = None

    @property
    def state(self) -> KeyState:
        if self.withdrawn_at is not None:
            return KeyState.WITHDRAWN
        if self.retired_at is not None:
            return KeyState.RETIRED
        return KeyState.ACTIVE

    def can_sign(self, now: int) -> bool:
        return self.state is KeyState.ACTIVE and self.not_before <= now < self.not_after

    def on_trust_list(self, now: int) -> bool:
        """Withdrawn keys stay listed (marked) so verifiers learn to reject them."""
        return self.withdrawn_at is not None or now < self.not_after


def retire(key: SigningKey, now: int, longest_code: int) -> SigningKey:
    """Stop signing now; keep verifying until the last code this key could have signed expires."""
    return replace(key, retired_at=now, not_after=min(key.not_after, now + longest_code))


def withdraw(key: SigningKey, now: int) -> SigningKey:
    return replace(key, withdrawn_at=now, retired_at=key.retired_at or now)
