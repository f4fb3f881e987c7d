"""An outbreak traced in one batch: each case traced and logged with its own purpose; contacts
get their exposures, colours and notices; an unknown case refuses the batch up front."""

from __future__ import annotations

import pytest

from healthcode.bootstrap import App
from healthcode.domain.audit import Actor
from healthcode.domain.cases import Case
from healthcode.domain.checkins import CheckIn, CheckInSource
from healthcode.domain.errors import NotFound
from healthcode.services import audit, notices, status, trace
from healthcode.services.ports import Subject
from tests.conftest import START

TRACER = Actor("tracer", "t-1")
DAY, MIN = 86400, 60
NOON = START - DAY


def person(n: int) -> str:
    return f"{n:032x}"


def seed_two_clusters(app: App) -> list[str]:
    """Cases 1 and 4; 2 met case 1 at the market, 5 met case 4 at the gym, 3 met nobody."""
    with app.ctx.uow() as uow:
        for n in range(1, 6):
            uow.subjects.add(Subject(person(n), "resident", 0))
        visits = [(1, "vmarket", 0), (2, "vmarket", 10), (3, "vshop", 10), (4, "vgym", 0),
                  (5, "vgym", 5)]  # fmt: skip
        for i, (n, venue, minutes) in enumerate(visits):
            start = NOON + minutes * MIN
            uow.checkins.add(CheckIn(venue, f"c{i:03d}", person(n), start, start + 3 * 3600,
                                     CheckInSource.PLACE_SCAN, start + 60 * MIN))  # fmt: skip
        for case_id, n in (("kone", 1), ("kfour", 4)):
            uow.cases.add_case(Case(case_id, person(n), "LAB/x", NOON - 2 * DAY, NOON + DAY,
                                    START))  # fmt: skip
        uow.commit()
    return ["kone", "kfour"]


def test_every_open_case_is_traced_in_one_batch(app: App) -> None:
    seed_two_clusters(app)
    before = audit.log_size(app.ctx)
    done: list[int] = []
    report = trace.trace_outbreak(app.ctx, None, TRACER, depth=1, progress=done.append)
    assert (report.cases, report.close, report.secondary) == (2, 2, 0)
    assert sum(done) == 2
    assert report.new_exposures == 2
    assert report.colour_changes == 2
    for n in (2, 5):
        assert status.status_of(app.ctx, person(n)).status.colour == "red"
        (notice,) = notices.my_notices(app.ctx, person(n))
        assert notice.colour == "red"
    assert status.status_of(app.ctx, person(3)).status.colour == "green"
    entries = audit.read_entries(app.ctx, before, audit.log_size(app.ctx))
    traced = [e for e in entries if '"case.traced"' in e.entry]
    assert sorted('"kone"' in e.entry for e in traced) == [False, True]

    # tracing again finds the same contacts but stores, notifies and logs no new colour
    again = trace.trace_outbreak(app.ctx, ["kone", "kfour", "kone"], TRACER, depth=1)
    assert (again.cases, again.new_exposures, again.colour_changes) == (2, 0, 0)
    assert len(notices.my_notices(app.ctx, person(2))) == 1


def test_an_unknown_case_refuses_the_whole_batch(app: App) -> None:
    seed_two_clusters(app)
    before = audit.log_size(app.ctx)
    with pytest.raises(NotFound) as caught:
        trace.trace_outbreak(app.ctx, ["kone", "knope"], TRACER)
    assert caught.value.field == "case_ids[1]"
    assert audit.log_size(app.ctx) == before
