"""Venues and their posters (place codes).

A venue id and a poster id are random (not enumerable: nobody can walk ids to find venues or
print posters for them). Rotating a poster makes a new one; the old one keeps working for a grace
period so the venue has time to replace the printout, then it is refused.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass, replace
from enum import StrEnum

from healthcode.domain.errors import InvalidInput, parse_choice


class VenueType(StrEnum):
    RESTAURANT = "restaurant"
    SHOP = "shop"
    SUPERMARKET = "supermarket"
    MARKET = "market"
    OFFICE = "office"
    FACTORY = "factory"
    SCHOOL = "school"
    HOSPITAL = "hospital"
    CLINIC = "clinic"
    PHARMACY = "pharmacy"
    TRANSPORT = "transport"
    HOTEL = "hotel"
    WORSHIP = "worship"
    ENTERTAINMENT = "entertainment"
    GYM = "gym"
    RESIDENTIAL = "residential"
    GOVERNMENT = "government"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class VenueDraft:
    name_zh: str | None
    name_en: str | None
    address: str
    district: str
    venue_type: VenueType
    operator: str


@dataclass(frozen=True, slots=True)
class Poster:
    venue_id: str
    poster_id: str
    kid: str
    payload: str
    issued_at: int
    superseded_at: int | None = None
    grace_until: int | None = None

    def accepts_at(self, now: int) -> bool:
        return self.grace_until is None or now <= self.grace_until


def new_venue_id() -> str:
    return "v" + secrets.token_hex(8)


def new_poster_id() -> str:
    return "p" + secrets.token_hex(8)


def _text(value: str | None, field: str, limit: int, *, required: bool) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidInput(
                "%(field)s is required", field=field, code="required", params={"field": field}
            )
        return None
    cleaned = " ".join(value.split())
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise InvalidInput(
            "%(field)s contains control characters",
            field=field,
            code="charset",
            params={"field": field},
        )
    if len(cleaned) > limit:
        raise InvalidInput(
            "%(field)s is longer than %(limit)s characters",
            field=field,
            code="too_long",
            params={"field": field, "limit": limit},
        )
    return cleaned


def validate_venue(
    *,
    name_zh: str | None,
    name_en: str | None,
    address: str,
    district: str,
    venue_type: str,
    operator: str,
) -> VenueDraft:
    zh = _text(name_zh, "name_zh", 80, required=False)
    en = _text(name_en, "name_en", 120, required=False)
    if zh is None and en is None:
        raise InvalidInput(
            "a venue needs a Chinese or an English name (or both)", field="name_zh", code="required"
        )
    kind = parse_choice(
        VenueType, venue_type, field="venue_type", code="unknown_type", what="venue type"
    )
    return VenueDraft(
        name_zh=zh,
        name_en=en,
        address=_text(address, "address", 200, required=True) or "",
        district=_text(district, "district", 40, required=True) or "",
        venue_type=kind,
        operator=_text(operator, "operator", 120, required=True) or "",
    )


def supersede(poster: Poster, now: int, grace_seconds: int) -> Poster:
    return replace(poster, superseded_at=now, grace_until=now + grace_seconds)
