"""Unit of work: one database transaction with every repository bound to it.

On SQLite the write transactions of one process queue on a lock of their own before `BEGIN
IMMEDIATE`: SQLite's busy handler makes a waiting writer sleep and poll (1, 2, 5, ... 100 ms),
so under load writers oversleep the moment the lock is free and the latency tail grows long;
queued on our lock, the next writer starts as soon as the last one commits. SQLite's own lock
still guards against writers in other processes.
"""

from __future__ import annotations

import threading
from types import TracebackType

from sqlalchemy import Connection, Engine, RootTransaction

from healthcode.adapters.db.accounts import (
    SqlAssignments,
    SqlDevices,
    SqlOtp,
    SqlSessions,
    SqlStaff,
    SqlStaffChanges,
)
from healthcode.adapters.db.cases import SqlCases
from healthcode.adapters.db.checkins import SqlCheckIns
from healthcode.adapters.db.engine import READ_ONLY
from healthcode.adapters.db.health_facts import SqlExposures, SqlHealthFacts
from healthcode.adapters.db.labs import SqlLabs
from healthcode.adapters.db.log_store import CheckpointPolicy, CheckpointSigner, SqlAuditLog
from healthcode.adapters.db.maintenance import SqlMaintenance
from healthcode.adapters.db.orders import SqlAppeals, SqlOrders
from healthcode.adapters.db.repositories import SqlKeys, SqlSubjects, SqlTrustLists, SqlVenues
from healthcode.adapters.db.retention import SqlRetention
from healthcode.adapters.db.sealing import Seals
from healthcode.adapters.db.status import SqlNotices, SqlRuleSets, SqlStatuses
from healthcode.adapters.db.vault import SqlVault
from healthcode.domain.errors import Unavailable

WRITE_LOCK_TIMEOUT = 30.0  # seconds, as SQLite's busy timeout (engine.py)


class SqlUnitOfWork:
    def __init__(
        self,
        engine: Engine,
        signer: CheckpointSigner,
        policy: CheckpointPolicy,
        seals: Seals,
        *,
        read_only: bool = False,
        write_lock: threading.RLock | None = None,
    ):
        self.engine = engine
        self._signer = signer
        self._policy = policy
        self._seals = seals
        self._read_only = read_only
        # Only writers queue, and only where the factory gave a lock (SQLite).
        self._write_lock = None if read_only else write_lock
        self._locked = False
        self._conn: Connection | None = None
        self._tx: RootTransaction | None = None

    def __enter__(self) -> SqlUnitOfWork:
        if self._write_lock is not None:
            if not self._write_lock.acquire(timeout=WRITE_LOCK_TIMEOUT):
                raise Unavailable("the database is busy: try again")
            self._locked = True
        try:
            self._conn = self.engine.connect()
            if self._read_only:
                self._conn.execution_options(**{READ_ONLY: True})
                if self.engine.dialect.name == "postgresql":
                    self._conn.execution_options(postgresql_readonly=True)
            self._tx = self._conn.begin()
        except BaseException:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._release()
            raise
        self.subjects = SqlSubjects(self._conn)
        self.vault = SqlVault(self._conn, self._seals.vault)
        self.venues = SqlVenues(self._conn, self._seals)
        self.keys = SqlKeys(self._conn)
        self.trust_lists = SqlTrustLists(self._conn)
        self.log = SqlAuditLog(self._conn, self._signer, self._policy)
        self.checkins = SqlCheckIns(self._conn, self._seals.days)
        self.cases = SqlCases(self._conn)
        self.exposures = SqlExposures(self._conn, self._seals.days)
        self.health_facts = SqlHealthFacts(self._conn)
        self.rulesets = SqlRuleSets(self._conn)
        self.statuses = SqlStatuses(self._conn, self._seals.links, self._seals.days)
        self.notices = SqlNotices(self._conn, self._seals.days)
        self.staff = SqlStaff(self._conn)
        self.staff_changes = SqlStaffChanges(self._conn)
        self.labs = SqlLabs(self._conn)
        self.sessions = SqlSessions(self._conn, self._seals.links)
        self.otp = SqlOtp(self._conn)
        self.devices = SqlDevices(self._conn)
        self.assignments = SqlAssignments(self._conn)
        self.orders = SqlOrders(self._conn, self._seals)
        self.appeals = SqlAppeals(self._conn, self._seals)
        self.retention = SqlRetention(self._conn)
        self.maintenance = SqlMaintenance(self._conn)
        return self

    def commit(self) -> None:
        assert self._tx is not None  # noqa: S101 - only inside `with`
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        self._tx.commit()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None  # noqa: S101
        assert self._tx is not None  # noqa: S101
        try:
            if self._tx.is_active:
                self._tx.rollback()  # anything not committed explicitly is undone
            self._conn.close()
        finally:
            self._conn = self._tx = None
            self._release()

    def _release(self) -> None:
        if self._locked:
            self._locked = False
            assert self._write_lock is not None  # noqa: S101
            self._write_lock.release()


class SqlUnitOfWorkFactory:
    def __init__(
        self,
        engine: Engine,
        signer: CheckpointSigner,
        policy: CheckpointPolicy,
        seals: Seals,
    ):
        self.engine = engine
        self.signer = signer
        self.policy = policy
        self.seals = seals  # who a row is about: day keys, the links key, the vault key
        # Reentrant: a thread already inside a write transaction that opens another gets
        # SQLite's own answer (busy, then an error), as without this lock, not a deadlock.
        self.write_lock = threading.RLock() if engine.dialect.name == "sqlite" else None

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.engine,
            self.signer,
            self.policy,
            self.seals,
            read_only=read_only,
            write_lock=self.write_lock,
        )
