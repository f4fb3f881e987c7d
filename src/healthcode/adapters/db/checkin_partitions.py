"""Daily check-in partitions on PostgreSQL (the table is partitioned by migration 0007).

Each UTC day of time_in has its own partition `checkins_pYYYYMMDD`, made a few days ahead; rows
outside them land in `checkins_default`. Expiry drops a past day's partition: its file is
unlinked at once, instead of deleted rows lingering in pages until a vacuum reuses them.
Partition changes run under one advisory lock, so two processes never make the same day twice.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterable

from sqlalchemy import Connection

DAY = 86400
PREFIX = "checkins_p"
DEFAULT = "checkins_default"
_NAME = re.compile(r"^checkins_p(\d{8})$")
LOCK = 0x6863_7061_7274  # "hcpart": serialises partition changes across processes


def partition_name(day: int) -> str:
    return PREFIX + time.strftime("%Y%m%d", time.gmtime(day))


def is_partitioned(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def day_partitions(conn: Connection) -> dict[int, str]:
    """Start of day (epoch seconds) -> name of its partition."""
    rows = conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'checkins'::regclass"
    )
    found: dict[int, str] = {}
    for (name,) in rows:
        match = _NAME.match(name)
        if match:
            found[calendar.timegm(time.strptime(match.group(1), "%Y%m%d"))] = name
    return found


def _lock(conn: Connection) -> None:
    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK})")


def ensure_days(conn: Connection, days: Iterable[int]) -> int:
    """A partition for each of these days (day starts, in any order); rows of that day
    already in the default partition move into it. Returns how many partitions were made."""
    _lock(conn)
    existing = day_partitions(conn)
    made = 0
    for day in sorted(set(days)):
        if day in existing:
            continue
        name, end = partition_name(day), day + DAY
        conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE checkins INCLUDING DEFAULTS)")
        conn.exec_driver_sql(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE time_in >= {day} AND time_in < {end} "  # noqa: S608 - integers and our own names
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        )
        conn.exec_driver_sql(
            f"ALTER TABLE checkins ATTACH PARTITION {name} FOR VALUES FROM ({day}) TO ({end})"
        )
        made += 1
    return made


def drop_days_before(conn: Connection, before: int) -> tuple[int, int]:
    """Drop every day partition that ends at or before `before`: (rows, partitions) dropped."""
    _lock(conn)
    rows = partitions = 0
    for day, name in sorted(day_partitions(conn).items()):
        if day + DAY > before:
            continue
        rows += int(conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one())  # noqa: S608
        conn.exec_driver_sql(f"DROP TABLE {name}")
        partitions += 1
    return rows, partitions
