"""Deleting personal data: past its retention (purge), or all of it when the emergency ends.

On PostgreSQL past days' check-in partitions are dropped whole (adapters/db/checkin_partitions);
leftovers in the partly expired day and in the default partition are deleted row by row. On
SQLite rows are deleted with `secure_delete` on (engine.py), which overwrites them in place, and
`reclaim` checkpoints the write-ahead log and truncates it, so no copy is left in either file.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Table, and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import OperationalError

from healthcode.adapters.db import checkin_partitions
from healthcode.adapters.db.tables import (
    appeals,
    case_assignments,
    cases,
    checkins,
    device_tokens,
    exposures,
    guardianships,
    health_facts,
    lab_results,
    lab_samples,
    manual_orders,
    notices,
    order_subjects,
    otp_challenges,
    sessions,
    status_queue,
    statuses,
    subjects,
    venues,
)
from healthcode.domain.errors import Unavailable
from healthcode.services.ports import PurgedCheckIns

DAY = 86400
CHECKPOINT_TRIES = 20  # a reader still on an old snapshot makes TRUNCATE wait; try again
# Every table whose rows are about a person, deleted whole at sunset (the vault apart: only
# its repository touches it). Children before parents.
PERSONAL_TABLES: tuple[Table, ...] = (
    notices,
    exposures,
    health_facts,
    status_queue,
    statuses,
    case_assignments,
    cases,
    lab_results,
    lab_samples,
    order_subjects,
    appeals,
    sessions,
    otp_challenges,
    device_tokens,
    guardianships,
)


class SqlRetention:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def ensure_checkin_days(self, days: Iterable[int], *, lock_wait_ms: int | None = None) -> int:
        if not checkin_partitions.is_partitioned(self.conn):
            return 0
        if lock_wait_ms is None:
            return checkin_partitions.ensure_days(self.conn, days)
        self.conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(lock_wait_ms)}")
        try:
            return checkin_partitions.ensure_days(self.conn, days)
        except OperationalError as exc:  # a lock not had in time (or the server's refusal)
            raise Unavailable("the check-in partitions could not be made now") from exc

    def purge_checkins(self, before: int) -> PurgedCheckIns:
        rows = partitions = 0
        if checkin_partitions.is_partitioned(self.conn):
            rows, partitions = checkin_partitions.drop_days_before(self.conn, before)
        rows += self.conn.execute(delete(checkins).where(checkins.c.time_in < before)).rowcount
        return PurgedCheckIns(rows, partitions)

    def purge_exposures(self, before: int) -> int:
        return self.conn.execute(delete(exposures).where(exposures.c.start < before)).rowcount

    def purge_health_facts(self, before: int, kinds: Sequence[str]) -> int:
        done = self.conn.execute(
            delete(health_facts).where(
                and_(health_facts.c.time < before, health_facts.c.kind.in_(list(kinds)))
            )
        )
        return done.rowcount

    def purge_notices(self, before: int) -> int:
        exposure_gone = ~exists().where(exposures.c.exposure_id == notices.c.exposure_id)
        done = self.conn.execute(
            delete(notices).where(or_(notices.c.day + DAY <= before, exposure_gone))
        )
        return done.rowcount

    def purge_sessions(self, before: int, idle_seconds: int, absolute_seconds: int) -> int:
        done = self.conn.execute(
            delete(sessions).where(
                or_(
                    sessions.c.ended_at < before,
                    sessions.c.last_seen < before - idle_seconds,
                    sessions.c.created_at < before - absolute_seconds,
                )
            )
        )
        return done.rowcount

    def erase_personal(self, now: int) -> dict[str, int]:
        counts = {"checkins": self._erase_checkins()}
        for table in PERSONAL_TABLES:
            counts[table.name] = self.conn.execute(delete(table)).rowcount
        counts["subjects_erased"] = self.conn.execute(
            update(subjects).where(subjects.c.erased_at.is_(None)).values(erased_at=now)
        ).rowcount
        # An order's record (colour, basis, officers, how many people) stays; its reason, which
        # speaks about the people it named, goes. So does a venue operator's name.
        counts["order_reasons"] = self.conn.execute(
            update(manual_orders).where(manual_orders.c.reason != "").values(reason="")
        ).rowcount
        counts["venue_operators"] = self.conn.execute(
            update(venues).where(venues.c.operator != "").values(operator="")
        ).rowcount
        return counts

    def _erase_checkins(self) -> int:
        if not checkin_partitions.is_partitioned(self.conn):
            return self.conn.execute(delete(checkins)).rowcount
        rows, _ = checkin_partitions.drop_days_before(self.conn, 2**62)
        count = self.conn.execute(select(func.count()).select_from(checkins)).scalar_one()
        self.conn.exec_driver_sql("TRUNCATE checkins")  # the default partition's rows
        return rows + int(count)

    def reclaim(self) -> None:
        if self.conn.dialect.name != "sqlite":
            return
        # On the driver's connection: it is in autocommit mode between transactions, while a
        # statement through SQLAlchemy would begin one (engine.py), and a checkpoint inside a
        # transaction cannot truncate the log.
        driver = self.conn.connection.driver_connection
        assert driver is not None  # noqa: S101 - a live connection
        for _ in range(CHECKPOINT_TRIES):
            busy, _log, _done = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return
            time.sleep(0.05)
        raise Unavailable("the write-ahead log could not be checkpointed: readers kept it busy")
