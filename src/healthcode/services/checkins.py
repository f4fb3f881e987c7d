"""Check-in, three ways: a resident scans a poster, a venue device scans a health code, or an
offline device uploads its scans later. Each records (pseudonym, venue, time in, time out).

Check-ins are personal data under retention, not log entries; an upload is logged with counts.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace

from healthcode.domain.accounts import token_hash
from healthcode.domain.audit import Actor, LogEntry
from healthcode.domain.checkins import (
    DAILY_CAP,
    DAY,
    CheckIn,
    CheckInSource,
    check_out,
    new_checkin,
)
from healthcode.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from healthcode.services.auth import live_resident
from healthcode.services.context import ServiceContext
from healthcode.services.emergency import require_emergency
from healthcode.services.group_commit import Together, group_commit
from healthcode.services.keys import trust_store
from healthcode.services.ports import CheckInSight, CheckInStream, SightAsk, UnitOfWork, Venue
from healthcode.services.venues import (
    PlaceCodeCheck,
    place_claims,
    poster_check,
    poster_named,
    refuse_unless_ok,
    require_place_code,
)
from healthcode.services.verify import verify_policy
from healthcode.verifier.claims import HealthClaims, PlaceClaims
from healthcode.verifier.trustlist import TrustStore
from healthcode.verifier.verify import Decision, Verdict, VerifyPolicy, verify_health_code

MAX_BATCH = 1000
CHECK_IN = "resident.checkin"
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
UPLOAD_BASIS = "public_health_emergency_act"


@dataclass(frozen=True, slots=True)
class UploadItem:
    client_id: str
    code: str
    scanned_at: int


@dataclass(frozen=True, slots=True)
class Rejected:
    client_id: str
    reason: str


@dataclass
class UploadReport:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ScanResult:
    verdict: Verdict
    recorded: bool


def _resident(uow: UnitOfWork, subject_id: str) -> None:
    subject = uow.subjects.get(subject_id)
    if subject is None or subject.erased_at is not None:
        raise NotFound("no such resident", field="subject_id")


def _under_cap(uow: UnitOfWork, subject_id: str, now: int) -> bool:
    """Flood guard (RL-1): at most DAILY_CAP check-ins in any 24 hours per person."""
    return uow.checkins.count_since(subject_id, now - DAY) < DAILY_CAP


def _venue(uow: UnitOfWork, venue_id: str) -> Venue:
    venue = uow.venues.get(venue_id)
    if venue is None:
        raise NotFound("no such venue", field="venue_id")
    return venue


def check_in_at_place(
    ctx: ServiceContext, subject_id: str, place_code: str, dependants: Sequence[str] = ()
) -> list[CheckIn]:
    """The resident scanned a poster; dependants they hold check in with them. Committed
    together with the other check-ins of the moment (services/group_commit.py), or, in a
    cluster with an ingest buffer, published to it; answered once durable."""
    if ctx.ingest is not None:
        stream = ctx.ingest

        def streamed() -> list[CheckIn]:
            with ctx.uow(read_only=True) as uow:
                made = _check_in(ctx, uow, subject_id, place_code, dependants, write=False)
            stream.publish(made)
            return made

        return streamed()
    return group_commit(ctx.uow).run(
        lambda uow: _check_in(ctx, uow, subject_id, place_code, dependants)
    )


def check_in_own(
    ctx: ServiceContext,
    token: str,
    subject_id: str,
    place_code: str,
    dependants: Sequence[str] = (),
) -> Future[list[CheckIn] | None]:
    """The hot path of a check-in: the session, the access gate (the resident themselves),
    the poster and the write in one transaction, committed with the other check-ins of the
    moment, which read together in one round trip and write together in another
    (`_own_check_ins`). Resolves to None when the caller is anyone but a signed-in resident
    checking in themselves: the caller then takes the general path (sign-in, the gate,
    check_in_at_place), which answers those cases as it always has."""
    asked = _Own(token, subject_id, place_code, tuple(dict.fromkeys(dependants)))
    if ctx.ingest is not None:  # checked by reads alone, then published to the buffer
        checked = group_commit(ctx.uow).submit(_own_work(ctx, asked, write=False))
        return _then_publish(ctx.ingest, checked)
    return group_commit(ctx.uow).submit(_own_work(ctx, asked, write=True))


@dataclass(frozen=True, slots=True)
class _Own:
    """A resident's own check-in, as asked."""

    token: str
    subject_id: str
    place_code: str
    dependants: tuple[str, ...]


