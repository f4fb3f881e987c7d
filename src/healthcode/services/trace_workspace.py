"""The tracer's workspace: a traced case's contacts as its trace stored them, grouped by venue and
visit, filtered and paged, and exported as CSV.

A case with thousands of contacts is read a page at a time: each contact once (by the longest of
the exposures that found them, with a count of the others), grouped by the visit that found
them (a venue and the case's, or the close contact's, check-in), the largest group first,
`PAGE` contacts a page, filtered by level, venue, day (the city's calendar) and the contact's
colour now. Only the case's assigned officers and health officers see it (the same
gate as tracing it). Each view puts one entry on the log (`case.contacts_read`: the case, how
many contacts were shown); an export puts one with the purpose the officer chose from a closed
list (`case.contacts_exported`: the public log holds tokens, never free text)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from healthcode.domain.accounts import Principal
from healthcode.domain.audit import LogEntry
from healthcode.domain.calendar import day_start
from healthcode.domain.errors import InvalidInput
from healthcode.services.access import access_case
from healthcode.services.auth import actor_of
from healthcode.services.context import ServiceContext
from healthcode.services.ports import (
    EVERY_EXPOSURE,
    ExposureQuery,
    PersonExposures,
    StoredExposure,
    UnitOfWork,
)
from healthcode.services.trace import TRACE_BASIS
from healthcode.services.venues import names_within

PAGE = 100  # contacts a page
# Why contacts may leave the system in a file, as the log names it.
PURPOSES = (
    "district_handover",  # to the district's disease-control centre, for its follow-up
    "quarantine_logistics",  # arranging quarantine places and supplies
    "testing_campaign",  # arranging the contacts' tests
    "case_review",  # the health authority's review of the case
)


@dataclass(frozen=True, slots=True)
class Filters:
    level: str = ""  # close | secondary | "" (both)
    venue_id: str = ""
    day: str = ""  # YYYY-MM-DD, the city's calendar
    colour: str = ""  # green | yellow | red | "" (any)

    def __post_init__(self) -> None:
        if self.level not in ("", "close", "secondary"):
            raise InvalidInput("close, secondary or both", field="level")
        if self.colour not in ("", "green", "yellow", "red"):
            raise InvalidInput("green, yellow, red or any", field="colour")
        if self.day:
            try:
                date.fromisoformat(self.day)
            except ValueError:
                raise InvalidInput("a day as YYYY-MM-DD", field="day") from None


@dataclass(frozen=True, slots=True)
class ContactRow:
    subject_id: str
    level: str
    start: int
    end: int
    minutes: int
    colour: str  # now
    via: str | None  # for a secondary contact: the close contact they met
    more: int = 0  # other exposures of theirs in this case (other visits, other levels)


@dataclass(frozen=True, slots=True)
class VisitGroup:
    venue_id: str
    venue_name: str
    day: str
    source_checkin: str  # the check-in of the case (or close contact) that found them
    contacts: list[ContactRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ContactsPage:
    case_id: str
    groups: list[VisitGroup]
    page: int
    pages: int
    matching: int  # contacts (people) matching the filters, on every page
    close: int  # all the case's close contacts (distinct people)
    secondary: int
    venues: list[tuple[str, str]]  # (id, name) of every venue, for the filter
    days: list[str]


def _rows(
    uow: UnitOfWork, case_id: str, zone: str, chinese: bool
) -> tuple[list[StoredExposure], dict[str, str], dict[str, str], ZoneInfo]:
    exposures = [e for e in uow.exposures.of_case(case_id) if e.withdrawn_at is None]
    names = names_within(uow, sorted({e.venue_id for e in exposures}), chinese)
    return exposures, names, _colours(uow, {e.subject_id for e in exposures}), ZoneInfo(zone)


def _colours(uow: UnitOfWork, people: Iterable[str]) -> dict[str, str]:
    """Each person's colour now (green where no status is stored)."""
    stored = uow.statuses.get_many(sorted(people))
    return {s: stored[s].colour if s in stored else "green" for s in people}


def _day(epoch: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, tz).date().isoformat()


def _query(f: Filters, tz: ZoneInfo) -> ExposureQuery:
    """The filters but colour, as the database asks them (a day: its hours in the city)."""
    if not f.day:
        return ExposureQuery(f.level, f.venue_id)
    day = date.fromisoformat(f.day)
    after = date.fromordinal(day.toordinal() + 1)
    return ExposureQuery(f.level, f.venue_id, day_start(tz.key, day), day_start(tz.key, after))


def _matching(
    exposures: Iterable[StoredExposure], colours: dict[str, str], tz: ZoneInfo, f: Filters
) -> list[StoredExposure]:
    return [
        e
        for e in exposures
        if (not f.level or e.level == f.level)
        and (not f.venue_id or e.venue_id == f.venue_id)
        and (not f.day or _day(e.start, tz) == f.day)
        and (not f.colour or colours[e.subject_id] == f.colour)
    ]


