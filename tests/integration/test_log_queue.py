"""The log as a queue and a sequencer (adapters/db/log_store.py), on SQLite and PostgreSQL.

A state change queues its entry in its own transaction without the log's lock; the sequencer
numbers queued entries, writes them with their hashes and deletes them from the queue in one
transaction of its own. Writers run side by side; nothing committed is lost or sequenced twice,
whether the committing process sequences its entries or dies first; every checkpoint is
consistent with the last; a person sees their queued entries as pending.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.db.tables import log_entries, log_pending
from healthcode.bootstrap import App, build, initialise
from healthcode.config import Settings
from healthcode.domain.audit import SYSTEM, Actor, LogEntry
from healthcode.services import audit, enrolment
from healthcode.verifier.audit import verify_log_copy
from healthcode.verifier.merkle import verify_consistency
from tests.support.waiting import until

DESK = Actor("health_officer", "desk-1")


@pytest.fixture
def queued(app: App) -> App:
    """The app with its log queued (as on PostgreSQL) and nothing sequenced after commits: the
    queue stays as the writers left it until the test sequences it."""
    app.ctx.uow.queue_entries = True  # type: ignore[attr-defined]
    app.ctx.uow.sequence_after_commit = False  # type: ignore[attr-defined]
    return app


def enrol(app: App, number: int) -> str:
    cmd = enrolment.EnrolResident(
        "张三", "passport", f"E{number:08d}", f"139{number:08d}"
    )
    return enrolment.enrol_resident(app.ctx, cmd, DESK).subject_id


def counts(app: App) -> tuple[int, int]:
    with app.engine.connect() as conn:
        done = conn.execute(select(func.count()).select_from(log_entries)).scalar_one()
        waiting = conn.execute(select(func.count()).select_from(log_pending)).scalar_one()
    return int(done), int(waiting)


def verified(app: App) -> None:
    lines = list(audit.export_lines(app.ctx))
    notes = [cp.note for cp in audit.checkpoints(app.ctx)]
    report = verify_log_copy(lines, notes, app.keyring.log_vkey())
    assert report.ok, report.problem
    assert report.entries_checked == audit.log_size(app.ctx)
    made = audit.checkpoints(app.ctx)
    for old, new in itertools.pairwise(made):
        proof = audit.consistency_proof(app.ctx, old.size, new.size)
        assert verify_consistency(old.size, new.size, old.root, new.root, proof)


def test_an_entry_waits_in_the_queue_shown_as_pending_until_sequenced(queued: App) -> None:
    app = queued
    audit.checkpoint_now(app.ctx, force=True)
    before, _ = counts(app)
    subject = enrol(app, 1)
    assert counts(app) == (before, 1)  # committed, queued, not yet in the log
    mine = audit.about_subject(app.ctx, subject)
    assert [(e.action, e.pending) for e in mine] == [("resident.enrolled", True)]
    assert audit.log_queue(app.ctx).pending == 1
    assert audit.sequence(app.ctx) == 1
    assert counts(app) == (before + 1, 0)
    mine = audit.about_subject(app.ctx, subject)
    assert [(e.action, e.pending, e.seq) for e in mine] == [("resident.enrolled", False, before)]
    audit.checkpoint_now(app.ctx, force=True)
    verified(app)


def test_a_commit_sequences_its_own_entries(app: App) -> None:
    app.ctx.uow.queue_entries = True  # type: ignore[attr-defined]
    before, _ = counts(app)
    enrol(app, 2)
    assert counts(app) == (before + 1, 0)


def test_nothing_is_lost_or_sequenced_twice_when_a_process_dies(queued: App) -> None:
    app = queued
    for number in range(3, 8):
        enrol(app, number)
    before, waiting = counts(app)
    assert waiting == 5
    # A sequencer that dies half way (its transaction never commits) leaves the queue as it was.
    def killed() -> None:
        with app.ctx.uow() as uow:
            assert uow.log.integrate(app.ctx.clock.now()) == 5
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        killed()
    assert counts(app) == (before, 5)
    # The process dies with its entries committed but not sequenced: another process (here a
    # second app on the same database and keys) sequences them, once.
    other = build(app.settings, clock=app.ctx.clock, migrate=False)
    try:
        assert audit.sequence(other.ctx) == 5
        assert audit.sequence(other.ctx) == 0
    finally:
        other.close()
    assert counts(app) == (before + 5, 0)
    audit.checkpoint_now(app.ctx, force=True)
    verified(app)


def test_a_numbered_append_comes_after_the_queue(queued: App) -> None:
    app = queued
    enrol(app, 8)
    size = audit.log_size(app.ctx)
    now = app.ctx.clock.now()
    with app.ctx.uow() as uow:
        seq = uow.log.append_sequenced(
            LogEntry("key.created", SYSTEM, "signing_key", "k1", "key_management", "basis"), now
        )
        uow.commit()
    assert seq == size + 1  # the queued enrolment first, then this one
    assert counts(app)[1] == 0


def test_times_never_go_back_along_the_log(queued: App) -> None:
    app = queued
    now = app.ctx.clock.now()
    entry = LogEntry("key.created", SYSTEM, "signing_key", "k2", "key_management", "basis")
    with app.ctx.uow() as uow:  # appended later, committed first
        uow.log.append(entry, now + 60)
        uow.commit()
    with app.ctx.uow() as uow:
        uow.log.append(entry, now)
        uow.commit()
    audit.sequence(app.ctx)
    times = [int(v.entry.split('"time":')[1].split(",")[0]) for v in
             audit.read_entries(app.ctx, 0, audit.log_size(app.ctx))]  # fmt: skip
    assert times == sorted(times)
    assert times[-2:] == [now + 60, now + 60]


@pytest.mark.parametrize("queue", [True, False], ids=["queued", "locked"])
def test_writers_run_side_by_side(app: App, queue: bool) -> None:
    """N writers hold their transactions open at once, each having appended its entry, and
    meet at a barrier before committing. With the queue they all get there; with the log's
    lock taken on append (the old way, still SQLite's) the second writer waits for the first,
    which waits at the barrier: the barrier breaks."""
    if app.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time, whatever the log does")
    app.ctx.uow.queue_entries = queue  # type: ignore[attr-defined]
    app.ctx.uow.sequence_after_commit = False  # type: ignore[attr-defined]
    writers = 4
    barrier = threading.Barrier(writers, timeout=5)
    met: list[bool] = []
    before = audit.log_size(app.ctx)

    def write(number: int) -> None:
        now = app.ctx.clock.now()
        with app.ctx.uow() as uow:
            uow.log.append(
                LogEntry("key.created", SYSTEM, "signing_key", f"w{number}", "key_management",
                         "basis"),
                now,
            )  # fmt: skip
            try:
                barrier.wait()
                met.append(True)
            except threading.BrokenBarrierError:
                met.append(False)
            uow.commit()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    if not queue:
        assert not all(met)  # the log's lock kept them apart
        return
    assert met == [True] * writers
    assert audit.sequence(app.ctx) == writers
    refs = sorted(
        v.entry.split('"ref":"')[2].split('"')[0]
        for v in audit.read_entries(app.ctx, before, audit.log_size(app.ctx))
    )
    assert refs == [f"w{n}" for n in range(writers)]
    audit.checkpoint_now(app.ctx, force=True)
    verified(app)


def _append_soon(app: App, ref: str) -> None:
    """A unit of work opened with `sequence_soon` that appends one entry and commits."""
    with app.ctx.uow(sequence_soon=True) as uow:
        uow.log.append(
            LogEntry("key.created", SYSTEM, "signing_key", ref, "key_management", "basis"),
            app.ctx.clock.now(),
        )
        uow.commit()


def _started(work: Callable[[], object]) -> threading.Thread:
    """`work` in a thread of its own, started (the thread, to ask)."""
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def _finishes(work: Callable[[], object], seconds: float) -> threading.Thread:
    """`work` in a thread of its own, given `seconds` to finish (the thread, to ask)."""
    thread = _started(work)
    thread.join(seconds)
    return thread


def test_a_commit_opened_to_sequence_soon_answers_first_and_its_entries_follow(
    app: App,
) -> None:
    """A unit of work opened with `sequence_soon` (a trace answering its tracer) returns once
    committed, even while the sequencer is busy; the process's sequencer thread sequences its
    entry right after. A plain commit waits for its entries to be sequenced."""
    factory = app.ctx.uow
    factory.queue_entries = True  # type: ignore[attr-defined]
    audit.checkpoint_now(app.ctx, force=True)
    before, _ = counts(app)
    with factory._sequencing:  # type: ignore[attr-defined]  # a round is under way
        soon = _finishes(lambda: _append_soon(app, "soon"), 30)
        assert not soon.is_alive()  # answered
        assert counts(app) == (before, 1)  # committed, queued, pending
        plain = _started(lambda: enrol(app, 40))
        assert until(lambda: counts(app)[1] == 2)  # its commit is done ...
        plain.join(0.5)
        assert plain.is_alive()  # ... and it waits for its entry's sequencing
    plain.join(30)
    assert not plain.is_alive()
    assert until(lambda: counts(app) == (before + 2, 0))
    audit.checkpoint_now(app.ctx, force=True)
    verified(app)


def test_entries_left_to_the_sequencer_thread_are_sequenced_when_the_app_closes(
    settings: Settings, clock: FixedClock
) -> None:
    """An app closed normally leaves nothing it queued behind, even if its sequencer thread
    had not come round yet."""
    app = build(settings, clock=clock, migrate=False)
    initialise(app)
    app.ctx.uow.queue_entries = True  # type: ignore[attr-defined]
    before, _ = counts(app)
    with app.ctx.uow._sequencing:  # type: ignore[attr-defined]  # the thread cannot start its round
        assert not _finishes(lambda: _append_soon(app, "last"), 30).is_alive()
        assert counts(app) == (before, 1)
        closing = _finishes(app.close, 0.3)
        assert closing.is_alive()  # close waits for the last round
    closing.join(30)
    assert not closing.is_alive()
    other = build(settings, clock=clock, migrate=False)
    try:
        assert counts(other) == (before + 1, 0)
    finally:
        other.close()


def test_switched_off_the_sequencer_thread_is_not_woken(queued: App) -> None:
    app = queued
    before, _ = counts(app)
    _append_soon(app, "off")
    time.sleep(0.2)
    assert counts(app) == (before, 1)  # left for `sequence()` and the server's job
    assert audit.sequence(app.ctx) == 1
