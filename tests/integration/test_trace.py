"""Tracing a case on SQLite and PostgreSQL: the rules, the evidence, secondary contacts, the log."""

from __future__ import annotations

import json

import pytest

from healthcode.bootstrap import App
from healthcode.domain.audit import Actor
from healthcode.domain.cases import Case
from healthcode.domain.checkins import CheckIn, CheckInSource
from healthcode.domain.errors import NotFound
from healthcode.services import audit, trace, trace_search
from healthcode.services.ports import Subject

TRACER = Actor("tracer", "tracer-7")
NOON = 1_794_960_000  # a day before the test clock's START
MIN = 60


def seed(app: App, visits: list[tuple[str, str, int, int]], case_subject: str) -> str:
    """visits: (subject, venue, start, end); returns the id of a case of `case_subject`."""
    with app.ctx.uow() as uow:
        for subject in {v[0] for v in visits}:
            uow.subjects.add(Subject(subject, "resident", 0))
        for number, (subject, venue, start, end) in enumerate(visits):
            uow.checkins.add(
                CheckIn(
                    venue,
                    f"c{number:04d}",
                    subject,
                    start,
                    start + 4 * 3600,
                    CheckInSource.PLACE_SCAN,
                    end,
                )
            )
        uow.cases.add_case(
            Case(
                "kcase0001",
                case_subject,
                "LAB/T-1",
                NOON - 2 * 86400,
                NOON + 6 * 3600,
                NOON + 6 * 3600,
            )
        )
        uow.commit()
    return "kcase0001"


def sid(letter: str) -> str:
    """A subject id of the form enrolment makes (128 bits, 32 hex digits), one per letter: a
    check-in stores it as one AES block under its day's key."""
    return letter.encode().hex() * 16


def test_close_and_secondary_contacts_with_evidence(app: App) -> None:
    case = seed(
        app,
        [
            (sid("a"), "vrest", NOON, NOON + 60 * MIN),  # the case: 12:00-13:00
            (sid("b"), "vrest", NOON + 30 * MIN, NOON + 120 * MIN),  # 30 min together: close
            (sid("c"), "vrest", NOON + 80 * MIN, NOON + 120 * MIN),  # after the extension: no
            (sid("d"), "vrest", NOON + 60 * MIN, NOON + 120 * MIN),  # in the lingering air: close
            (sid("e"), "vrest", NOON + 50 * MIN, NOON + 55 * MIN),  # 5 min only: no
            (sid("f"), "vshop", NOON, NOON + 60 * MIN),  # another venue: no
            (sid("b"), "vgym", NOON + 180 * MIN, NOON + 240 * MIN),  # b, later, at the gym
            (sid("g"), "vgym", NOON + 200 * MIN, NOON + 260 * MIN),  # meets b: secondary
        ],
        sid("a"),
    )
    result = trace.trace_case(app.ctx, case, TRACER)
    assert [c.subject_id for c in result.close] == [sid("b"), sid("d")]
    (b_exposure,) = result.close[0].exposures
    assert (b_exposure.start, b_exposure.end) == (NOON + 30 * MIN, NOON + 90 * MIN)
    assert b_exposure.source.venue_id == "vrest"
    secondary = {c.subject_id: c.via for c in result.secondary}
    assert set(secondary) == {sid("c"), sid("g")}
    assert secondary[sid("g")] == sid("b")
    assert secondary[sid("c")] in {sid("b"), sid("d")}
    only_close = trace.trace_case(app.ctx, case, TRACER, depth=1)
    assert only_close.secondary == []
    entries = [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]
    traced = [e for e in entries if e["action"] == "case.traced"]
    assert traced[0]["purpose"] == "contact_tracing"
    assert traced[0]["object"]["ref"] == case
    assert {k: v for k, v in traced[0]["details"].items() if k not in ("subject", "visits")} == {
        "close": 2, "secondary": 2, "depth": 2
    }  # fmt: skip
    assert sid("b") not in json.dumps(entries)


def test_a_trace_reads_only_the_people_it_finds(app: App) -> None:
    """At a venue only the check-ins that overlapped the case enough are decrypted: whoever was
    there too briefly, or after the air cleared, is judged by venue and times alone and is not
    read (nor told they were: there is nothing to tell)."""
    case_id = seed(
        app,
        [
            (sid("a"), "vrest", NOON, NOON + 60 * MIN),  # the case
            (sid("b"), "vrest", NOON + 30 * MIN, NOON + 120 * MIN),  # close
            (sid("c"), "vrest", NOON + 80 * MIN, NOON + 120 * MIN),  # after the extension
            (sid("e"), "vrest", NOON + 50 * MIN, NOON + 55 * MIN),  # 5 min only
            (sid("h"), "vrest", NOON - 3 * 60 * MIN, NOON - 2 * 60 * MIN),  # the morning
            (sid("b"), "vgym", NOON + 180 * MIN, NOON + 240 * MIN),  # b, later
            (sid("g"), "vgym", NOON + 200 * MIN, NOON + 260 * MIN),  # meets b: secondary
            (sid("i"), "vgym", NOON + 250 * MIN, NOON + 255 * MIN),  # too briefly
        ],
        sid("a"),
    )
    rules = trace.rules_of(app.ctx)
    with app.ctx.uow(read_only=True) as uow:
        case = uow.cases.get_case(case_id)
        assert case is not None
        reader = trace_search.SqlVisits(uow.checkins)
        (close,) = trace_search.search(reader, [case], rules, app.ctx.clock.now(), 1)
        (deep,) = trace_search.search(reader, [case], rules, app.ctx.clock.now(), 2)
    assert set(close.reads) == {sid("a"), sid("b")}
    assert set(deep.reads) == {sid("a"), sid("b"), sid("c"), sid("g")}  # c: secondary, via b
    assert deep.reads[sid("b")] == {"c0001", "c0005"}  # where b was found, and where followed


def test_visits_outside_the_infectious_window_do_not_count(app: App) -> None:
    early = NOON - 3 * 86400  # before the window opens
    case = seed(
        app,
        [(sid("a"), "vrest", early, early + 3600), (sid("b"), "vrest", early, early + 3600)],
        sid("a"),
    )
    assert trace.trace_case(app.ctx, case, TRACER).close == []


def test_unknown_case_is_not_found(app: App) -> None:
    with pytest.raises(NotFound):
        trace.trace_case(app.ctx, "knope", TRACER)
