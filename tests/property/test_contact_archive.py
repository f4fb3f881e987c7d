"""The contact archive answers as the database does (adapters/contact_archive.py): on random
cities, every read of a contact search, from DuckDB over the closed days' Parquet files and the
database for the others, equals the database's own answer; visits added to a day after it was
archived are not missed; and a batch traced from the archive finds the same contacts, with the
same evidence, as the cases traced one by one from the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.contact_archive import DuckArchive
from healthcode.bootstrap import App, build, initialise
from healthcode.domain.audit import Actor
from healthcode.domain.cases import Case
from healthcode.domain.checkins import DAY, LONGEST_DWELL, CheckIn, CheckInSource
from healthcode.domain.tracing import Overlapping
from healthcode.services import retention, trace
from healthcode.services.ports import Subject
from healthcode.services.trace_search import SqlVisits
from tests.conftest import START, make_settings, sqlite_app

HOUR = 3600
SPAN_DAYS = 8  # visits over the days before the clock's now: the older ones are archived
TRACER = Actor("tracer", "archive-test")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[App]:
    app = sqlite_app(tmp_path_factory.mktemp("archive"), sqlite_template, contact_archive=True)
    yield app
    app.close()


def _checkin(venue: str, number: str, person: str, start: int, stay: int | None) -> CheckIn:
    closes = start + 4 * HOUR
    time_out = None if stay is None else min(start + stay, closes)
    return CheckIn(venue, number, person, start, closes, CheckInSource.PLACE_SCAN, time_out)


def _add(app: App, visits: list[CheckIn]) -> None:
    with app.ctx.uow() as uow:
        for visit in visits:
            uow.checkins.add(visit)
        uow.commit()


visit = st.tuples(
    st.integers(0, 5),  # person
    st.integers(0, 2),  # venue
    st.integers(0, SPAN_DAYS * 24 * HOUR),  # start, from the first day
    st.one_of(st.none(), st.integers(60, 5 * HOUR)),  # stay; None: no check-out
)
span = st.tuples(st.integers(-DAY, SPAN_DAYS * DAY), st.integers(0, 4 * DAY))


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    visits=st.lists(visit, min_size=1, max_size=30),
    late=st.lists(visit, max_size=5),
    person_asks=st.lists(st.tuples(st.integers(0, 5), span), min_size=1, max_size=6),
    venue_asks=st.lists(
        st.tuples(st.integers(0, 2), span, st.integers(-DAY, 4 * DAY), st.integers(1, 5 * HOUR)),
        min_size=1,
        max_size=6,
    ),
)
def test_the_archive_reads_as_the_database_does(
    city: App,
    visits: list[tuple[int, int, int, int | None]],
    late: list[tuple[int, int, int, int | None]],
    person_asks: list[tuple[int, tuple[int, int]]],
    venue_asks: list[tuple[int, tuple[int, int], int, int]],
) -> None:
    archive = city.ctx.archive
    assert isinstance(archive, DuckArchive)
    tag = secrets.token_hex(4)  # each example its own people and venues in the shared city
    people = [f"{tag}{n:02d}".ljust(32, "0") for n in range(6)]
    venues = [f"v{tag}{n}" for n in range(3)]
    first_day = START - START % DAY - SPAN_DAYS * DAY

    def made(batch: list[tuple[int, int, int, int | None]], kind: str) -> list[CheckIn]:
        return [
            _checkin(venues[v], f"{kind}{tag}{i:03d}", people[p], first_day + s, stay)
            for i, (p, v, s, stay) in enumerate(batch)
        ]

    _add(city, made(visits, "c"))
    trace.archive_days(city.ctx)
    _add(city, made(late, "l"))  # offline devices' uploads, after the day was archived
    subject_asks = [(people[p], first_day + a, first_day + a + n) for p, (a, n) in person_asks]
    place_asks = [
        Overlapping(venues[v], first_day + a, first_day + a + n, first_day + a + end, stay)
        for v, (a, n), end, stay in venue_asks
    ]
    with city.ctx.uow(read_only=True) as uow:
        database = SqlVisits(uow.checkins)
        archived = archive.reader(uow)
        try:
            assert archived.of_subjects_between(subject_asks) == database.of_subjects_between(
                subject_asks
            )
            assert archived.overlapping(place_asks) == database.overlapping(place_asks)
        finally:
            archived.close()


def test_closed_days_only_and_late_visits_rewrite_their_day(city: App) -> None:
    archive = city.ctx.archive
    assert isinstance(archive, DuckArchive)
    now = city.ctx.clock.now()
    tag = secrets.token_hex(4)
    person, venue = f"{tag}".ljust(32, "1"), f"w{tag}"
    old_day = now - now % DAY - 5 * DAY
    _add(city, [_checkin(venue, f"o{tag}", person, old_day + HOUR, HOUR),
                _checkin(venue, f"n{tag}", person, now - HOUR, None)])  # fmt: skip
    trace.archive_days(city.ctx)
    files = archive.files()
    assert old_day in files
    assert max(files) + DAY + LONGEST_DWELL <= now  # nothing still open is archived
    retention = city.ctx.retention.days * DAY
    assert min(files) > now - retention  # nor the day the purge cuts through
    rows = archive.rows_in(files[old_day])
    _add(city, [_checkin(venue, f"u{tag}", person, old_day + 2 * HOUR, HOUR)])  # a late upload
    with city.ctx.uow(read_only=True) as uow:
        assert old_day not in archive.current(uow.checkins)  # out of date: not read from
    report = trace.archive_days(city.ctx)
    assert report is not None
    assert report.days >= 1
    assert archive.rows_in(files[old_day]) == rows + 1
    with city.ctx.uow(read_only=True) as uow:
        assert old_day in archive.current(uow.checkins)
        reader = archive.reader(uow)
        files[old_day].unlink()  # the purge, while a batch is being searched
        asks = [(person, old_day, old_day + DAY)]
        assert reader.of_subjects_between(asks) == SqlVisits(uow.checkins).of_subjects_between(
            asks
        )  # the database answered
        assert not reader.archived
        reader.close()


def test_purge_and_sunset_delete_the_files(tmp_path: Path, database_url: str) -> None:
    app = _archive_app(tmp_path, database_url)
    try:
        archive = app.ctx.archive
        assert isinstance(archive, DuckArchive)
        _seed_city(app, random.Random(7), cases=0)
        trace.archive_days(app.ctx)
        before = set(archive.files())
        assert len(before) >= 4
        later = replace(app.ctx, clock=FixedClock(START + (app.ctx.retention.days - 6) * DAY))
        report = retention.purge(later)
        assert report.counts["archive_files"] >= 1
        assert set(archive.files()) == {d for d in before if d >= report.cutoff}
        retention.sunset(app.ctx)
        assert archive.files() == {}
    finally:
        app.close()


def _archive_app(tmp_path: Path, database_url: str) -> App:
    settings_ = make_settings(tmp_path / "data", database_url, contact_archive=True)
    app = build(settings_, clock=FixedClock(START), migrate=False)
    initialise(app)
    return app


def _seed_city(app: App, rng: random.Random, cases: int) -> list[str]:
    """A small city over SPAN_DAYS days: 120 people, 10 venues, busy enough for chains."""
    people = [secrets.token_hex(16) for _ in range(120)]
    venues = [f"venue{n:02d}" for n in range(10)]
    first_day = START - START % DAY - SPAN_DAYS * DAY
    visits = []
    for number in range(1500):
        start = first_day + rng.randrange(SPAN_DAYS * DAY)
        stay = rng.choice([None, rng.randrange(10 * 60, 4 * HOUR)])
        visits.append(_checkin(rng.choice(venues), f"s{number:05d}", rng.choice(people),
                               start, stay))  # fmt: skip
    case_ids = []
    with app.ctx.uow() as uow:
        for person in people:
            uow.subjects.add(Subject(person, "resident", 0))
        for checkin in visits:
            uow.checkins.add(checkin)
        for number, person in enumerate(rng.sample(people, cases)):
            start = first_day + rng.randrange((SPAN_DAYS - 2) * DAY)
            case_id = f"kcase{number:04d}"
            uow.cases.add_case(
                Case(case_id, person, f"LAB/{number}", start, start + 2 * DAY, start + 2 * DAY)
            )
            case_ids.append(case_id)
        uow.commit()
    return case_ids


def _found(result: trace.TraceResult) -> object:
    def contacts(group: list[trace.Contact]) -> list[object]:
        return [
            (c.subject_id, c.via, sorted(
                (e.contact.checkin_id, e.source.checkin_id, e.start, e.end) for e in c.exposures
            ))
            for c in group
        ]  # fmt: skip

    return (result.case_id, contacts(result.close), contacts(result.secondary))


def test_a_batch_from_the_archive_finds_what_the_database_finds(
    tmp_path: Path, database_url: str
) -> None:
    app = _archive_app(tmp_path, database_url)
    try:
        case_ids = _seed_city(app, random.Random(2026), cases=12)
        export = trace.archive_days(app.ctx)
        assert export is not None
        assert export.days >= 4
        with app.ctx.uow(read_only=True) as uow:  # every closed day from its file
            reader = app.ctx.archive.reader(uow)  # type: ignore[union-attr]
            assert len(reader.archived) == export.days  # type: ignore[attr-defined]
            reader.close()
        from_archive = trace.trace_outbreak(app.ctx, case_ids, TRACER, settle=False)
        one_by_one = trace.trace_outbreak(
            replace(app.ctx, archive=None), case_ids, TRACER, settle=False
        )
        assert sum(len(r.close) for r in one_by_one.traced) > 20  # a city, not an empty one
        assert sum(len(r.secondary) for r in one_by_one.traced) > 20
        assert [_found(r) for r in from_archive.traced] == [_found(r) for r in one_by_one.traced]
        assert (from_archive.close, from_archive.secondary) == (
            one_by_one.close,
            one_by_one.secondary,
        )
    finally:
        app.close()
