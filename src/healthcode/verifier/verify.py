"""Offline verification of health codes and place codes (SIG-2).

Checks run in a fixed order, and each failure stops the chain with a typed reason:
framing → size cap → key lookup (every key with that kid) → signature → payload claims →
time window → status. Expiry is expiry (SIG-9): a code, and the status inside it, is refused from
the second its `exp` (`valid_until`) is reached; the clock-skew allowance covers only a device
clock that runs behind the issuer's (`iat` slightly in the future) and the key's validity
period, never a code past its end. The payload is decoded only after a signature verified, so
an attacker's CBOR never reaches the claim parser unsigned. `verify_*` never raises: anything
unforeseen becomes `invalid/malformed`, never `admit`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from healthcode.verifier.claims import (
    ClaimsError,
    Colour,
    HealthClaims,
    PlaceClaims,
    decode_health_claims,
    decode_place_claims,
)
from healthcode.verifier.cose import ALGORITHM_NAMES, CoseError, Sign1, parse_sign1
from healthcode.verifier.cose import verify_signature as cose_verify
from healthcode.verifier.envelope import (
    HEALTH_CODE_PREFIX,
    PLACE_CODE_PREFIX,
    EnvelopeError,
    check_prefix,
    check_size,
    unwrap,
)
from healthcode.verifier.place_link import place_code_of
from healthcode.verifier.trustlist import TrustedKey, TrustStore


class Decision(StrEnum):
    ADMIT = "admit"
    REFUSE = "refuse"
    INVALID = "invalid"


class Reason(StrEnum):
    OK = "ok"
    NOT_TEXT = "not_text"
    WRONG_PREFIX = "wrong_prefix"
    TOO_LARGE = "too_large"
    BAD_BASE45 = "bad_base45"
    BAD_COMPRESSION = "bad_compression"
    MALFORMED = "malformed"
    WRONG_ALGORITHM = "wrong_algorithm"
    UNKNOWN_KEY = "unknown_key"
    KEY_WITHDRAWN = "key_withdrawn"
    BAD_SIGNATURE = "bad_signature"
    BAD_CLAIMS = "bad_claims"
    WRONG_ISSUER = "wrong_issuer"
    LIFETIME_TOO_LONG = "lifetime_too_long"
    OUTSIDE_KEY_VALIDITY = "outside_key_validity"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    STATUS_EXPIRED = "status_expired"
    STATUS_YELLOW = "status_yellow"
    STATUS_RED = "status_red"


MESSAGES: dict[Reason, str] = {
    Reason.OK: "valid code",
    Reason.NOT_TEXT: "not a code: input is not text",
    Reason.WRONG_PREFIX: "not a code of this kind (wrong prefix)",
    Reason.TOO_LARGE: "code is larger than any valid code",
    Reason.BAD_BASE45: "code is damaged (base45)",
    Reason.BAD_COMPRESSION: "code is damaged (compression)",
    Reason.MALFORMED: "code is damaged (not a COSE_Sign1 message)",
    Reason.WRONG_ALGORITHM: "code uses an algorithm that is not accepted",
    Reason.UNKNOWN_KEY: "code is signed by a key on none of the trust lists",
    Reason.KEY_WITHDRAWN: "code is signed by a withdrawn key",
    Reason.BAD_SIGNATURE: "signature does not verify: the code was altered or forged",
    Reason.BAD_CLAIMS: "signed content does not follow the claim format",
    Reason.WRONG_ISSUER: "code names another city than the key's trust list",
    Reason.LIFETIME_TOO_LONG: "code lives longer than any code may",
    Reason.OUTSIDE_KEY_VALIDITY: "code was issued outside its key's validity period",
    Reason.NOT_YET_VALID: "code is not yet valid (check the device clock)",
    Reason.EXPIRED: "code has expired: ask for a fresh one",
    Reason.STATUS_EXPIRED: "the status in the code has expired",
    Reason.STATUS_YELLOW: "status is yellow",
    Reason.STATUS_RED: "status is red",
}


@dataclass(frozen=True, slots=True)
class VerifyPolicy:
    max_skew_seconds: int = 300
    max_lifetime_seconds: int = 24 * 3600
    refused_colours: frozenset[Colour] = field(
        default_factory=lambda: frozenset({Colour.YELLOW, Colour.RED})
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    reason: Reason
    issuer: str | None = None
    kid: str | None = None
    colour: str | None = None
    valid_until: int | None = None
    masked_name: str | None = None
    rule_ref: str | None = None
    claims: HealthClaims | PlaceClaims | None = None

    @property
    def message(self) -> str:
        return MESSAGES[self.reason]

    def for_guard(self) -> dict[str, object]:
        """Minimum disclosure (AUTHZ-4): what a guard's screen may show, and nothing else."""
        return {
            "decision": self.decision.value,
            "reason": self.reason.value,
            "message": self.message,
            "valid_until": self.valid_until,
            "masked_name": self.masked_name,
        }


DEFAULT_POLICY = VerifyPolicy()


def _invalid(reason: Reason, kid: bytes | None = None) -> Verdict:
    return Verdict(Decision.INVALID, reason, kid=kid.hex() if kid else None)


def _open(text: object, prefix: str) -> Sign1 | Verdict:
    try:
        framed = check_prefix(text, prefix)
        check_size(framed)
        return parse_sign1(unwrap(framed, prefix))
    except EnvelopeError as exc:
        return _invalid(Reason(exc.code))
    except CoseError:
        return _invalid(Reason.MALFORMED)


