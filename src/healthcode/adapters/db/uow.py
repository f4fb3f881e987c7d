"""Unit of work: one database transaction with every repository bound to it."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine, RootTransaction

from healthcode.adapters.db.cases import SqlCases
from healthcode.adapters.db.checkins import SqlCheckIns
from healthcode.adapters.db.engine import READ_ONLY
from healthcode.adapters.db.health_facts import SqlExposures, SqlHealthFacts
from healthcode.adapters.db.log_store import CheckpointPolicy, CheckpointSigner, SqlAuditLog
from healthcode.adapters.db.repositories import SqlKeys, SqlSubjects, SqlTrustLists, SqlVenues
from healthcode.adapters.db.status import SqlNotices, SqlRuleSets, SqlStatuses
from healthcode.adapters.db.vault import SqlVault


class SqlUnitOfWork:
    def __init__(
        self,
        engine: Engine,
        signer: CheckpointSigner,
        policy: CheckpointPolicy,
        *,
        read_only: bool = False,
    ):
        self.engine = engine
        self._signer = signer
        self._policy = policy
        self._read_only = read_only
        self._conn: Connection | None = None
        self._tx: RootTransaction | None = None

    def __enter__(self) -> SqlUnitOfWork:
        self._conn = self.engine.connect()
        if self._read_only:
            self._conn.execution_options(**{READ_ONLY: True})
            if self.engine.dialect.name == "postgresql":
                self._conn.execution_options(postgresql_readonly=True)
        self._tx = self._conn.begin()
        self.subjects = SqlSubjects(self._conn)
        self.vault = SqlVault(self._conn)
        self.venues = SqlVenues(self._conn)
        self.keys = SqlKeys(self._conn)
        self.trust_lists = SqlTrustLists(self._conn)
        self.log = SqlAuditLog(self._conn, self._signer, self._policy)
        self.checkins = SqlCheckIns(self._conn)
        self.cases = SqlCases(self._conn)
        self.exposures = SqlExposures(self._conn)
        self.health_facts = SqlHealthFacts(self._conn)
        self.rulesets = SqlRuleSets(self._conn)
        self.statuses = SqlStatuses(self._conn)
        self.notices = SqlNotices(self._conn)
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
        if self._tx.is_active:
            self._tx.rollback()  # anything not committed explicitly is undone
        self._conn.close()
        self._conn = self._tx = None


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine, signer: CheckpointSigner, policy: CheckpointPolicy):
        self.engine = engine
        self.signer = signer
        self.policy = policy

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.signer, self.policy, read_only=read_only)
