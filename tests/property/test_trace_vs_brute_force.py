"""Tracing equals a brute-force reference on random cities (SQLite, real queries).

The reference is written from the definition, not from the code: a person is a close contact
when one of their visits and one of the case's visits (cut to the infectious window, then
extended by the airborne extension) share a venue for at least the minimum overlap.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthcode.bootstrap import App
from healthcode.domain.audit import Actor
from healthcode.domain.cases import Case
from healthcode.domain.checkins import MAX_DWELL_SECONDS, CheckIn, CheckInSource
from healthcode.domain.venues import VenueType
from healthcode.services import trace
from healthcode.services.ports import Subject
from tests.conftest import START, sqlite_app

HOUR = 3600
T0 = START - 3 * 86400
DWELL = MAX_DWELL_SECONDS[VenueType.OTHER]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[App]:
    app = sqlite_app(tmp_path_factory.mktemp("trace"), sqlite_template)
    yield app
    app.close()


visit = st.tuples(
    st.integers(0, 7),  # person
    st.integers(0, 2),  # venue
    st.integers(0, 48 * HOUR),  # start, from T0
    st.one_of(st.none(), st.integers(1, DWELL)),  # stay; None: no check-out (closes at dwell)
)


def reference(
    visits: list[tuple[int, int, int, int]],
    case_person: int,
    window: tuple[int, int],
    min_overlap: int,
    extension: int,
) -> set[int]:
    lo, hi = window
    # Only the case's visits are cut to its infectious window; whoever shared the venue (or the
    # air the case left behind) is exposed whatever their own visit's extent.
    own = [
        (p, v, max(s, lo), min(e, hi))
        for p, v, s, e in visits
        if p == case_person and min(e, hi) > max(s, lo)
    ]
    contacts = set()
    for (_, venue, s, e), (p, v2, s2, e2) in itertools.product(own, visits):
        if p != case_person and v2 == venue and min(e + extension, e2) - max(s, s2) >= min_overlap:
            contacts.add(p)
    return contacts


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    visits=st.lists(visit, min_size=1, max_size=40),
    case_person=st.integers(0, 7),
    window=st.tuples(st.integers(0, 40 * HOUR), st.integers(HOUR, 30 * HOUR)),
)
def test_trace_equals_brute_force(
    city: App,
    visits: list[tuple[int, int, int, int | None]],
    case_person: int,
    window: tuple[int, int],
) -> None:
    tag = secrets.token_hex(4)  # each example its own people and venues in the shared database
    people = [f"{tag}{n:02d}".ljust(32, "0") for n in range(8)]
    venues = [f"v{tag}{n}" for n in range(3)]
    start, length = T0 + window[0], window[1]
    concrete = [
        (p, v, T0 + s, T0 + s + (stay if stay is not None else DWELL)) for p, v, s, stay in visits
    ]
    with city.ctx.uow() as uow:
        for person in people:
            uow.subjects.add(Subject(person, "resident", 0))
        for number, (p, v, s, e) in enumerate(concrete):
            stay = visits[number][3]
            uow.checkins.add(
                CheckIn(
                    venues[v],
                    f"c{tag}{number:03d}",
                    people[p],
                    s,
                    s + DWELL,
                    CheckInSource.PLACE_SCAN,
                    e if stay is not None else None,
                )
            )
        case_id = f"k{tag}"
        uow.cases.add_case(
            Case(case_id, people[case_person], "LAB/T", start, start + length, start + length)
        )
        uow.commit()
    result = trace.trace_case(city.ctx, case_id, Actor("tracer", "property-test"), depth=1)
    expected = reference(
        concrete,
        case_person,
        (start, start + length),
        city.settings.trace_min_overlap_seconds,
        city.settings.trace_extension_seconds,
    )
    assert {people.index(c.subject_id) for c in result.close} == expected
    for contact in result.close:  # every contact carries evidence that satisfies the rule
        for hit in contact.exposures:
            assert hit.seconds >= city.settings.trace_min_overlap_seconds
            assert hit.source.subject_id == people[case_person]
            assert hit.contact.venue_id == hit.source.venue_id
