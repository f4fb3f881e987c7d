"""Venue registration, posters (signed place codes), rotation, and checking a scanned place code."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from healthcode.domain.audit import Actor, LogEntry
from healthcode.domain.errors import InvalidInput, NotFound
from healthcode.domain.keys import KeyUse
from healthcode.domain.venues import (
    Poster,
    VenueDraft,
    new_poster_id,
    new_venue_id,
    supersede,
    validate_venue,
)
from healthcode.services.context import ServiceContext
from healthcode.services.keys import signing_key, trust_store_in
from healthcode.services.ports import UnitOfWork, Venue
from healthcode.verifier.claims import PlaceClaims
from healthcode.verifier.envelope import PLACE_CODE_PREFIX, wrap
from healthcode.verifier.verify import Decision, Verdict, verify_place_code

VENUE_BASIS = "public_health_emergency_act"


@dataclass(frozen=True, slots=True)
class RegisterVenue:
    name_zh: str | None
    name_en: str | None
    address: str
    district: str
    venue_type: str
    operator: str


@dataclass(frozen=True, slots=True)
class VenueWithPoster:
    venue: Venue
    poster: Poster


class PlaceCodeProblem(StrEnum):
    """Why a scanned place code is refused (stable codes for clients)."""

    INVALID = "invalid"  # framing, signature, key: see `detail`
    UNKNOWN_POSTER = "unknown_poster"
    ROTATED_OUT = "rotated_out"


@dataclass(frozen=True, slots=True)
class PlaceCodeCheck:
    ok: bool
    problem: PlaceCodeProblem | None = None
    detail: str | None = None
    venue: Venue | None = None
    poster: Poster | None = None


def _issue_poster(ctx: ServiceContext, uow: UnitOfWork, venue_id: str, now: int) -> Poster:
    key = signing_key(uow, KeyUse.PLACE, now)
    poster_id = new_poster_id()
    claims = PlaceClaims(ctx.policy.city, now, venue_id, poster_id)
    payload = wrap(PLACE_CODE_PREFIX, ctx.keys.sign_cose(key.kid, claims.encode()))
    poster = Poster(venue_id, poster_id, key.kid, payload, now)
    uow.venues.add_poster(poster)
    return poster


def register_venue(ctx: ServiceContext, cmd: RegisterVenue, actor: Actor) -> VenueWithPoster:
    draft: VenueDraft = validate_venue(
        name_zh=cmd.name_zh,
        name_en=cmd.name_en,
        address=cmd.address,
        district=cmd.district,
        venue_type=cmd.venue_type,
        operator=cmd.operator,
    )
    now = ctx.clock.now()
    with ctx.uow() as uow:
        venue = Venue(new_venue_id(), draft, now)
        uow.venues.add(venue)
        poster = _issue_poster(ctx, uow, venue.venue_id, now)
        uow.log.append(
            LogEntry(
                "venue.registered",
                actor,
                "venue",
                venue.venue_id,
                "venue_registration",
                VENUE_BASIS,
                details={"poster": poster.poster_id, "type": draft.venue_type.value},
            ),
            now,
        )
        uow.commit()
    return VenueWithPoster(venue, poster)


def rotate_poster(ctx: ServiceContext, venue_id: str, actor: Actor) -> VenueWithPoster:
    """A new poster; the old one keeps working for the grace period, then is refused."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        venue = uow.venues.get(venue_id)
        if venue is None:
            raise NotFound("no such venue", field="venue_id")
        old = uow.venues.current_poster(venue_id)
        if old is not None:
            uow.venues.supersede_poster(supersede(old, now, ctx.policy.poster_grace_seconds))
        poster = _issue_poster(ctx, uow, venue_id, now)
        uow.log.append(
            LogEntry(
                "poster.rotated",
                actor,
                "venue",
                venue_id,
                "venue_registration",
                VENUE_BASIS,
                details={
                    "new": poster.poster_id,
                    "old": old.poster_id if old else "none",
                    "grace_seconds": ctx.policy.poster_grace_seconds,
                },
            ),
            now,
        )
        uow.commit()
    return VenueWithPoster(venue, poster)


def names_within(uow: UnitOfWork, venue_ids: Iterable[str], chinese: bool = True) -> dict[str, str]:
    """Each venue's name (what its poster shows anyone), in Chinese or English first, the other
    as a fallback; an unknown venue is named by its id. Inside the caller's transaction."""
    names: dict[str, str] = {}
    for venue_id in dict.fromkeys(venue_ids):
        venue = uow.venues.get(venue_id)
        if venue is None:
            names[venue_id] = venue_id
            continue
        d = venue.draft
        first, second = (d.name_zh, d.name_en) if chinese else (d.name_en, d.name_zh)
        names[venue_id] = first or second or venue_id
    return names


def venue_names(
    ctx: ServiceContext, venue_ids: Iterable[str], chinese: bool = True
) -> dict[str, str]:
    """`names_within`, in one read transaction of its own."""
    with ctx.uow(read_only=True) as uow:
        return names_within(uow, venue_ids, chinese)


def venue_with_poster(ctx: ServiceContext, venue_id: str) -> VenueWithPoster:
    """The venue as its own page shows it: with its operator."""
    with ctx.uow(read_only=True) as uow:
        venue = uow.venues.get(venue_id, with_operator=True)
        poster = uow.venues.current_poster(venue_id) if venue else None
    if venue is None or poster is None:
        raise NotFound("no such venue", field="venue_id")
    return VenueWithPoster(venue, poster)