def contacts_page(
    ctx: ServiceContext,
    principal: Principal,
    case_id: str,
    zone: str,
    filters: Filters,
    page: int = 1,
    chinese: bool = True,
) -> ContactsPage:
    """One page of the case's contacts. The database gives each person once (their best
    exposure and how many they have: ExposureRepository.people_of_cases), so a page of a case
    with 2,000 contacts opens 2,000 sealed rows, not the 20,000 exposures behind them."""
    now = ctx.clock.now()
    tz = ZoneInfo(zone)
    with ctx.uow() as uow:
        access_case(uow, principal, case_id, "case.trace")
        everyone = uow.exposures.people_of_cases([case_id])[case_id]
        query = _query(filters, tz)
        chosen = (
            everyone
            if query == EVERY_EXPOSURE
            else uow.exposures.people_of_cases([case_id], query)[case_id]
        )
        colours: dict[str, str] = {}
        if filters.colour:  # everyone's colour now; else only the page's (below)
            colours = _colours(uow, {p.best.subject_id for p in chosen})
            chosen = [p for p in chosen if colours[p.best.subject_id] == filters.colour]
        places = uow.exposures.venue_times(case_id)
        names = names_within(uow, sorted({venue for venue, _ in places}), chinese)
        grouped: dict[tuple[str, str], list[PersonExposures]] = {}
        for person in chosen:  # each person once, by their best exposure
            grouped.setdefault((person.best.venue_id, person.best.source_checkin_id), []).append(
                person
            )
        order = sorted(
            grouped.items(), key=lambda kv: (-len(kv[1]), min(p.best.start for p in kv[1]))
        )
        flat = [
            (key, p.best, p.count - 1)
            for key, found in order
            for p in sorted(
                found, key=lambda p: (p.best.level != "close", p.best.start, p.best.subject_id)
            )
        ]
        pages = max(1, math.ceil(len(flat) / PAGE))
        page = min(max(1, page), pages)
        groups: list[VisitGroup] = []
        on_page = flat[(page - 1) * PAGE : page * PAGE]
        colours = colours or _colours(uow, {e.subject_id for _, e, _ in on_page})
        for (venue_id, source), e, more in on_page:
            if not groups or (groups[-1].venue_id, groups[-1].source_checkin) != (venue_id, source):
                groups.append(VisitGroup(venue_id, names[venue_id], _day(e.start, tz), source))
            groups[-1].contacts.append(
                ContactRow(
                    e.subject_id,
                    e.level,
                    e.start,
                    e.end,
                    max(0, e.end - e.start) // 60,
                    colours[e.subject_id],
                    e.via_subject,
                    more,
                )
            )
        shown = sum(len(g.contacts) for g in groups)
        actor = actor_of(uow, principal)
        uow.log.append(LogEntry("case.contacts_read", actor, "case", case_id, "contact_tracing",
                                TRACE_BASIS, details={"shown": shown}), now)  # fmt: skip
        uow.commit()
    close = sum(1 for p in everyone if p.best.level == "close")
    return ContactsPage(
        case_id, groups, page, pages, len(chosen), close, len(everyone) - close,
        sorted(names.items(), key=lambda kv: kv[1]), sorted({_day(q, tz) for _, q in places}),
    )  # fmt: skip


def contacts_csv(
    ctx: ServiceContext,
    principal: Principal,
    case_id: str,
    zone: str,
    filters: Filters,
    purpose: str,
    chinese: bool = True,
) -> str:
    """Every contact matching the filters as CSV (one row per exposure), logged with the
    purpose the officer chose (one of PURPOSES)."""
    if purpose not in PURPOSES:
        raise InvalidInput(
            "choose why the contacts leave the system: one of %(purposes)s",
            field="purpose",
            params={"purpose": purpose[:40], "purposes": ", ".join(PURPOSES)},
        )
    now = ctx.clock.now()
    with ctx.uow() as uow:
        access_case(uow, principal, case_id, "case.trace")
        exposures, names, colours, tz = _rows(uow, case_id, zone, chinese)
        chosen = sorted(_matching(exposures, colours, tz, filters),
                        key=lambda e: (e.venue_id, e.start, e.subject_id))  # fmt: skip
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["subject_id", "level", "venue_id", "venue", "day", "start", "end",
                         "minutes", "colour_now", "via"])  # fmt: skip
        for e in chosen:
            writer.writerow([
                e.subject_id, e.level, e.venue_id, names[e.venue_id], _day(e.start, tz),
                datetime.fromtimestamp(e.start, tz).isoformat(),
                datetime.fromtimestamp(e.end, tz).isoformat(), max(0, e.end - e.start) // 60,
                colours[e.subject_id], e.via_subject or "",
            ])  # fmt: skip
        actor = actor_of(uow, principal)
        entry = LogEntry(
            "case.contacts_exported",
            actor,
            "case",
            case_id,
            "contact_tracing",
            TRACE_BASIS,
            details={"rows": len(chosen), "purpose": purpose},
        )
        uow.log.append(entry, now)
        uow.commit()
    return out.getvalue()
