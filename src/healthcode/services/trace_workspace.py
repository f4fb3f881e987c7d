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
from healthcode.domain.errors import InvalidInput
from healthcode.services.access import access_case
from healthcode.services.auth import actor_of
from healthcode.services.context import ServiceContext
from healthcode.services.ports import StoredExposure, UnitOfWork, contacts_found
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
    stored = uow.statuses.get_many(sorted({e.subject_id for e in exposures}))
    colours = {
        s: stored[s].colour if s in stored else "green" for s in {e.subject_id for e in exposures}
    }
    return exposures, names, colours, ZoneInfo(zone)


def _day(epoch: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, tz).date().isoformat()


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
    now = ctx.clock.now()
    with ctx.uow() as uow:
        access_case(uow, principal, case_id, "case.trace")
        exposures, names, colours, tz = _rows(uow, case_id, zone, chinese)
        chosen = _matching(exposures, colours, tz, filters)
        by_person: dict[str, list[StoredExposure]] = {}
        for e in chosen:
            by_person.setdefault(e.subject_id, []).append(e)
        grouped: dict[tuple[str, str], list[tuple[StoredExposure, int]]] = {}
        for found in by_person.values():  # each person once, by their longest exposure
            best = max(found, key=lambda e: (e.level == "close", e.end - e.start, -e.start))
            grouped.setdefault((best.venue_id, best.source_checkin_id), []).append(
                (best, len(found) - 1)
            )
        order = sorted(
            grouped.items(), key=lambda kv: (-len(kv[1]), min(e.start for e, _ in kv[1]))
        )
        flat = [
            (key, e, more)
            for key, found in order
            for e, more in sorted(
                found, key=lambda f: (f[0].level != "close", f[0].start, f[0].subject_id)
            )
        ]
        pages = max(1, math.ceil(len(flat) / PAGE))
        page = min(max(1, page), pages)
        groups: list[VisitGroup] = []
        for (venue_id, source), e, more in flat[(page - 1) * PAGE : page * PAGE]:
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
    close, secondary = contacts_found(exposures)
    return ContactsPage(
        case_id, groups, page, pages, len(by_person), len(close), len(secondary),
        sorted(names.items(), key=lambda kv: kv[1]), sorted({_day(e.start, tz) for e in exposures}),
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