def _signed_by(msg: Sign1, store: TrustStore, use: str) -> list[TrustedKey] | Verdict:
    """Every usable key that verifies the signature. Several cities may list the same public
    key; the one that counts is chosen by the issuer claim once the payload is trusted."""
    if msg.alg not in ALGORITHM_NAMES:
        return _invalid(Reason.WRONG_ALGORITHM, msg.kid)
    if msg.kid is None:
        return _invalid(Reason.UNKNOWN_KEY)
    candidates = [k for k in store.keys_for(msg.kid, use) if k.alg == msg.alg]
    if not candidates:
        return _invalid(Reason.UNKNOWN_KEY, msg.kid)
    verified = [k for k in candidates if cose_verify(msg, k.public_key, k.alg)]
    if not verified:
        return _invalid(Reason.BAD_SIGNATURE, msg.kid)
    usable = [k for k in verified if k.withdrawn_at is None]
    return usable or _invalid(Reason.KEY_WITHDRAWN, msg.kid)


def _issuer_key(keys: list[TrustedKey], issuer: str) -> TrustedKey | None:
    """A code counts only under its own city's list: the issuer claim must match the key's city."""
    return next((k for k in keys if k.city == issuer), None)


def verify_health_code(
    text: object, store: TrustStore, now: int, policy: VerifyPolicy | None = None
) -> Verdict:
    try:
        return _verify_health_code(text, store, now, policy or DEFAULT_POLICY)
    except Exception:  # a backstop: arbitrary input must never escape as an exception
        return _invalid(Reason.MALFORMED)


def _verify_health_code(text: object, store: TrustStore, now: int, policy: VerifyPolicy) -> Verdict:
    msg = _open(text, HEALTH_CODE_PREFIX)
    if isinstance(msg, Verdict):
        return msg
    keys = _signed_by(msg, store, "health")
    if isinstance(keys, Verdict):
        return keys
    try:
        claims = decode_health_claims(msg.payload)
    except ClaimsError:
        return _invalid(Reason.BAD_CLAIMS, msg.kid)
    key = _issuer_key(keys, claims.issuer)
    if key is None:
        return Verdict(Decision.INVALID, Reason.WRONG_ISSUER, issuer=claims.issuer)
    kid = key.kid.hex()
    problem = _time_problem(claims, key, now, policy)
    if problem is not None:
        # An expired code says when it ended, so a guard can tell the visitor how long ago.
        ended = claims.expires_at if problem is Reason.EXPIRED else None
        return Verdict(Decision.INVALID, problem, issuer=claims.issuer, kid=kid, valid_until=ended)
    decision, reason = Decision.ADMIT, Reason.OK
    if claims.valid_until <= now:
        decision, reason = Decision.REFUSE, Reason.STATUS_EXPIRED
    elif claims.colour in policy.refused_colours:
        decision = Decision.REFUSE
        reason = Reason.STATUS_RED if claims.colour is Colour.RED else Reason.STATUS_YELLOW
    return Verdict(
        decision,
        reason,
        issuer=claims.issuer,
        kid=kid,
        colour=claims.colour.label,
        valid_until=min(claims.valid_until, claims.expires_at),
        masked_name=claims.masked_name,
        rule_ref=claims.rule_ref,
        claims=claims,
    )


def _time_problem(
    claims: HealthClaims, key: TrustedKey, now: int, policy: VerifyPolicy
) -> Reason | None:
    skew = policy.max_skew_seconds
    if claims.expires_at - claims.issued_at > policy.max_lifetime_seconds:
        return Reason.LIFETIME_TOO_LONG
    if claims.issued_at < key.not_before - skew or claims.expires_at > key.not_after + skew:
        return Reason.OUTSIDE_KEY_VALIDITY
    if claims.issued_at > now + skew:
        return Reason.NOT_YET_VALID
    if claims.expires_at <= now:  # no skew here: a 5-minute code works for 5 minutes
        return Reason.EXPIRED
    return None


def verify_place_code(text: object, store: TrustStore, now: int, skew: int = 300) -> Verdict:
    """Signature and key checks of a place code (bare, or the link a poster's QR holds);
    whether its poster is still current is the issuing server's knowledge (rotation), checked
    there."""
    try:
        msg = _open(place_code_of(text), PLACE_CODE_PREFIX)
        if isinstance(msg, Verdict):
            return msg
        keys = _signed_by(msg, store, "place")
        if isinstance(keys, Verdict):
            return keys
        claims = decode_place_claims(msg.payload)
        key = _issuer_key(keys, claims.issuer)
        if key is None:
            return Verdict(Decision.INVALID, Reason.WRONG_ISSUER, issuer=claims.issuer)
        if claims.issued_at > now + skew:
            return Verdict(Decision.INVALID, Reason.NOT_YET_VALID, issuer=claims.issuer)
        if claims.issued_at < key.not_before - skew:
            return Verdict(Decision.INVALID, Reason.OUTSIDE_KEY_VALIDITY, issuer=claims.issuer)
        if now > key.not_after + skew:
            # A poster lives as long as its key: retiring a place key means printing new posters.
            return Verdict(Decision.INVALID, Reason.EXPIRED, issuer=claims.issuer)
        return Verdict(
            Decision.ADMIT, Reason.OK, issuer=claims.issuer, kid=key.kid.hex(), claims=claims
        )
    except ClaimsError:
        return _invalid(Reason.BAD_CLAIMS)
    except Exception:
        return _invalid(Reason.MALFORMED)