def _own_work(
    ctx: ServiceContext, asked: _Own, *, write: bool
) -> Together[_Own, list[CheckIn] | None]:
    def run(uow: UnitOfWork, asks: list[_Own]) -> list[list[CheckIn] | DomainError | None]:
        return _own_check_ins(ctx, uow, asks, write=write)

    return Together((CHECK_IN, id(ctx), write), run, asked)


def _own_check_ins(
    ctx: ServiceContext, uow: UnitOfWork, asks: list[_Own], *, write: bool
) -> list[list[CheckIn] | DomainError | None]:
    """Residents' own check-ins of one moment: what each needs read in one round trip
    (session, person, venue, poster, the last 24 hours; with the transaction's sunset lock and
    marker and the trust lists' versions), each judged on its own (a refusal is
    its answer alone), then every accepted one written in one more round trip. The daily cap
    counts the rows of this batch as the database would count them had each been written in
    turn. `write` False: judged only (the caller publishes them to the ingest buffer)."""
    now = ctx.clock.now()
    # The poster each code names: known for a code this process has admitted before, which is
    # verified again once the trust lists' versions came in the round trip of the reads; a
    # code new to the process is verified first (that reads the versions on its own).
    named = [poster_named(ask.place_code) for ask in asks]
    first = {
        at: place_claims(ctx, uow, ask.place_code, now)
        for at, ask in enumerate(asks)
        if named[at] is None
    }
    posters = [found or _poster_of(first[at]) for at, found in enumerate(named)]
    sights = uow.checkin_sight.read_many(
        [
            SightAsk(token_hash(ask.token), ask.subject_id, *poster, now - DAY)
            for ask, poster in zip(asks, posters, strict=True)
        ]
    )
    claims = [
        first[at] if at in first else place_claims(ctx, uow, ask.place_code, now)
        for at, ask in enumerate(asks)
    ]
    added: Counter[str] = Counter()  # this batch's check-ins, by person
    answers: list[list[CheckIn] | DomainError | None] = []
    for ask, claim, poster, sight in zip(asks, claims, posters, sights, strict=True):
        read = sight if _read_for(claim, poster) else None  # None: the general path
        try:
            made = _judge_own(ctx, uow, ask, claim, read, added, now)
        except DomainError as refused:
            answers.append(refused)
            continue
        answers.append(made)
        added.update(checkin.subject_id for checkin in made or ())
    accepted = [checkin for made in answers if isinstance(made, list) for checkin in made]
    if write and accepted:
        uow.checkins.add_all(accepted)
    return answers


def _poster_of(claims: PlaceClaims | PlaceCodeCheck) -> tuple[str, str]:
    """The venue and poster a genuine place code names ("", "": none, for a refused one)."""
    if isinstance(claims, PlaceCodeCheck):
        return "", ""
    return claims.venue_id, claims.poster_id


def _read_for(claims: PlaceClaims | PlaceCodeCheck, poster: tuple[str, str]) -> bool:
    """Was the poster read the one these claims name (a refused code needs none)? Always, as
    a code names one poster whenever it is decoded; should it not be, the check-in takes the
    general path rather than be judged by another poster's row."""
    return isinstance(claims, PlaceCodeCheck) or _poster_of(claims) == poster


def _judge_own(
    ctx: ServiceContext,
    uow: UnitOfWork,
    ask: _Own,
    claims: PlaceClaims | PlaceCodeCheck,
    sight: CheckInSight | None,
    added: Counter[str],
    now: int,
) -> list[CheckIn] | None:
    """One resident's own check-in, judged from what was read (None: the general path's to
    answer); raises the refusal. Nothing is written here."""
    if sight is None:  # more keyed days than one statement counts: the general path
        return None
    principal = live_resident(ctx, sight.session, sight.subject_alive, now, CHECK_IN)
    if principal is None or principal.ref != ask.subject_id:
        return None  # the general path answers (who may not check in hears it first)
    if isinstance(claims, PlaceCodeCheck):
        refuse_unless_ok(claims)
    venue = refuse_unless_ok(poster_check(sight.venue, sight.poster, now)).venue
    assert venue is not None  # noqa: S101 - an accepted poster has its venue
    return _made(uow, ask.subject_id, venue, ask.dependants, now, sight.recent, added)