def check_place_code(ctx: ServiceContext, text: str) -> PlaceCodeCheck:
    """Is this scanned poster genuine and current? Signature first, then our poster records."""
    # One read transaction for the trust list and our poster records.
    with ctx.uow(read_only=True) as uow:
        return check_place_code_in(ctx, uow, text, ctx.clock.now())


# Verified place codes, by (text, trust-list versions): a venue's poster is scanned all day,
# and its signature is the same each time. An entry holds only while `now` is inside the window
# in which that verification admits it (the code's issue time and its key's validity, with the
# allowed skew); a new trust-list version (a key withdrawn or rotated) is a new key.
_VERIFIED: dict[tuple[str, tuple[tuple[str, int, str], ...]], tuple[Verdict, int, int]] = {}
_VERIFIED_MAX = 65_536
# The venue and poster each place code names, for codes this process has verified and admitted
# (under some trust-list version): a check-in reads its poster in the same round trip as the
# trust lists' versions it is then verified against (services/checkins.py), so the ids come
# from here, never from a payload no signature has covered yet (verifier/verify.py).
_NAMED: dict[str, tuple[str, str]] = {}


def poster_named(text: str) -> tuple[str, str] | None:
    """(venue id, poster id) of a place code this process has admitted before; None for a code
    it has not (verify it: `place_claims`). Not a verdict: the code is verified again, against
    the current trust lists, before anything is done with it."""
    return _NAMED.get(text)


def _name(text: str, admitted: Verdict) -> None:
    """Remember the poster an admitted place code names (`poster_named`)."""
    if text in _NAMED or not isinstance(admitted.claims, PlaceClaims):
        return
    if len(_NAMED) >= _VERIFIED_MAX:
        _NAMED.clear()
    _NAMED[text] = (admitted.claims.venue_id, admitted.claims.poster_id)


def _place_verdict(uow: UnitOfWork, text: str, now: int, skew: int) -> Verdict:
    versions = tuple(uow.trust_lists.latest_versions())
    held = _VERIFIED.get((text, versions))
    if held is not None and held[1] <= now <= held[2]:
        _name(text, held[0])
        return held[0]
    store = trust_store_in(uow)
    verdict = verify_place_code(text, store, now, skew)
    if verdict.decision is Decision.ADMIT and isinstance(verdict.claims, PlaceClaims):
        assert verdict.kid is not None  # noqa: S101 - an admitted code names its key
        keys = store.keys_for(bytes.fromhex(verdict.kid), "place")
        if len(keys) == 1 and keys[0].withdrawn_at is None:
            lo = verdict.claims.issued_at - skew
            if len(_VERIFIED) >= _VERIFIED_MAX:
                _VERIFIED.clear()
            _VERIFIED[(text, versions)] = (verdict, lo, keys[0].not_after + skew)
        _name(text, verdict)
    return verdict


def check_place_code_in(
    ctx: ServiceContext, uow: UnitOfWork, text: str, now: int
) -> PlaceCodeCheck:
    """`check_place_code` in the caller's transaction (a check-in's own)."""
    claims = place_claims(ctx, uow, text, now)
    if isinstance(claims, PlaceCodeCheck):
        return claims
    venue = uow.venues.get(claims.venue_id)
    poster = uow.venues.get_poster(claims.venue_id, claims.poster_id)
    return poster_check(venue, poster, now)


def place_claims(
    ctx: ServiceContext, uow: UnitOfWork, text: str, now: int
) -> PlaceClaims | PlaceCodeCheck:
    """The claims of a genuine place code of this city, or the refusal (a failed check)."""
    verdict = _place_verdict(uow, text, now, ctx.policy.clock_skew_seconds)
    if verdict.decision is not Decision.ADMIT or not isinstance(verdict.claims, PlaceClaims):
        return PlaceCodeCheck(False, PlaceCodeProblem.INVALID, verdict.reason.value)
    if verdict.claims.issuer != ctx.policy.city:
        return PlaceCodeCheck(False, PlaceCodeProblem.UNKNOWN_POSTER, "another city's poster")
    return verdict.claims


def poster_check(venue: Venue | None, poster: Poster | None, now: int) -> PlaceCodeCheck:
    """Is the poster a place code names ours and still current?"""
    if venue is None or poster is None:
        return PlaceCodeCheck(False, PlaceCodeProblem.UNKNOWN_POSTER, "no such poster")
    if not poster.accepts_at(now):
        return PlaceCodeCheck(
            False,
            PlaceCodeProblem.ROTATED_OUT,
            "this poster was replaced; scan the new one",
            venue,
            poster,
        )
    return PlaceCodeCheck(True, None, None, venue, poster)


def require_place_code(
    ctx: ServiceContext, text: str, uow: UnitOfWork | None = None, now: int | None = None
) -> PlaceCodeCheck:
    """`check_place_code` for callers that must refuse: a bad code is the caller's input error.
    In the caller's transaction if one is given."""
    if uow is None:
        result = check_place_code(ctx, text)
    else:
        result = check_place_code_in(ctx, uow, text, ctx.clock.now() if now is None else now)
    return refuse_unless_ok(result)


def refuse_unless_ok(result: PlaceCodeCheck) -> PlaceCodeCheck:
    """A failed check as the caller's input error."""
    if not result.ok:
        raise InvalidInput(
            "place code refused: %(problem)s: %(detail)s",
            field="place_code",
            code=str(result.problem),
            params={"problem": result.problem, "detail": result.detail},
        )
    return result
