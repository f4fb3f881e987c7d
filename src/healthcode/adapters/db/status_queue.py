"""The queue of colour work left by traces (services/status_queue.py).

Each row names a person (sealed under the subject-links key, as their stored status), the case
and instant of the trace that found their exposures, and who traced and why. `take` holds the
rows it returns for the rest of the transaction: on PostgreSQL with FOR UPDATE SKIP LOCKED, so
that two workers never do the same person's work at once and neither waits for the other (a
take for named people waits instead, so that it returns after the other's commit); SQLite has
one writer at a time anyway.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, or_, select, text

from healthcode.adapters.db.repositories import each_in, keys_in, pg_array
from healthcode.adapters.db.sealing import LinkSeal
from healthcode.adapters.db.tables import status_queue
from healthcode.domain.audit import Actor
from healthcode.services.ports import QueuedColour

_ADD = (
    "INSERT INTO status_queue (subject_id, case_id, found_at, actor_role, actor_ref, reason)"
    " VALUES ({marks}) ON CONFLICT (subject_id, case_id, found_at)"
    " DO UPDATE SET reason = excluded.reason"
)
# PostgreSQL: every row in one statement, its columns as arrays (a trace queues hundreds of
# people; as one INSERT each in a pipeline they cost a tenth of the trace's time), each passed
# as the array's text (repositories.pg_array: psycopg's list dumper was a fifth of this call).
_ADD_ARRAYS = text(
    "INSERT INTO status_queue (subject_id, case_id, found_at, actor_role, actor_ref, reason)"
    " SELECT * FROM unnest(CAST(:subjects AS text[]), CAST(:cases AS text[]),"
    " CAST(:times AS bigint[]), CAST(:roles AS text[]), CAST(:refs AS text[]),"
    " CAST(:reasons AS text[]))"
    " ON CONFLICT (subject_id, case_id, found_at) DO UPDATE SET reason = excluded.reason"
)
_DONE = text(
    "DELETE FROM status_queue AS q"
    " USING unnest(CAST(:subjects AS text[]), CAST(:cases AS text[]), CAST(:times AS bigint[]))"
    " AS d(subject_id, case_id, found_at)"
    " WHERE q.subject_id = d.subject_id AND q.case_id = d.case_id AND q.found_at = d.found_at"
)


_KEY = (status_queue.c.subject_id, status_queue.c.case_id, status_queue.c.found_at)


class SqlStatusQueue:
    def __init__(self, conn: Connection, links: LinkSeal, touched: set[str] | None = None) -> None:
        self.conn = conn
        self.links = links
        self.touched = touched  # whom this transaction changes, for the status read model

    def add(self, items: list[QueuedColour]) -> None:
        if not items:
            return
        if self.touched is not None:
            self.touched.update(i.subject_id for i in items)
        sealed = self.links.seal([i.subject_id for i in items])
        rows = [
            (who, i.case_id, i.found_at, i.actor.role, i.actor.ref, i.reason)
            for i, who in zip(items, sealed, strict=True)
        ]
        # The same key again (a second trace of the case within the second): update, which on
        # PostgreSQL waits for a settler holding the row and inserts anew once it is done;
        # doing nothing would let that settler delete work it never saw.
        if self.conn.dialect.name == "postgresql":
            # One statement may not touch a row twice: a key given twice keeps its last row,
            # as the statement a row on SQLite does.
            rows = list({row[:3]: row for row in rows}.values())
            columns = list(zip(*rows, strict=True))
            names = ("subjects", "cases", "times", "roles", "refs", "reasons")
            self.conn.execute(_ADD_ARRAYS, dict(zip(names, map(pg_array, columns), strict=True)))
            return
        # SQLite, in the process: straight to the driver, a statement each.
        mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        self.conn.exec_driver_sql(_ADD.format(marks=", ".join([mark] * 6)), rows)

    def take(self, limit: int, subject_ids: list[str] | None = None) -> list[QueuedColour]:
        # Oldest first, by the index on found_at alone: ordering ties by more columns made the
        # database sort the whole queue for each batch taken (a batch of traces queues
        # hundreds of thousands of rows within seconds of each other).
        query: Any = select(status_queue).order_by(status_queue.c.found_at)
        if subject_ids is not None:
            sealed = list(self.links.find(subject_ids).values())
            if not sealed:
                return []
            query = query.where(or_(*each_in(self.conn, status_queue.c.subject_id, sealed)))
        query = query.limit(limit)
        if self.conn.dialect.name == "postgresql":
            # Anyone's work: skip what another settler holds. These people's: wait for it, so
            # that the caller reads their colour after that settler's commit.
            query = query.with_for_update(skip_locked=subject_ids is None)
        rows = list(self.conn.execute(query))
        if not rows:
            return []
        people = self.links.open([r.subject_id for r in rows])
        if people is None:  # the key is gone (sunset, which empties this table too)
            return []
        return [
            QueuedColour(who, r.case_id, r.found_at, Actor(r.actor_role, r.actor_ref), r.reason)
            for r, who in zip(rows, people, strict=True)
        ]

    def done(self, items: list[QueuedColour]) -> None:
        if not items:
            return
        if self.touched is not None:
            self.touched.update(i.subject_id for i in items)
        sealed = self.links.find([i.subject_id for i in items])
        keys = [
            (sealed[i.subject_id], i.case_id, i.found_at) for i in items if i.subject_id in sealed
        ]
        if self.conn.dialect.name == "postgresql":  # three arrays, one statement
            self.conn.execute(
                _DONE,
                {
                    "subjects": pg_array(k[0] for k in keys),
                    "cases": pg_array(k[1] for k in keys),
                    "times": pg_array(k[2] for k in keys),
                },
            )
            return
        for start in range(0, len(keys), 300):
            part = keys[start : start + 300]
            self.conn.execute(delete(status_queue).where(keys_in(self.conn, _KEY, part)))

    def waiting(self) -> tuple[int, int | None]:
        count, oldest = self.conn.execute(
            select(func.count(), func.min(status_queue.c.found_at))
        ).one()
        return int(count), oldest

    def has(self, subject_id: str) -> bool:
        sealed = self.links.find_one(subject_id)
        if sealed is None:
            return False
        query = select(status_queue.c.subject_id).where(status_queue.c.subject_id == sealed)
        return self.conn.execute(query.limit(1)).first() is not None