def _then_publish(
    stream: CheckInStream, checked: Future[list[CheckIn] | None]
) -> Future[list[CheckIn] | None]:
    """The check-ins `checked` resolves to, published to the ingest buffer; resolved once the
    stream holds them (or with the check's or the publication's error). The checks ran in the
    transactions of the moment's other check-ins (group commit: reads only, nothing written),
    which costs far less than a read transaction each."""
    out: Future[list[CheckIn] | None] = Future()

    def publish(done: Future[list[CheckIn] | None]) -> None:
        try:
            handed_on(done)
        except BaseException as failed:  # a callback's error would be lost: the caller's now
            if not out.done():
                out.set_exception(failed)

    def handed_on(done: Future[list[CheckIn] | None]) -> None:
        error = done.exception()
        if error is not None:
            out.set_exception(error)
            return
        made = done.result()
        if made is None:
            out.set_result(None)
            return

        def sent(published: Future[None]) -> None:
            failed = published.exception()
            if failed is not None:
                out.set_exception(failed)
            else:
                out.set_result(made)

        stream.submit(made).add_done_callback(sent)

    checked.add_done_callback(publish)
    return out


def _check_in(
    ctx: ServiceContext,
    uow: UnitOfWork,
    subject_id: str,
    place_code: str,
    dependants: Sequence[str],
    now: int | None = None,
    *,
    write: bool = True,
) -> list[CheckIn]:
    now = ctx.clock.now() if now is None else now
    venue = require_place_code(ctx, place_code, uow, now).venue
    assert venue is not None  # noqa: S101 - an accepted place code has its venue
    require_emergency(uow)  # after the sunset: 409, before "no such resident" (all are erased)
    _resident(uow, subject_id)
    return _record(uow, subject_id, venue, dependants, now, write=write)


def _over_cap() -> Conflict:
    return Conflict(
        "more than %(daily_cap)s check-ins in 24 hours",
        field="subject_id",
        code="daily_cap",
        params={"daily_cap": DAILY_CAP},
    )


def _record(
    uow: UnitOfWork,
    subject_id: str,
    venue: Venue,
    dependants: Sequence[str],
    now: int,
    *,
    write: bool = True,  # False: the caller publishes them to the ingest buffer
) -> list[CheckIn]:
    """The check-ins `_made` accepts, written."""
    made = _made(uow, subject_id, venue, dependants, now)
    if write:
        uow.checkins.add_all(made)
    return made


def _made(
    uow: UnitOfWork,
    subject_id: str,
    venue: Venue,
    dependants: Sequence[str],
    now: int,
    recent: int | None = None,
    added: Counter[str] | None = None,
) -> list[CheckIn]:
    """The emergency still on, the dependants theirs and everyone under the cap: the check-ins
    (not written; everything that may refuse comes before the first write). `recent`: the
    resident's own count of the last 24 hours, if read already; `added`: check-ins of the same
    transaction not written yet, by person (a group commit's batch), counted as if they were."""
    require_emergency(uow)
    for dependant in dependants:
        if not uow.subjects.is_guardian_of(subject_id, dependant):
            raise NotFound("no such dependant of this resident", field="dependants")
    added = added or Counter()
    people = [subject_id, *dict.fromkeys(dependants)]
    for person in people:
        if person == subject_id and recent is not None:
            stored = recent
        else:
            stored = uow.checkins.count_since(person, now - DAY)
        if stored + added[person] >= DAILY_CAP:
            raise _over_cap()
    return [
        new_checkin(venue.venue_id, venue.draft.venue_type, person, now, CheckInSource.PLACE_SCAN)
        for person in people
    ]


def store_streamed(ctx: ServiceContext, found: list[CheckIn]) -> int:
    """A consumer of the ingest buffer: these check-ins, checked when they were published,
    written in one transaction; those stored already (a message delivered again) and those of
    people erased since are skipped. How many were added."""
    with ctx.uow() as uow:
        added = uow.checkins.add_new(found)
        uow.commit()
    return added


