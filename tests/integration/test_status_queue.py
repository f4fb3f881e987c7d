"""A trace answers with its contacts first; their colour work follows (services/status_queue.py).

Until it is done, nobody is shown a stale colour: a contact asking for their code has their work
done first. The work is done once, by whoever comes first, as the tracer for the trace's reason,
with its notices; a process that dies between the trace and the work leaves it queued for the
next settler. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading

import pytest

from healthcode.bootstrap import App, build
from healthcode.domain.audit import Actor
from healthcode.domain.cases import Case
from healthcode.domain.checkins import CheckIn, CheckInSource
from healthcode.domain.published import parse_entry
from healthcode.services import audit, codes, enrolment, notices, status, status_queue, trace
from healthcode.services.ports import QueuedColour
from tests.conftest import START, resident_headers
from tests.support.waiting import until

TRACER = Actor("tracer", "t-1")
DAY, MIN = 86400, 60
NOON = START - DAY


def enrol(app: App, n: int) -> str:
    made = enrolment.enrol_resident(
        app.ctx,
        enrolment.EnrolResident("张三", "passport", f"E{n:07d}", f"138{n:08d}"),
    )
    return made.subject_id


def seed(app: App, contacts: int) -> tuple[str, list[str]]:
    """A case and `contacts` people who were at the market with them."""
    case_subject = enrol(app, 0)
    people = [enrol(app, n) for n in range(1, contacts + 1)]
    with app.ctx.uow() as uow:
        for i, who in enumerate([case_subject, *people]):
            start = NOON + i  # all there at once
            uow.checkins.add(CheckIn("vmarket", f"c{i:04d}", who, start, start + 3 * 3600,
                                     CheckInSource.PLACE_SCAN, start + 60 * MIN))  # fmt: skip
        uow.cases.add_case(Case("kone", case_subject, "LAB/x", NOON - 2 * DAY, NOON + DAY, START))
        uow.commit()
    return "kone", people


def colour_entries(app: App, since: int) -> list[dict[str, object]]:
    size = audit.log_size(app.ctx)
    found = [parse_entry(e.seq, e.entry)
             for start in range(since, size, 1000)
             for e in audit.read_entries(app.ctx, start, min(size, start + 1000))]  # fmt: skip
    return [{**e.details, "actor": e.actor_ref} for e in found if e.action == "status.changed"]


def stored(app: App, who: str) -> str:
    with app.ctx.uow(read_only=True) as uow:
        found = uow.statuses.get(who)
    return found.colour if found else "green"


def test_the_contacts_come_first_and_nobody_sees_a_stale_colour_meanwhile(app: App) -> None:
    case_id, people = seed(app, 3)
    before = audit.log_size(app.ctx)
    result = trace.trace_case(app.ctx, case_id, TRACER, depth=1, settle=False)
    assert sorted(c.subject_id for c in result.close) == sorted(people)
    assert (result.new_exposures, result.colour_changes, result.colours_queued) == (3, 0, 3)
    # The exposures are facts already; the stored colours and the notices wait.
    assert all(status.status_of(app.ctx, who).status.colour == "red" for who in people)
    assert [stored(app, who) for who in people] == ["green"] * 3
    assert all(notices.my_notices(app.ctx, who) == [] for who in people)
    assert status_queue.state(app.ctx).pending == 3

    # A contact asking for their code meanwhile: never the stored green.
    first = people[0]
    token = resident_headers(app, first)["Authorization"].removeprefix("Bearer ")
    assert codes.show_own_code(app.ctx, token, first) is None  # not from the stored status
    assert codes.issue_health_code(app.ctx, first).colour == "red"
    assert stored(app, first) == "red"
    assert len(notices.my_notices(app.ctx, first)) == 1
    assert status_queue.state(app.ctx).pending == 2  # only their own work was done

    # The rest, by the next settler: as the tracer, for the exposure, once each.
    changes = status_queue.settle(app.ctx)
    assert sorted(c.subject_id for c in changes) == sorted(people[1:])
    assert status_queue.state(app.ctx).pending == 0
    assert [stored(app, who) for who in people] == ["red"] * 3
    assert all(len(notices.my_notices(app.ctx, who)) == 1 for who in people)
    logged = colour_entries(app, before)
    assert len(logged) == 3
    assert {(e["from"], e["to"], e["reason"], e["actor"]) for e in logged} == {
        ("green", "red", "exposure", "t-1")
    }
    assert codes.show_own_code(app.ctx, token, first) is not None  # back on the hot path
    assert status_queue.settle(app.ctx) == []
    assert all(len(notices.my_notices(app.ctx, who)) == 1 for who in people)


def test_work_left_by_a_process_that_died_is_done_by_the_next(app: App) -> None:
    case_id, people = seed(app, 2)
    trace.trace_case(app.ctx, case_id, TRACER, depth=1, settle=False)
    app.close()  # the process is gone before it settled
    again = build(app.settings, clock=app.ctx.clock, migrate=False)
    try:
        assert status_queue.state(again.ctx).pending == 2
        assert len(status_queue.settle(again.ctx)) == 2
        assert [stored(again, who) for who in people] == ["red", "red"]
        assert status_queue.state(again.ctx).pending == 0
    finally:
        again.close()


def test_a_batch_does_its_colour_work_once_after_the_last_case(app: App) -> None:
    case_id, people = seed(app, 2)
    report = trace.trace_outbreak(app.ctx, [case_id], TRACER, depth=1)
    assert (report.colour_changes, report.colours_queued) == (2, 0)
    assert [stored(app, who) for who in people] == ["red", "red"]
    assert status_queue.state(app.ctx).pending == 0


def test_settlers_side_by_side_do_each_piece_of_work_once(app: App) -> None:
    if app.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: settlers take turns")
    case_id, people = seed(app, 700)  # more than one batch of work
    before = audit.log_size(app.ctx)
    trace.trace_case(app.ctx, case_id, TRACER, depth=1, settle=False)
    done: list[int] = []
    barrier = threading.Barrier(3)

    def settler() -> None:
        barrier.wait()
        done.append(len(status_queue.settle(app.ctx)))

    threads = [threading.Thread(target=settler) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sum(done) == len(people)
    assert status_queue.state(app.ctx).pending == 0
    logged = colour_entries(app, before)
    assert len(logged) == len(people)


def test_one_persons_failing_work_holds_up_nobody_else(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id, people = seed(app, 3)
    trace.trace_case(app.ctx, case_id, TRACER, depth=1, settle=False)
    broken = people[1]
    real = status_queue.refresh

    def refresh_failing_for_one(ctx, uow, subject_ids, *args, **kwargs):  # type: ignore[no-untyped-def]
        if broken in set(subject_ids):
            raise RuntimeError("a fault injected into one person's colour work")
        return real(ctx, uow, subject_ids, *args, **kwargs)

    monkeypatch.setattr(status_queue, "refresh", refresh_failing_for_one)
    changes = status_queue.settle(app.ctx)
    assert sorted(c.subject_id for c in changes) == sorted(set(people) - {broken})
    assert status_queue.state(app.ctx).pending == 1  # theirs stays queued
    with pytest.raises(RuntimeError):  # asked for by name (their code): the caller answers
        status_queue.settle(app.ctx, [broken])
    monkeypatch.setattr(status_queue, "refresh", real)
    assert [c.subject_id for c in status_queue.settle(app.ctx)] == [broken]
    assert status_queue.state(app.ctx).pending == 0


def test_the_same_work_queued_twice_is_one_piece_of_work(app: App) -> None:
    case_id, people = seed(app, 1)
    for reason in ("exposure", "retrace"):  # the second trace's reason is the one kept
        with app.ctx.uow() as uow:
            uow.status_queue.add([QueuedColour(people[0], case_id, START, TRACER, reason)])
            uow.commit()
    assert status_queue.state(app.ctx).pending == 1
    with app.ctx.uow() as uow:
        assert [i.reason for i in uow.status_queue.take(10)] == ["retrace"]


def test_work_named_twice_in_one_call_is_queued_once(app: App) -> None:
    """One call that names the same work twice (as two traces of one instant might) keeps one
    piece, with the reason given last, on both databases."""
    case_id, people = seed(app, 1)
    with app.ctx.uow() as uow:
        uow.status_queue.add([QueuedColour(people[0], case_id, START, TRACER, reason)
                              for reason in ("exposure", "retrace")])  # fmt: skip
        uow.commit()
    with app.ctx.uow() as uow:
        assert [i.reason for i in uow.status_queue.take(10)] == ["retrace"]


def test_the_tracer_is_answered_before_the_trace_is_sequenced(app: App) -> None:
    """Where the log's entries are queued (PostgreSQL), a trace answers once committed, even
    while the sequencer is busy: its entries wait as pending and are sequenced right after by
    the process's sequencer thread. With `settle` everything is done before it returns."""
    if app.engine.dialect.name != "postgresql":
        pytest.skip("SQLite sequences the log in the writer's own transaction")
    case_id, people = seed(app, 3)
    before = audit.log_size(app.ctx)
    answered: list[trace.TraceResult] = []
    factory = app.ctx.uow
    with factory._sequencing:  # type: ignore[attr-defined]  # a round is under way
        tracing = threading.Thread(target=lambda: answered.append(
            trace.trace_case(app.ctx, case_id, TRACER, depth=1, settle=False)))  # fmt: skip
        tracing.start()
        tracing.join(30)
        assert not tracing.is_alive()
        assert len(answered) == 1
        assert audit.log_queue(app.ctx).pending > 0
        assert audit.log_size(app.ctx) == before
        mine = audit.about_subject(app.ctx, people[0])
        assert [e.action for e in mine if e.pending] == ["case.visits_read"]  # shown pending
    assert until(lambda: audit.log_queue(app.ctx).pending == 0)
    assert audit.log_size(app.ctx) > before


def test_a_batch_with_settle_returns_with_its_entries_sequenced(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each case of a batch answers first, but the batch (the command line, `POST
    /cases/trace`) returns with every entry sequenced, even when its colour work logs nothing
    (a second trace of the same case: no new exposures) and the sequencer thread has not come
    round."""
    if app.engine.dialect.name != "postgresql":
        pytest.skip("SQLite sequences the log in the writer's own transaction")
    case_id, _ = seed(app, 2)
    trace.trace_outbreak(app.ctx, [case_id], TRACER, depth=1)
    assert audit.log_queue(app.ctx).pending == 0
    monkeypatch.setattr(app.ctx.uow._soon, "wake", lambda: None)  # type: ignore[attr-defined]
    again = trace.trace_outbreak(app.ctx, [case_id], TRACER, depth=1)
    assert (again.new_exposures, again.colour_changes) == (0, 0)
    assert audit.log_queue(app.ctx).pending == 0
