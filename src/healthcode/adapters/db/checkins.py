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

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from typing import Any, Protocol

from sqlalchemy import Connection, Row, and_, bindparam, insert, select, update

from healthcode.adapters.db.prepared import Prepared
from healthcode.adapters.db.repositories import as_row
from healthcode.adapters.db.tables import checkins, subjects
from healthcode.domain.checkins import CheckIn, CheckInSource

COLUMNS = tuple(column.name for column in checkins.columns)
INSERT_QMARK = (
    f"INSERT INTO checkins ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"  # noqa: S608
)
DAY = 86400
FOREVER = 2**62  # an open-ended window ends here
LOOKUP_CHUNK = 900  # subject ids per query (SQLite allowed at most 999 parameters until 3.32)
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


def _checkin(row: Row[Any], subject_id: str) -> CheckIn:
    venue_id, checkin_id, _sealed, time_in, closes_at, source, time_out, client_id = row
    return CheckIn(
        venue_id, checkin_id, subject_id, time_in, closes_at, SOURCES[source], time_out, client_id
    )


class SqlCheckIns:
    def __init__(self, conn: Connection, cipher: SubjectCipher) -> None:
        self.conn = conn
        self.cipher = cipher

    def add(self, checkin: CheckIn) -> None:
        (sealed,) = self.cipher.seal(_day(checkin.time_in), [checkin.subject_id])
        row = {**as_row(checkin), "subject_id": sealed, "source": checkin.source.value}
        _INSERT_ONE.run(self.conn, row)

    def _sealed(self, checkins: Sequence[CheckIn]) -> list[str]:
        """The stored subject of each check-in: one encryption call per UTC day."""
        by_day: dict[int, list[int]] = {}
        for index, checkin in enumerate(checkins):
            by_day.setdefault(_day(checkin.time_in), []).append(index)
        sealed = [""] * len(checkins)
        for day, indexes in by_day.items():
            values = self.cipher.seal(day, [checkins[i].subject_id for i in indexes])
            for index, value in zip(indexes, values, strict=True):
                sealed[index] = value
        return sealed

    def _opened(self, rows: Sequence[Row[Any]]) -> list[CheckIn]:
        """Rows as check-ins, in their order, each day's subjects decrypted in one call; rows
        of a day whose key is gone are left out (past retention: nobody's any more)."""
        by_day: dict[int, list[int]] = {}
        for index, row in enumerate(rows):
            by_day.setdefault(_day(row.time_in), []).append(index)
        subjects: list[str | None] = [None] * len(rows)
        for day, indexes in by_day.items():
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

    def add_many(self, checkins: list[CheckIn], *, dry_run: bool = False) -> set[str]:
        """The subject ids among `checkins` that are not live residents (unknown or erased).
        Unless there are any, or this is a dry run, the check-ins are added."""
        gone = self._not_live({c.subject_id for c in checkins})
        if gone or dry_run or not checkins:
            return gone
        sources = {source: source.value for source in CheckInSource}
        rows = [
            (
                c.venue_id,
                c.checkin_id,
                sealed,
                c.time_in,
                c.closes_at,
                c.time_out,
                sources[c.source],
                c.client_id,
            )
            for c, sealed in zip(checkins, self._sealed(checkins), strict=True)
        ]
        # In key order, B-tree inserts land on pages just touched: measured 1.5x faster.
        rows.sort()
        dialect = self.conn.dialect
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            self._copy(rows)
        elif dialect.name == "sqlite":
            with _page_cache(self.conn, BULK_CACHE_KIB):
                self.conn.exec_driver_sql(INSERT_QMARK, rows)  # type: ignore[arg-type]
        else:
            self.conn.execute(_INSERT, [dict(zip(COLUMNS, r, strict=True)) for r in rows])
        return gone

    def _copy(self, rows: list[tuple[Any, ...]]) -> None:
        """COPY into the table, inside the unit of work's transaction."""
        driver = self.conn.connection.driver_connection
        assert driver is not None  # noqa: S101 - a live connection
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY checkins ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def _not_live(self, subject_ids: set[str]) -> set[str]:
        wanted = sorted(subject_ids)
        live: set[str] = set()
        if self.conn.dialect.name == "postgresql":
            for start in range(0, len(wanted), 50_000):
                found = self.conn.exec_driver_sql(
                    "SELECT subject_id FROM subjects WHERE subject_id = ANY(%s) "
                    "AND erased_at IS NULL",
                    (wanted[start : start + 50_000],),
                )
                live.update(found.scalars().all())
            return subject_ids - live
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start : start + LOOKUP_CHUNK]
            found = self.conn.execute(
                select(subjects.c.subject_id).where(
                    and_(subjects.c.subject_id.in_(chunk), subjects.c.erased_at.is_(None))
                )
            )
            live.update(found.scalars().all())
        return subject_ids - live

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

    def at_venue_between(self, venue_id: str, first: int, last: int) -> list[CheckIn]:
        """Visits that started in [first, last]: a range scan on (venue_id, time_in)."""
        rows = self.conn.execute(
            select(*FIELDS).where(
                and_(
                    checkins.c.venue_id == venue_id,
                    checkins.c.time_in >= first,
                    checkins.c.time_in <= last,
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