def leave(ctx: ServiceContext, subject_id: str, venue_id: str, checkin_id: str) -> CheckIn:
    """Check out. Only the person who checked in can; missing and foreign look the same."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        checkin = uow.checkins.get(venue_id, checkin_id)
        if checkin is None or checkin.subject_id != subject_id:
            raise NotFound("no such check-in", field="checkin_id")
        time_out = check_out(checkin, now)
        uow.checkins.set_time_out(checkin, time_out)
        uow.commit()
    return replace(checkin, time_out=time_out)


def _subject_of(ctx: ServiceContext, verdict: Verdict) -> str | None:
    """Our own city's codes carry a sealed reference we can open; other cities' cannot be
    linked to anyone here, so they are verified but not recorded."""
    claims = verdict.claims
    if not isinstance(claims, HealthClaims) or claims.issuer != ctx.policy.city:
        return None
    return ctx.keys.open_subject(claims.subject_ref)


def scan_health_code(ctx: ServiceContext, venue_id: str, code: str) -> ScanResult:
    """A venue device scanned a visitor's code: the guard's answer, and a check-in on admit."""
    now = ctx.clock.now()
    verdict = verify_health_code(code, trust_store(ctx), now, verify_policy(ctx))
    with ctx.uow() as uow:
        require_emergency(uow)
        venue = _venue(uow, venue_id)
        subject = _subject_of(ctx, verdict) if verdict.decision is Decision.ADMIT else None
        if (
            subject is None
            or uow.subjects.get(subject) is None
            or not _under_cap(uow, subject, now)
        ):
            return ScanResult(verdict, recorded=False)
        uow.checkins.add(
            new_checkin(venue_id, venue.draft.venue_type, subject, now, CheckInSource.CODE_SCAN)
        )
        uow.commit()
    return ScanResult(verdict, recorded=True)


def _check_items(items: Sequence[UploadItem]) -> None:
    if len(items) > MAX_BATCH:
        raise InvalidInput(
            "at most %(max_batch)s scans per upload",
            field="items",
            code="too_many",
            params={"max_batch": MAX_BATCH},
        )
    for index, item in enumerate(items):
        if not CLIENT_ID.match(item.client_id):
            raise InvalidInput(
                "client_id is 8 to 64 letters, digits, '-' or '_'",
                field=f"items.{index}.client_id",
                code="client_id",
            )


def upload_scans(ctx: ServiceContext, venue_id: str, items: Sequence[UploadItem]) -> UploadReport:
    """An offline device's scans: idempotent by client id, any order, each refusal reported."""
    _check_items(items)
    now = ctx.clock.now()
    store, policy = trust_store(ctx), verify_policy(ctx)
    report = UploadReport()
    with ctx.uow() as uow:
        require_emergency(uow)
        venue = _venue(uow, venue_id)
        seen = uow.checkins.client_ids(venue_id, [item.client_id for item in items])
        for item in sorted(items, key=lambda i: i.scanned_at):
            if item.client_id in seen:
                report.duplicates.append(item.client_id)
                continue
            subject, reason = _judge_scan(ctx, uow, item, now, store, policy)
            if subject is None:
                report.rejected.append(Rejected(item.client_id, reason))
                continue
            uow.checkins.add(
                new_checkin(
                    venue_id,
                    venue.draft.venue_type,
                    subject,
                    item.scanned_at,
                    CheckInSource.DEVICE_BATCH,
                    item.client_id,
                )
            )
            seen.add(item.client_id)
            report.accepted.append(item.client_id)
        uow.log.append(
            LogEntry(
                "checkins.uploaded",
                Actor("venue_device", venue_id),
                "venue",
                venue_id,
                "contact_tracing",
                UPLOAD_BASIS,
                details={
                    "accepted": len(report.accepted),
                    "duplicates": len(report.duplicates),
                    "rejected": len(report.rejected),
                },
            ),
            now,
        )
        uow.commit()
    return report


def _judge_scan(
    ctx: ServiceContext,
    uow: UnitOfWork,
    item: UploadItem,
    now: int,
    store: TrustStore,
    policy: VerifyPolicy,
) -> tuple[str | None, str]:
    """(subject id to record, "") or (None, why the scan is refused: a stable reason code)."""
    if item.scanned_at > now + ctx.policy.clock_skew_seconds:
        return None, "scanned_in_the_future"
    if item.scanned_at < now - ctx.retention.days * DAY:
        return None, "too_old"  # it would already be past retention
    # The code is judged as the device saw it: at the time of the scan.
    verdict = verify_health_code(item.code, store, item.scanned_at, policy)
    if verdict.decision is not Decision.ADMIT:
        return None, f"{verdict.decision.value}:{verdict.reason.value}"
    subject = _subject_of(ctx, verdict)
    if subject is None or uow.subjects.get(subject) is None:
        return None, "not_our_resident"
    if not _under_cap(uow, subject, item.scanned_at):
        return None, "daily_cap"
    return subject, ""


def my_checkins(ctx: ServiceContext, subject_id: str, days: int | None = None) -> list[CheckIn]:
    """A person's own check-ins, for the retention period (or the last `days` days)."""
    now = ctx.clock.now()
    days = ctx.retention.days if days is None else days
    with ctx.uow(read_only=True) as uow:
        _resident(uow, subject_id)
        return uow.checkins.of_subject(subject_id, now - days * DAY)
