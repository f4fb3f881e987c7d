"""Purge and sunset runs, and the sunset marker that closes the door to new personal data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, func, insert, literal, select

from healthcode.adapters.db.prepared import Prepared, pipelined
from healthcode.adapters.db.repositories import as_row, from_row
from healthcode.adapters.db.tables import maintenance_runs
from healthcode.services.ports import MaintenanceRun

# PostgreSQL advisory lock between writers of personal data (shared) and sunset (exclusive):
# a writer that found the emergency still on finishes before sunset erases, and a writer that
# starts later sees the marker. On SQLite every writer already holds the database's write lock.
SUNSET_LOCK = 0x6863_7375_6E73  # "hcsuns"


_SUNSET = Prepared(
    select(func.min(maintenance_runs.c.finished_at).label("finished_at")).where(
        and_(maintenance_runs.c.kind == "sunset", maintenance_runs.c.outcome == "ok")
    )
)
_SHARED = Prepared(select(func.pg_advisory_xact_lock_shared(literal(SUNSET_LOCK))))


class SqlMaintenance:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._sunset: tuple[int | None] | None = None  # read once per transaction

    def record(self, run: MaintenanceRun) -> None:
        self._sunset = None
        self.conn.execute(insert(maintenance_runs).values(**as_row(run)))

    def last(self, kind: str, outcome: str | None = None) -> MaintenanceRun | None:
        query = select(maintenance_runs).where(maintenance_runs.c.kind == kind)
        if outcome is not None:
            query = query.where(maintenance_runs.c.outcome == outcome)
        row = self.conn.execute(
            query.order_by(maintenance_runs.c.finished_at.desc(), maintenance_runs.c.run_id)
        ).first()
        return from_row(MaintenanceRun, row) if row else None

    def sunset_at(self) -> int | None:
        """When the emergency ended. Asked once per transaction (the shared lock is held until
        it ends, and the pieces of work committed together each ask): the answer cannot change
        before, as sunset waits for the exclusive lock."""
        if self._sunset is not None:
            return self._sunset[0]
        self.took(pipelined(self.conn, self.ahead()))  # the lock, then the marker: one round trip
        assert self._sunset is not None  # noqa: S101 - `took` read it
        return self._sunset[0]

    def ahead(self) -> list[tuple[Prepared, dict[str, Any]]]:
        """The sunset's lock (PostgreSQL) and marker, unless read in this transaction already
        (prepared.ReadAhead: they can travel in another statement's round trip)."""
        if self._sunset is not None:
            return []
        if self.conn.dialect.name == "postgresql":
            return [(_SHARED, {}), (_SUNSET, {})]
        return [(_SUNSET, {})]

    def took(self, answers: list[list[Any]]) -> None:
        found = _SUNSET.row(self.conn, answers[-1]).finished_at
        self._sunset = (int(found) if found is not None else None,)

    def hold_for_sunset(self) -> None:
        if self.conn.dialect.name == "postgresql":
            self.conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SUNSET_LOCK})")
