"""CBOR claim sets of our two signed artefacts (CWT claim keys, RFC 8392).

Health code (prefix HCODE1:)              Place code (prefix PLACE1:)
  1  iss   issuing city (text)              1  iss   issuing city (text)
  4  exp   expiry (epoch seconds)           6  iat   issued at
  6  iat   issued at                      -65538 place: {1: venue id, 2: poster id}
-65537 status: {1: colour (0 green, 1 yellow, 2 red), 2: valid until,
               3: rule reference "rule-set@version#rule", 4: sealed subject ref (bytes),
               5: masked name (optional)}
The signing key's kid sits in the protected COSE header. Names, phone and ID numbers never appear.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import cbor2

from healthcode.verifier.cose import loads_exact

CLAIM_ISS = 1
CLAIM_EXP = 4
CLAIM_IAT = 6
CLAIM_STATUS = -65537
CLAIM_PLACE = -65538


class Colour(IntEnum):
    GREEN = 0
    YELLOW = 1
    RED = 2

    @property
    def label(self) -> str:
        return self.name.lower()


COLOUR_VALUES = frozenset(c.value for c in Colour)


class ClaimsError(ValueError):
    """The signed payload does not follow the claim format."""


@dataclass(frozen=True, slots=True)
class HealthClaims:
    issuer: str
    issued_at: int
    expires_at: int
    colour: Colour
    valid_until: int
    rule_ref: str
    subject_ref: bytes
    masked_name: str | None = None

    def encode(self) -> bytes:
        status: dict[int, Any] = {
            1: int(self.colour),
            2: self.valid_until,
            3: self.rule_ref,
            4: self.subject_ref,
        }
        if self.masked_name:
            status[5] = self.masked_name
        claims = {
            CLAIM_ISS: self.issuer,
            CLAIM_EXP: self.expires_at,
            CLAIM_IAT: self.issued_at,
            CLAIM_STATUS: status,
        }
        encoded: bytes = cbor2.dumps(claims)
        return encoded


@dataclass(frozen=True, slots=True)
class PlaceClaims:
    issuer: str
    issued_at: int
    venue_id: str
    poster_id: str

    def encode(self) -> bytes:
        claims = {
            CLAIM_ISS: self.issuer,
            CLAIM_IAT: self.issued_at,
            CLAIM_PLACE: {1: self.venue_id, 2: self.poster_id},
        }
        encoded: bytes = cbor2.dumps(claims)
        return encoded


def _load_map(payload: bytes) -> dict[Any, Any]:
    try:
        obj = loads_exact(payload)
    except ValueError:
        raise ClaimsError("payload is not a single CBOR item") from None
    if not isinstance(obj, dict):
        raise ClaimsError("payload is not a CBOR map")
    return obj


def _typed(mapping: dict[Any, Any], key: int, kind: type, what: str) -> Any:
    value = mapping.get(key)
    # bool is an int subclass in Python; a CBOR true is never a valid time or colour.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ClaimsError(f"claim {what} is missing or not {kind.__name__}")
    return value


def decode_health_claims(payload: bytes) -> HealthClaims:
    claims = _load_map(payload)
    status = _typed(claims, CLAIM_STATUS, dict, "status")
    colour = _typed(status, 1, int, "status.colour")
    if colour not in COLOUR_VALUES:
        raise ClaimsError(f"unknown colour {colour}")
    masked = status.get(5)
    if masked is not None and not isinstance(masked, str):
        raise ClaimsError("claim status.masked_name is not text")
    return HealthClaims(
        issuer=_typed(claims, CLAIM_ISS, str, "iss"),
        issued_at=_typed(claims, CLAIM_IAT, int, "iat"),
        expires_at=_typed(claims, CLAIM_EXP, int, "exp"),
        colour=Colour(colour),
        valid_until=_typed(status, 2, int, "status.valid_until"),
        rule_ref=_typed(status, 3, str, "status.rule"),
        subject_ref=_typed(status, 4, bytes, "status.ref"),
        masked_name=masked,
    )


def decode_place_claims(payload: bytes) -> PlaceClaims:
    claims = _load_map(payload)
    place = _typed(claims, CLAIM_PLACE, dict, "place")
    return PlaceClaims(
        issuer=_typed(claims, CLAIM_ISS, str, "iss"),
        issued_at=_typed(claims, CLAIM_IAT, int, "iat"),
        venue_id=_typed(place, 1, str, "place.venue"),
        poster_id=_typed(place, 2, str, "place.poster"),
    )
