"""Engines for the embedded default (SQLite, WAL) and production (PostgreSQL)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url

READ_ONLY = "healthcode_read_only"  # execution option of read-only units of work
ONE_STATEMENT = "healthcode_one_statement"  # ... that read with a single statement
# How repositories.each_in passes a list of values on PostgreSQL: one array parameter, read
# from its text once (`column = ANY (CAST(:values AS TEXT[]))`).
VALUES_ARRAY = "= ANY (CAST("
# A pooled PostgreSQL connection is pinged before use only when it has been idle this long: under
# load the group-commit writer takes a connection every millisecond or two, and a ping each time
# was a round trip in every batch (ARCHITECTURE, "Check-ins").
PING_AFTER_IDLE_SECONDS = 1.0


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, **kwargs)
        event.listen(engine, "do_execute", _plan_for_the_values)
        _ping_when_idle(engine)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None hands transaction control to us, so that every write transaction
    # starts with BEGIN IMMEDIATE: it takes the write lock up front instead of failing to
    # upgrade a read lock halfway through (SQLITE_BUSY under concurrent writers).
    engine = create_engine(
        url,
        connect_args={"timeout": 30, "check_same_thread": False},
        isolation_level=None,
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before it is acknowledged (AUD-9 survives power loss too).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Deleted personal data is overwritten, not left in free pages (RET-1).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Reads begin deferred: they never take the write lock, so they never queue behind
        # writers (WAL lets them read the last committed state meanwhile).
        options = conn.get_execution_options()
        if options.get(ONE_STATEMENT, False):
            return  # one SELECT is its own snapshot: no BEGIN, nothing to roll back
        conn.exec_driver_sql("BEGIN" if options.get(READ_ONLY, False) else "BEGIN IMMEDIATE")

    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Before a connection leaves the pool, ping it if it has lain unused for
    PING_AFTER_IDLE_SECONDS: a server restarted or a connection dropped while it lay idle is
    found there, every pooled connection is discarded (the server most likely restarted) and the
    pool takes a new one (SQLAlchemy retries a checkout that raises DisconnectionError). A
    connection made a moment ago is not pinged. One that failed within the last second fails its
    first statement instead, which fails its request (the database error's 503, as a request
    caught mid-transaction gets; a resident's check-in is then tried again on the general path,
    on another connection), and is discarded when it comes back to the pool."""
    dialect = engine.dialect

    def _used(_dbapi_connection: Any, record: Any) -> None:  # made, or given back
        record.info["healthcode_used_at"] = time.monotonic()

    event.listen(engine.pool, "connect", _used)
    event.listen(engine.pool, "checkin", _used)

    @event.listens_for(engine.pool, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        used = record.info.get("healthcode_used_at")
        if used is not None and time.monotonic() - used < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as failed:
            raise exc.InvalidatePoolError(str(failed)) from failed


def _plan_for_the_values(cursor: Any, statement: str, parameters: Any, _context: Any) -> bool:
    """Statements that pass a list of values (VALUES_ARRAY) are planned for those values each
    time, never prepared: psycopg prepares a statement run five times, and PostgreSQL's generic
    plan of a prepared statement, blind to the array's length, scanned small tables comparing
    each row with every value (the notices of 500 people after a trace: 64 ms a batch, 6.5 ms
    planned for the values). Other statements run as the dialect runs them."""
    if VALUES_ARRAY not in statement:
        return False
    cursor.execute(statement, parameters, prepare=False)
    return True
