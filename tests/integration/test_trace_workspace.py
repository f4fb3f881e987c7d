"""The tracer's workspace on SQLite and PostgreSQL reads each person once
(ExposureRepository.people_of_cases: the database picks each person's best exposure and counts
theirs); what it reads must equal every exposure opened and grouped here, in Python, for any
filter, and the pages, counts, venues and days of contacts_page must follow from that."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from healthcode.bootstrap import App
from healthcode.domain.cases import Case
from healthcode.services import staff
from healthcode.services.ports import (
    EVERY_EXPOSURE,
    ExposureQuery,
    StoredExposure,
    Subject,
    best_first,
)
from healthcode.services.trace_workspace import PAGE, Filters, contacts_page
from tests.conftest import START, staff_principal

DAY, HOUR = 86400, 3600
ZONE = "Asia/Shanghai"
MIDNIGHT = START - START % DAY - 3 * DAY  # a UTC midnight three days before the test clock
CASES = ("kcase0001", "kcase0002")
VENUES = ("vmarket", "vgym", "vcafe")


def sid(n: int) -> str:
    return f"{n:032x}"


def city(app: App, seed: int = 7) -> list[StoredExposure]:
    """Two cases' exposures over three UTC days (so each person's sealed id differs by day),
    several per person, both levels, some withdrawn on appeal; every start is distinct."""
    rng = random.Random(seed)
    found: list[StoredExposure] = []
    for n in range(1200):
        start = MIDNIGHT + rng.randrange(3 * DAY // 60) * 60 + n  # distinct: no ties to break
        level = rng.choice(("close", "close", "secondary"))
        found.append(StoredExposure(
            f"e{n:016x}", sid(rng.randrange(1, 230)), rng.choice(CASES), level,
            rng.choice(VENUES), start, start + rng.randrange(5, 240) * 60, f"c{n:06d}",
            f"s{rng.randrange(4)}", sid(999) if level == "secondary" else None, START,
        ))  # fmt: skip
    with app.ctx.uow() as uow:
        for subject in sorted({e.subject_id for e in found} | {sid(999), sid(1000), sid(1001)}):
            uow.subjects.add(Subject(subject, "resident", 0))
        for number, case_id in enumerate(CASES):
            uow.cases.add_case(Case(case_id, sid(1000 + number), "LAB/T-1", MIDNIGHT,
                                    MIDNIGHT + 3 * DAY, START))  # fmt: skip
        assert len(uow.exposures.add_new(found)) == len(found)
        for e in found[::9]:
            uow.exposures.withdraw(e.exposure_id, f"a{int(e.exposure_id[1:], 16):016x}", START)
        uow.commit()
    withdrawn = {e.exposure_id for e in found[::9]}
    return [e for e in found if e.exposure_id not in withdrawn]


def matches(e: StoredExposure, q: ExposureQuery) -> bool:
    return (
        (not q.level or e.level == q.level)
        and (not q.venue_id or e.venue_id == q.venue_id)
        and (q.start_from is None or e.start >= q.start_from)
        and (q.start_before is None or e.start < q.start_before)
    )


def grouped(live: Iterable[StoredExposure], q: ExposureQuery) -> dict[str, dict[str, tuple]]:
    """The reference: every live exposure matching `q`, grouped by case and person in Python."""
    by: dict[str, dict[str, list[StoredExposure]]] = {c: {} for c in CASES}
    for e in live:
        if matches(e, q):
            by[e.case_id].setdefault(e.subject_id, []).append(e)
    return {
        case_id: {s: (min(found, key=best_first), len(found)) for s, found in people.items()}
        for case_id, people in by.items()
    }


QUERIES = [
    EVERY_EXPOSURE,
    ExposureQuery(level="close"),
    ExposureQuery(level="secondary"),
    ExposureQuery(venue_id="vgym"),
    ExposureQuery(level="close", venue_id="vcafe"),
    ExposureQuery(start_from=MIDNIGHT + DAY - 8 * HOUR, start_before=MIDNIGHT + 2 * DAY - 8 * HOUR),
    ExposureQuery(venue_id="vnowhere"),
]


@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_each_person_once_with_their_best_exposure_and_number(
    app: App, query: ExposureQuery
) -> None:
    live = city(app)
    with app.ctx.uow(read_only=True) as uow:
        assert {e.exposure_id for e in uow.exposures.of_case(CASES[0])} >= {
            e.exposure_id for e in live if e.case_id == CASES[0]
        }  # the reference's source is every exposure, opened
        read = uow.exposures.people_of_cases([*CASES, "kunknown"], query)
    expected = grouped(live, query)
    assert read["kunknown"] == []
    for case_id in CASES:
        assert {p.best.subject_id: (p.best, p.count) for p in read[case_id]} == expected[case_id]
        assert len(read[case_id]) == len(expected[case_id])  # nobody twice (several days)
    if query == EVERY_EXPOSURE:
        assert sum(len(people) for people in expected.values()) > 100
        assert max(n for people in expected.values() for _, n in people.values()) > 3


def test_venue_times_and_the_cases_of_exposures(app: App) -> None:
    live = city(app)
    everyone = {e.exposure_id for e in live}
    with app.ctx.uow(read_only=True) as uow:
        times = uow.exposures.venue_times(CASES[1])
        cases = uow.exposures.cases_of([*sorted(everyone), "e00000000000fffff", "x"])
    assert times == {(e.venue_id, e.start - e.start % 900) for e in live if e.case_id == CASES[1]}
    assert all(t % 900 == 0 for _, t in times)
    assert cases == {e.exposure_id: e.case_id for e in live}


def test_the_workspace_pages_filters_and_counts_follow_every_exposure(app: App) -> None:
    live = city(app)
    officer = staff_principal(app, "health_officer")
    staff.assign_case(app.ctx, staff_principal(app, "health_officer"), CASES[0], officer.ref)
    tz = ZoneInfo(ZONE)
    mine = [e for e in live if e.case_id == CASES[0]]

    def local_day(e: StoredExposure) -> str:
        return datetime.fromtimestamp(e.start, tz).date().isoformat()

    everyone = grouped(mine, EVERY_EXPOSURE)[CASES[0]]
    a_day = local_day(mine[0])
    every_filter = (Filters(), Filters(level="close"), Filters(venue_id="vgym", day=a_day),
                    Filters(day=a_day), Filters(colour="green"), Filters(colour="red"))  # fmt: skip
    for filters in every_filter:
        chosen: dict[str, list[StoredExposure]] = {}
        for e in mine:
            if (
                (not filters.level or e.level == filters.level)
                and (not filters.venue_id or e.venue_id == filters.venue_id)
                and (not filters.day or local_day(e) == filters.day)
                and filters.colour in ("", "green")  # nobody has a stored status: all green
            ):
                chosen.setdefault(e.subject_id, []).append(e)
        first = contacts_page(app.ctx, officer, CASES[0], ZONE, filters)
        rows = [row for g in first.groups for row in g.contacts]
        for page in range(2, first.pages + 1):
            shown = contacts_page(app.ctx, officer, CASES[0], ZONE, filters, page)
            rows += [row for g in shown.groups for row in g.contacts]
        assert first.matching == len(chosen) == len(rows)
        assert sum(len(g.contacts) for g in first.groups) == min(PAGE, len(chosen))
        assert first.pages == max(1, -(-len(chosen) // PAGE))
        assert {r.subject_id: (r.level, r.start, r.more) for r in rows} == {
            s: (min(f, key=best_first).level, min(f, key=best_first).start, len(f) - 1)
            for s, f in chosen.items()
        }
        close = {s for s, (best, _) in everyone.items() if best.level == "close"}
        assert (first.close, first.secondary) == (len(close), len(everyone) - len(close))
        assert {v for v, _ in first.venues} == {e.venue_id for e in mine}
        assert first.days == sorted({local_day(e) for e in mine})
