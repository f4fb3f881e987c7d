"""The check-in repository (venue-scoped table, see tables.checkins).

Who visited is stored encrypted under the key of the check-in's UTC day (RET-1,
adapters/crypto/checkin_keys.py): the column `subject_id` holds AES-256 of the subject id under
that day's key, never the subject id itself. Writes encrypt, a batch in one call per day; reads
by venue decrypt, a day at a time; reads by person look up the person's value for each day of
the window in one IN list. Rows of a day whose key is destroyed are past retention: they are
nobody's any more, and reads leave them out.

Bulk inserts go around SQLAlchemy's per-row work: plain tuples in large `executemany` calls on
SQLite, COPY on PostgreSQL with psycopg (both measured by bench/ingest.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import fields
from itertools import groupby, repeat
from operator import itemgetter
from typing import Any, Protocol

from sqlalchemy import Connection, Row, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from healthcode.adapters.db.prepared import Prepared
from healthcode.adapters.db.repositories import as_row
from healthcode.adapters.db.tables import checkins
from healthcode.domain.checkins import DAY, CheckIn, CheckInBatch, CheckInSource
from healthcode.domain.tracing import Overlapping
from healthcode.services.ports import DayRows

COLUMNS = tuple(column.name for column in checkins.columns)
INSERT_QMARK = (
    f"INSERT INTO checkins ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"  # noqa: S608
)
FOREVER = 2**62  # an open-ended window ends here
LOOKUP_CHUNK = 900  # subject ids per query (SQLite allowed at most 999 parameters until 3.32)
PG_LOOKUP_CHUNK = 50_000  # values per array parameter (PostgreSQL)
VENUE_CHUNK = 250  # venues per statement on PostgreSQL (see _with_client_ids)
WRITE_PART = 200_000  # rows per executemany, and per progress report
BULK_CACHE_KIB = 256 * 1024  # SQLite page cache while bulk inserting (default: 2 MiB)


@contextmanager
def _page_cache(conn: Connection, kib: int) -> Iterator[None]:
    """A bigger SQLite page cache for this connection while inside, then the old size again:
    a bulk insert touches index pages all over, and re-reading them is what costs."""
    old = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(old)}")


# Selected in CheckIn's field order, so that a row becomes a CheckIn without a dict per row:
# tracing reads thousands of check-ins per case.
FIELDS = [checkins.c[f.name] for f in fields(CheckIn)]
SOURCES = {source.value: source for source in CheckInSource}


def _in_key_order(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows sorted by the table's key (venue_id, checkin_id), as sorting the tuples would: a
    sort on the venue alone, then each venue's rows by id. A third of the time of sorting the
    tuples (two tuples cost more to compare than two strings, and the small sorts stay in the
    processor's cache)."""
    rows.sort(key=itemgetter(0))
    by_id = itemgetter(1)
    ordered: list[tuple[Any, ...]] = []
    for _, group in groupby(rows, itemgetter(0)):
        ordered += sorted(group, key=by_id)
    return ordered


def _days(times_in: list[int]) -> dict[int, list[int]]:
    """The positions of each UTC day's check-ins, in order, by the day's start."""
    by_day: dict[int, list[int]] = {}
    for index, time_in in enumerate(times_in):
        day = time_in - time_in % DAY
        found = by_day.get(day)
        if found is None:
            by_day[day] = [index]
        else:
            found.append(index)
    return dict(sorted(by_day.items()))


class SubjectCipher(Protocol):
    """Per-UTC-day encryption of the subject of a check-in (adapters/crypto/checkin_keys.py)."""

    def seal(self, day: int, subject_ids: Sequence[str]) -> list[str]:
        """The stored form of each subject id on this day (the day's key made on first use)."""

    def open(self, day: int, sealed: Sequence[str]) -> list[str] | None:
        """The subject ids behind stored values of this day; None if the day's key is gone."""

    def pseudonyms(self, subject_id: str, first: int, last: int) -> dict[int, str]:
        """Day -> stored form of the subject, for each day in [first, last] that has a key."""


def _day(instant: int) -> int:
    return instant - instant % DAY


