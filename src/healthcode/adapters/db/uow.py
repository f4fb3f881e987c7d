"""Unit of work: one database transaction with every repository bound to it.

On SQLite the write transactions queue on a lock of their own before `BEGIN IMMEDIATE`, in and
across processes (adapters/db/writer_lock.py): SQLite's busy handler makes a waiting writer sleep
and poll (1, 2, 5, ... 100 ms), so under load writers oversleep the moment the lock is free and
the latency tail grows long; queued, the next writer starts as soon as the last one commits.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, RootTransaction

from healthcode.adapters.clock import SystemClock
from healthcode.adapters.db.accounts import (
    SqlAssignments,
    SqlDevices,
    SqlOtp,
    SqlSessions,
    SqlStaff,
    SqlStaffChanges,
)
from healthcode.adapters.db.cases import SqlCases
from healthcode.adapters.db.checkin_sight import SqlCheckInSight
from healthcode.adapters.db.checkins import SqlCheckIns
from healthcode.adapters.db.code_sight import SqlCodeSight
from healthcode.adapters.db.engine import ONE_STATEMENT, READ_ONLY
from healthcode.adapters.db.health_facts import SqlExposures, SqlHealthFacts
from healthcode.adapters.db.labs import SqlLabs
from healthcode.adapters.db.log_store import CheckpointPolicy, CheckpointSigner, SqlAuditLog
from healthcode.adapters.db.maintenance import SqlMaintenance
from healthcode.adapters.db.orders import SqlAppeals, SqlOrders
from healthcode.adapters.db.repositories import SqlKeys, SqlSubjects, SqlTrustLists, SqlVenues
from healthcode.adapters.db.retention import SqlRetention
from healthcode.adapters.db.sealing import Seals
from healthcode.adapters.db.sequencer_thread import SequencerThread
from healthcode.adapters.db.status import SqlNotices, SqlRuleSets, SqlStatuses
from healthcode.adapters.db.status_queue import SqlStatusQueue
from healthcode.adapters.db.vault import SqlVault
from healthcode.adapters.db.writer_lock import WriterLock
from healthcode.adapters.status_view import RedisStatusView, State
from healthcode.domain.errors import Unavailable
from healthcode.services.ports import Clock

WRITE_LOCK_TIMEOUT = 30.0  # seconds, as SQLite's busy timeout (engine.py)


# The repositories of a unit of work, each made the first time the use case touches it: a hot
# request uses one or two of them, and making all of them costs more than its query.
_REPOSITORIES: dict[str, Callable[[SqlUnitOfWork], Any]] = {
    "subjects": lambda u: SqlSubjects(u._conn),
    "vault": lambda u: SqlVault(u._conn, u._seals.vault),
    "venues": lambda u: SqlVenues(u._conn, u._seals),
    "keys": lambda u: SqlKeys(u._conn),
    "trust_lists": lambda u: SqlTrustLists(u._conn),
    "log": lambda u: SqlAuditLog(u._conn, u._signer, u._policy, queued=u._queue_entries),
    "checkins": lambda u: SqlCheckIns(u._conn, u._seals.days),
    "cases": lambda u: SqlCases(u._conn),
    "exposures": lambda u: SqlExposures(u._conn, u._seals.days),
    "health_facts": lambda u: SqlHealthFacts(u._conn),
    "rulesets": lambda u: SqlRuleSets(u._conn),
    "statuses": lambda u: SqlStatuses(u._conn, u._seals.links, u._seals.days, u._touched),
    "status_queue": lambda u: SqlStatusQueue(u._conn, u._seals.links, u._touched),
    "notices": lambda u: SqlNotices(u._conn, u._seals.days),
    "code_sight": lambda u: SqlCodeSight(u._conn, u._seals.links, u.vault),
    "checkin_sight": lambda u: SqlCheckInSight(
        u._conn, u._seals.links, u._seals.days, (u.maintenance, u.trust_lists)
    ),
    "staff": lambda u: SqlStaff(u._conn),
    "staff_changes": lambda u: SqlStaffChanges(u._conn),
    "labs": lambda u: SqlLabs(u._conn),
    "sessions": lambda u: SqlSessions(u._conn, u._seals.links),
    "otp": lambda u: SqlOtp(u._conn),
    "devices": lambda u: SqlDevices(u._conn),
    "assignments": lambda u: SqlAssignments(u._conn),
    "orders": lambda u: SqlOrders(u._conn, u._seals),
    "appeals": lambda u: SqlAppeals(u._conn, u._seals),
    "retention": lambda u: SqlRetention(u._conn),
    "maintenance": lambda u: SqlMaintenance(u._conn),
}


class SqlUnitOfWork:
    def __init__(
        self,
        engine: Engine,
        signer: CheckpointSigner,
        policy: CheckpointPolicy,
        seals: Seals,
        *,
        read_only: bool = False,
        one_statement: bool = False,
        write_lock: WriterLock | None = None,
        after_entries: Callable[[], None] | None = None,
        opened: Callable[[int], None] | None = None,
        queue_entries: bool = True,
        held: Connection | None = None,
        view: RedisStatusView | None = None,
    ):
        self.engine = engine
        self._signer = signer
        self._policy = policy
        self._seals = seals
        self._read_only = read_only
        self._one_statement = read_only and one_statement
        # Only writers queue, and only where the factory gave a lock (SQLite).
        self._write_lock = None if read_only else write_lock
        self._locked = False
        self._committed_entries = False
        self._after_entries = after_entries
        self._opened = None if read_only else opened
        self._queue_entries = queue_entries
        self._held = held  # a connection kept open for this thread's one-statement reads
        self._conn: Connection | None = None
        self._tx: RootTransaction | None = None
        # The status read model (adapters/status_view.py), written through around the commit
        # for everyone whose status or queued colour work this transaction changes.
        self._view = None if read_only else view
        self._touched: set[str] | None = set() if self._view is not None else None

    def __enter__(self) -> SqlUnitOfWork:
        if self._write_lock is not None:
            if not self._write_lock.acquire(timeout=WRITE_LOCK_TIMEOUT):
                raise Unavailable("the database is busy: try again")
            self._locked = True
        if self._held is not None:
            self._conn = self._held
            self._tx = None
            return self
        try:
            self._conn = self.engine.connect()
            if self._read_only:
                self._conn.execution_options(**{READ_ONLY: True})
                if self.engine.dialect.name == "postgresql":
                    self._conn.execution_options(postgresql_readonly=True)
            if self._one_statement:
                self._conn.execution_options(**{ONE_STATEMENT: True})
            self._tx = self._conn.begin()
        except BaseException:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._release()
            raise
        if self._opened is not None:
            self._opened(1)
        return self

    def __getattr__(self, name: str) -> Any:
        make = _REPOSITORIES.get(name)
        if make is None or self._conn is None:
            raise AttributeError(name)
        repository = make(self)
        setattr(self, name, repository)
        return repository

    def commit(self) -> None:
        assert self._tx is not None  # noqa: S101 - only inside `with`
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        if self._view is not None and self._touched:
            self._commit_seen(sorted(self._touched))
        else:
            self._tx.commit()
        log = self.__dict__.get("log")
        if log is not None and log.queued:
            log.queued = 0
            self._committed_entries = True

    def _commit_seen(self, touched: list[str]) -> None:
        """Mark, commit, release (adapters/status_view.py): these people are read from the
        database from before the commit until what it committed is published, which happens
        before the use case goes on."""
        assert self._view is not None  # noqa: S101
        assert self._tx is not None  # noqa: S101
        self._view.mark(touched)  # Unavailable: nothing is committed
        try:
            self._tx.commit()
        finally:
            self._view.release(touched, self._current)
            if self._touched is not None:  # (the repositories of this transaction hold it)
                self._touched.clear()

    def _current(self, subject_ids: list[str]) -> dict[str, State]:
        """What the database holds for these people now (after this transaction's commit).
        PostgreSQL: on this unit of work's own connection, in a new transaction (read committed:
        it sees every commit so far), so that a writer never waits for a second connection from
        the pool. SQLite: on a connection of its own, as a reader (a new transaction on this
        one would take the write lock again)."""
        assert self._conn is not None  # noqa: S101
        if self.engine.dialect.name == "postgresql":
            return SqlStatuses(self._conn, self._seals.links, self._seals.days).shown(subject_ids)
        with self.engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            return SqlStatuses(conn, self._seals.links, self._seals.days).shown(subject_ids)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None  # noqa: S101
        if self._held is not None:
            try:
                self._conn.rollback()  # ends SQLAlchemy's autobegun state; nothing was begun
            except BaseException:
                self._conn = None
                raise
            self._conn = None
            return
        assert self._tx is not None  # noqa: S101
        try:
            if self._tx.is_active:
                self._tx.rollback()  # anything not committed explicitly is undone
            self._conn.close()
        finally:
            self._conn = self._tx = None
            self._release()
            if self._opened is not None:
                self._opened(-1)
        if self._committed_entries and self._after_entries is not None:
            self._committed_entries = False
            self._after_entries()  # sequence them now (the write lock is released)

    def _release(self) -> None:
        if self._locked:
            self._locked = False
            assert self._write_lock is not None  # noqa: S101
            self._write_lock.release()


SEQUENCE_BATCH = 5000  # queued entries sequenced per transaction


class SqlUnitOfWorkFactory:
    def __init__(
        self,
        engine: Engine,
        signer: CheckpointSigner,
        policy: CheckpointPolicy,
        seals: Seals,
        clock: Clock | None = None,
        *,
        queue_entries: bool | None = None,
    ):
        self.engine = engine
        self.signer = signer
        self.policy = policy
        self.seals = seals  # who a row is about: day keys, the links key, the vault key
        self.clock = clock or SystemClock()
        self.write_lock = (
            WriterLock(engine.url.database) if engine.dialect.name == "sqlite" else None
        )
        # Group commit (services/group_commit.py): one writer thread per process. SQLite has
        # one writer at a time anyway; on PostgreSQL a batch of check-ins reads in one round
        # trip and writes in another whatever its size, so one writer keeps batches large: the
        # CPU of a check-in fell from 770-850 µs (three writers) to 650 µs (one), measured
        # under load (docs/BENCHMARKS.md).
        self.writers = 1
        # The log's queue (adapters/db/log_store.py): on PostgreSQL writers queue their
        # entries and the sequencer numbers them after commit; SQLite sequences them in the
        # writer's transaction, which holds the only write lock anyway.
        self.queue_entries = (
            engine.dialect.name == "postgresql" if queue_entries is None else queue_entries
        )
        # Sequencing right after a commit that queued entries, before the use case returns: by
        # the committing thread, or by a round another thread began after the commit. Off:
        # only `sequence()` and the server's periodic job do it (tests of the queue).
        self.sequence_after_commit = True
        # ... or, for a unit of work opened with `sequence_soon`, by the process's sequencer
        # thread, woken by the commit: the use case answers without waiting for it.
        self._soon = SequencerThread(self.sequence)
        # The status read model of a cluster (adapters/status_view.py), written through by
        # every write transaction; None in the embedded default.
        self.view: RedisStatusView | None = None
        self._sequencing = threading.Lock()
        self._counting = threading.Lock()
        self._wanted = 0  # commits with entries, counted
        self._covered = 0  # ... of which a finished round of the sequencer saw all
        self._open = threading.local()  # write transactions this thread has open
        self._readers = threading.local()  # each thread's connection for one-statement reads
        self._held: list[Connection] = []

    def _held_connection(self) -> Connection:
        """This thread's connection for one-statement reads, kept open between requests: no
        pool checkout, no BEGIN, no ROLLBACK round trip (PostgreSQL: autocommit, each SELECT
        its own snapshot; SQLite: no transaction is begun, each SELECT reads the last commit)."""
        conn: Connection | None = getattr(self._readers, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self.engine.connect()
            options: dict[str, object] = {READ_ONLY: True, ONE_STATEMENT: True}
            if self.engine.dialect.name == "postgresql":
                options["isolation_level"] = "AUTOCOMMIT"
            conn = conn.execution_options(**options)
            self._readers.conn = conn
            with self._counting:
                self._held.append(conn)
        return conn

    def close(self) -> None:
        """Sequence what commits left to the sequencer thread, then close the connections held
        for one-statement reads (before the engine is disposed)."""
        self._soon.close()
        with self._counting:
            held, self._held = self._held, []
        for conn in held:
            with contextlib.suppress(Exception):  # a connection already gone is closed enough
                conn.close()
        if self.write_lock is not None:
            self.write_lock.close()

    def __call__(
        self, *, read_only: bool = False, one_statement: bool = False, sequence_soon: bool = False
    ) -> SqlUnitOfWork:
        if read_only and one_statement:
            try:
                held = self._held_connection()
            except Exception:
                self._readers.conn = None
                raise
            return SqlUnitOfWork(
                self.engine, self.signer, self.policy, self.seals, read_only=True,
                one_statement=True, held=held,
            )  # fmt: skip
        return SqlUnitOfWork(
            self.engine,
            self.signer,
            self.policy,
            self.seals,
            read_only=read_only,
            one_statement=one_statement,
            write_lock=self.write_lock,
            after_entries=self._wake if sequence_soon else self._after_entries,
            opened=self.opened,
            queue_entries=self.queue_entries,
            view=self.view,
        )

    def _after_entries(self) -> None:
        if not self.sequence_after_commit:
            return
        if getattr(self._open, "depth", 0):
            self._open.owed = True  # an outer transaction is open: when it ends
            return
        self._catch_up()

    def _wake(self) -> None:
        if self.sequence_after_commit:
            self._soon.wake()

    def opened(self, change: int) -> None:
        depth = self._open.depth = getattr(self._open, "depth", 0) + change
        if depth == 0 and getattr(self._open, "owed", False):
            self._open.owed = False
            self._catch_up()

    def _catch_up(self) -> None:
        """Return once this commit's entries are sequenced: by this thread, or by a round of
        the sequencer that another thread of this process began after this commit (group
        sequencing: under load one round covers the entries of many commits)."""
        with self._counting:
            self._wanted += 1
            ticket = self._wanted
        with self._sequencing:
            if self._covered >= ticket:
                return
            with self._counting:
                start = self._wanted
            self._sequence()
            self._covered = max(self._covered, start)

    def sequence(self) -> int:
        """The sequencer: number and write every queued entry, a batch per transaction, under
        the log's lock (one sequencer at a time across processes), one thread of this process
        at a time. Returns how many it sequenced."""
        with self._sequencing:
            with self._counting:
                start = self._wanted
            done = self._sequence()
            self._covered = max(self._covered, start)
            return done

    def _sequence(self) -> int:
        total = 0
        while True:
            with self() as uow:
                done = uow.log.integrate(self.clock.now(), SEQUENCE_BATCH)
                uow.commit()
            total += done
            if done < SEQUENCE_BATCH:
                return total