# The single check-in's statements, built once (building one costs more than running it).
_INSERT = insert(checkins)
_INSERT_ONE = Prepared(_INSERT)  # every column given: straight through the driver
_OF_PSEUDONYMS = checkins.c.subject_id.in_(bindparam("pseudonyms", expanding=True))
_TIMES_SINCE = select(checkins.c.subject_id, checkins.c.time_in).where(
    and_(_OF_PSEUDONYMS, checkins.c.time_in >= bindparam("since"))
)


_LIVE = "SELECT subject_id FROM subjects WHERE subject_id = ANY(%b) AND erased_at IS NULL"
_LIVE_HELD = _LIVE + " FOR SHARE"
_LIVE_SQLITE = (
    "SELECT s.subject_id FROM json_each(?) AS k CROSS JOIN subjects AS s "
    "ON s.subject_id = k.value WHERE s.erased_at IS NULL"
)


def _checkin(row: Row[Any], subject_id: str) -> CheckIn:
    venue_id, checkin_id, _sealed, time_in, closes_at, source, time_out, client_id = row
    return CheckIn(
        venue_id, checkin_id, subject_id, time_in, closes_at, SOURCES[source], time_out, client_id
    )


def _table_rows(
    batch: CheckInBatch, sealed: Sequence[str], at: list[int] | None = None
) -> list[tuple[Any, ...]]:
    """Rows of the table (COLUMNS' order) from the batch's columns, all of them or those at
    `at`, with their subjects' stored values: made by zip, without a Python step per row."""

    def column(values: Sequence[Any]) -> Iterable[Any]:
        return values if at is None else map(values.__getitem__, at)

    return list(
        zip(
            column(batch.venue_ids),
            column(batch.checkin_ids),
            sealed,
            column(batch.times_in),
            column(batch.closes_at),
            column(batch.times_out),
            repeat(batch.source.value, len(sealed)),
            column(batch.client_ids),
            strict=True,
        )
    )


class SqlCheckIns:
    def __init__(self, conn: Connection, cipher: SubjectCipher) -> None:
        self.conn = conn
        self.cipher = cipher

    def add(self, checkin: CheckIn) -> None:
        _INSERT_ONE.run(self.conn, self._stored_rows([checkin])[0])

    def add_all(self, made: Sequence[CheckIn]) -> None:
        """Each day's people sealed in one call, the rows sent in one pipeline."""
        _INSERT_ONE.run_many(self.conn, self._stored_rows(made))

    def _stored_rows(self, made: Sequence[CheckIn]) -> list[dict[str, Any]]:
        """The check-ins as the table stores them, in order: each day's people sealed under
        the day's key in one call."""
        stored: list[str] = [""] * len(made)
        for day, indexes in _days([c.time_in for c in made]).items():
            sealed = self.cipher.seal(day, [made[i].subject_id for i in indexes])
            for index, value in zip(indexes, sealed, strict=True):
                stored[index] = value
        return [
            {**as_row(c), "subject_id": value, "source": c.source.value}
            for c, value in zip(made, stored, strict=True)
        ]

    def add_new(self, found: Sequence[CheckIn]) -> int:
        """Add those of these check-ins that are not stored yet (by venue and id, or venue and
        client id) and whose person is a live resident; how many were added. What a consumer
        of the ingest buffer writes: a message delivered again after a commit whose
        acknowledgement was lost is stored once."""
        gone = self._not_live({c.subject_id for c in found}, hold=True)
        rows = self._stored_rows([c for c in found if c.subject_id not in gone])
        if not rows:
            return 0
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(checkins).on_conflict_do_nothing().returning(checkins.c.checkin_id)
        added = 0
        for start in range(0, len(rows), WRITE_PART):
            added += len(self.conn.execute(stmt, rows[start : start + WRITE_PART]).all())
        return added

    def _opened(self, rows: Sequence[Row[Any]]) -> list[CheckIn]:
        """Rows as check-ins, in their order, each day's subjects decrypted in one call; rows
        of a day whose key is gone are left out (past retention: nobody's any more)."""
        subjects: list[str | None] = [None] * len(rows)
        for day, indexes in _days([row.time_in for row in rows]).items():
            opened = self.cipher.open(day, [rows[i].subject_id for i in indexes])
            if opened is not None:
                for index, subject_id in zip(indexes, opened, strict=True):
                    subjects[index] = subject_id
        return [
            _checkin(row, subject_id)
            for row, subject_id in zip(rows, subjects, strict=True)
            if subject_id is not None
        ]

    @staticmethod
    def _is_theirs(mine: dict[int, str], row: Any) -> bool:
        """The row's stored value is the person's value for the row's own day (not merely for
        another day of the window: a 2^-128 chance, but exact is cheap)."""
        return bool(mine.get(_day(row.time_in)) == row.subject_id)

    def add_batch(
        self,
        batch: CheckInBatch,
        *,
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> set[str]:
        """The subject ids of the batch that are not live residents (unknown or erased), checked
        once and held until the transaction ends (see _not_live). Unless there are any, or this
        is a dry run, the check-ins are added in venue order, `progress(n)` as each n are
        written."""
        gone = self._not_live(set(batch.subject_ids), hold=not dry_run)
        if gone or dry_run or not len(batch):
            return gone
        # In key order, B-tree inserts land on pages just touched: measured 1.5x faster.
        days = _days(batch.times_in)
        dialect = self.conn.dialect
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            # A day at a time: each day is a partition of its own (checkin_partitions.py).
            self._copy((_in_key_order(self._rows(batch, *day)) for day in days.items()), progress)
            return gone
        rows = _in_key_order(self._all_rows(batch, days))
        with _page_cache(self.conn, BULK_CACHE_KIB) if dialect.name == "sqlite" else nullcontext():
            for start in range(0, len(rows), WRITE_PART):
                part = rows[start : start + WRITE_PART]
                if dialect.name == "sqlite":
                    self.conn.exec_driver_sql(INSERT_QMARK, part)  # type: ignore[arg-type]
                else:
                    self.conn.execute(_INSERT, [dict(zip(COLUMNS, r, strict=True)) for r in part])
                if progress is not None:
                    progress(len(part))
        return gone

    def _all_rows(self, batch: CheckInBatch, days: dict[int, list[int]]) -> list[tuple[Any, ...]]:
        """The whole batch as the table's rows, in the batch's order: each UTC day's subjects
        sealed in one call, then the rows made from the columns as they lie (measured 1.3-1.7 s
        for a million, where _rows day by day took 2.0-2.4 s)."""
        sealed: list[str] = [""] * len(batch)
        for day, at in days.items():
            values = self.cipher.seal(day, list(map(batch.subject_ids.__getitem__, at)))
            for index, value in zip(at, values, strict=True):
                sealed[index] = value
        return _table_rows(batch, sealed)

    def _rows(self, batch: CheckInBatch, day: int, at: list[int]) -> list[tuple[Any, ...]]:
        """The check-ins of the batch at these positions, all of this UTC day, as the table's
        rows: their subjects sealed under the day's key in one call."""
        sealed = self.cipher.seal(day, list(map(batch.subject_ids.__getitem__, at)))
        return _table_rows(batch, sealed, at)

    def _copy(
        self, parts: Iterator[list[tuple[Any, ...]]], progress: Callable[[int], None] | None = None
    ) -> None:
        """COPY the rows of each part into the table, inside the unit of work's transaction,
        `progress(n)` as each n rows (WRITE_PART at most) are handed to the sending thread: a
        thread of psycopg's sends what this one has formatted (up to 32 MiB ahead), so that the
        next part is made and formatted while the server stores the ones before (the server
        sets the pace; the rows count once the commit returns)."""
        from psycopg.copy import QueuedLibpqWriter  # only PostgreSQL's processes need psycopg

        driver = self.conn.connection.driver_connection
        assert driver is not None  # noqa: S101 - a live connection
        with (
            driver.cursor() as cursor,
            cursor.copy(
                f"COPY checkins ({', '.join(COLUMNS)}) FROM STDIN",
                writer=QueuedLibpqWriter(cursor),
            ) as copy,
        ):
            write = copy.write_row
            for part in parts:
                for start in range(0, len(part), WRITE_PART):  # a big day reports as it goes
                    some = part[start : start + WRITE_PART]
                    for row in some:
                        write(row)
                    if progress is not None:
                        progress(len(some))

    def _not_live(self, subject_ids: set[str], *, hold: bool = False) -> set[str]:
        """Those of `subject_ids` that are not live residents (unknown or erased). With `hold`,
        the answer stands until the transaction ends: SQLite's write transaction already keeps
        every other writer out; on PostgreSQL the live ones are locked FOR SHARE, so an erasure
        (an UPDATE of their rows) waits for this transaction, and one that committed first is
        seen (the lock rechecks the row)."""
        wanted = sorted(subject_ids)
        live: set[str] = set()
        if self.conn.dialect.name == "postgresql":
            query = _LIVE_HELD if hold else _LIVE
            for start in range(0, len(wanted), PG_LOOKUP_CHUNK):
                chunk = wanted[start : start + PG_LOOKUP_CHUNK]
                found = self.conn.exec_driver_sql(query, (chunk,))
                live.update(found.scalars().all())
            return subject_ids - live
        # SQLite: the lot in one statement, as a JSON array
        found = self.conn.exec_driver_sql(_LIVE_SQLITE, (json.dumps(wanted),))
        return subject_ids - set(found.scalars().all())

    def stored_client_ids(self, pairs: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (venue_id, client_id) pairs are stored. First the venues that have
        any check-in with a client id (one index probe each), then the pairs of those venues
        alone (one probe each): a venue that never uploaded costs one probe, not one a pair."""
        venue_ids = {venue_id for venue_id, _ in pairs}
        uploaded = self._with_client_ids(list(venue_ids))
        wanted = [pair for pair in set(pairs) if pair[0] in uploaded]
        found: set[tuple[str, str]] = set()
        if self.conn.dialect.name == "postgresql":
            for start in range(0, len(wanted), PG_LOOKUP_CHUNK):
                chunk = wanted[start : start + PG_LOOKUP_CHUNK]
                rows = self.conn.exec_driver_sql(
                    "SELECT c.venue_id, c.client_id FROM checkins c "
                    "JOIN unnest(%b::varchar[], %b::varchar[]) AS k(venue_id, client_id) "
                    "ON c.venue_id = k.venue_id AND c.client_id = k.client_id",
                    ([v for v, _ in chunk], [c for _, c in chunk]),
                )
                found.update((v, c) for v, c in rows)
            return found
        mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        for start in range(0, len(wanted), LOOKUP_CHUNK // 2):
            chunk = wanted[start : start + LOOKUP_CHUNK // 2]
            values = ", ".join([f"({mark}, {mark})"] * len(chunk))
            rows = self.conn.exec_driver_sql(
                f"WITH k(venue_id, client_id) AS (VALUES {values}) "  # noqa: S608 - placeholders only
                "SELECT c.venue_id, c.client_id FROM k CROSS JOIN checkins c "
                "ON c.venue_id = k.venue_id AND c.client_id = k.client_id",
                tuple(value for pair in chunk for value in pair),
            )
            found.update((v, c) for v, c in rows)
        return found

    def _with_client_ids(self, venue_ids: list[str]) -> set[str]:
        """Those of these venues with at least one stored check-in that has a client id."""
        found: set[str] = set()
        if self.conn.dialect.name == "postgresql":
            # A few hundred venues a statement: the planner's estimate grows with the venues
            # and the day partitions, and past a threshold PostgreSQL compiles the query (JIT),
            # which costs far more than these index probes.
            for start in range(0, len(venue_ids), VENUE_CHUNK):
                rows = self.conn.exec_driver_sql(
                    "SELECT k.venue_id FROM unnest(%b::varchar[]) AS k(venue_id) "
                    "WHERE EXISTS (SELECT FROM checkins c WHERE c.venue_id = k.venue_id "
                    "AND c.client_id IS NOT NULL)",
                    (venue_ids[start : start + VENUE_CHUNK],),
                )
                found.update(rows.scalars().all())
            return found
        mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        for start in range(0, len(venue_ids), LOOKUP_CHUNK):
            chunk = tuple(venue_ids[start : start + LOOKUP_CHUNK])
            rows = self.conn.exec_driver_sql(
                f"WITH k(venue_id) AS (VALUES {', '.join([f'({mark})'] * len(chunk))}) "  # noqa: S608 - placeholders only
                "SELECT k.venue_id FROM k WHERE EXISTS (SELECT 1 FROM checkins c "
                "WHERE c.venue_id = k.venue_id AND c.client_id IS NOT NULL)",
                chunk,
            )
            found.update(rows.scalars().all())
        return found

    def get(self, venue_id: str, checkin_id: str) -> CheckIn | None:
        row = self.conn.execute(
            select(*FIELDS).where(
                and_(checkins.c.venue_id == venue_id, checkins.c.checkin_id == checkin_id)
            )
        ).first()
        found = self._opened([row]) if row else []
        return found[0] if found else None

    def set_time_out(self, checkin: CheckIn, time_out: int) -> None:
        self.conn.execute(
            update(checkins)
            .where(
                and_(
                    checkins.c.venue_id == checkin.venue_id,
                    checkins.c.checkin_id == checkin.checkin_id,
                )
            )
            .values(time_out=time_out)
        )

    def client_ids(self, venue_id: str, client_ids: list[str]) -> set[str]:
        """Which of these offline scan ids this venue has already uploaded."""
        found: set[str] = set()
        for start in range(0, len(client_ids), 500):
            rows = self.conn.execute(
                select(checkins.c.client_id).where(
                    and_(
                        checkins.c.venue_id == venue_id,
                        checkins.c.client_id.in_(client_ids[start : start + 500]),
                    )
                )
            )
            found.update(r.client_id for r in rows)
        return found

    def count_since(self, subject_id: str, since: int) -> int:
        mine = self.cipher.pseudonyms(subject_id, since, FOREVER)
        if not mine:
            return 0
        rows = self.conn.execute(_TIMES_SINCE, {"pseudonyms": list(mine.values()), "since": since})
        return sum(1 for row in rows if self._is_theirs(mine, row))

    def overlapping(self, ask: Overlapping) -> list[CheckIn]:
        """Visits that meet `ask`'s bounds: the same range scan on (venue_id, time_in), the
        ends checked before any subject is decrypted, so only the rows that overlap are."""
        ends = func.coalesce(checkins.c.time_out, checkins.c.closes_at)
        rows = self.conn.execute(
            select(*FIELDS).where(
                and_(
                    checkins.c.venue_id == ask.venue_id,
                    checkins.c.time_in >= ask.first_start,
                    checkins.c.time_in <= ask.last_start,
                    ends >= ask.earliest_end,
                    ends - checkins.c.time_in >= ask.shortest,
                )
            )
        )
        return self._opened(rows.all())

    def of_subject_between(self, subject_id: str, first: int, last: int) -> list[CheckIn]:
        mine = self.cipher.pseudonyms(subject_id, first, last)
        if not mine:
            return []
        rows = self.conn.execute(
            select(*FIELDS)
            .where(
                and_(
                    checkins.c.subject_id.in_(list(mine.values())),
                    checkins.c.time_in >= first,
                    checkins.c.time_in <= last,
                )
            )
            .order_by(checkins.c.time_in)
        )
        return [_checkin(r, subject_id) for r in rows if self._is_theirs(mine, r)]

    def day_counts(self, days: Sequence[int]) -> dict[int, int]:
        """One pass over the check-ins of these days (the (venue_id, time_in) index covers
        it), counted per day."""
        if not days:
            return {}
        day = (checkins.c.time_in - checkins.c.time_in % DAY).label("day")
        rows = self.conn.execute(
            select(day, func.count())
            .where(and_(checkins.c.time_in >= min(days), checkins.c.time_in < max(days) + DAY))
            .group_by(day)
        )
        counted = {int(d): int(n) for d, n in rows}
        return {d: counted.get(d, 0) for d in days}

    def day_rows(self, day: int) -> DayRows:
        ends = func.coalesce(checkins.c.time_out, checkins.c.closes_at)
        rows = self.conn.execute(
            select(
                checkins.c.venue_id, checkins.c.checkin_id, checkins.c.subject_id,
                checkins.c.time_in, ends,
            ).where(and_(checkins.c.time_in >= day, checkins.c.time_in < day + DAY))
        ).all()  # fmt: skip
        columns: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)] or [[]] * 5
        return DayRows(*columns)

    def of_subject(self, subject_id: str, since: int) -> list[CheckIn]:
        mine = self.cipher.pseudonyms(subject_id, since, FOREVER)
        if not mine:
            return []
        rows = self.conn.execute(
            select(*FIELDS)
            .where(
                and_(checkins.c.subject_id.in_(list(mine.values())), checkins.c.time_in >= since)
            )
            .order_by(checkins.c.time_in.desc())
        )
        return [_checkin(r, subject_id) for r in rows if self._is_theirs(mine, r)]
