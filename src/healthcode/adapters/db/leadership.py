"""Background work once per city, however many processes serve it: the jobs' lock.

Every server process keeps the background jobs' timers (entrypoints/web/app.py:
background_jobs), and a job runs only in the process that holds the city's jobs lock. The lock
is one that cannot outlive the process holding it, so that another takes over at its next tick
when the holder dies, kill -9 included, with no lease to time out:
- SQLite (one host by nature): an exclusive `flock` of `<database>-jobs`, tried without
  waiting; the kernel lets it go with the process's file descriptors.
- PostgreSQL (processes on any number of hosts): a session advisory lock
  (`pg_try_advisory_lock`) on a connection of its own, held while that connection lives; the
  server lets it go when the connection ends (a killed process's socket is closed by its kernel;
  a vanished host's connection is found dead by the server's TCP keepalives and user timeout,
  set for this session to about 20 s).

Fenced: before each run a job's process asks, on the connection that holds the lock, whether it
still holds it (a connection found broken means it does not); one that lost it stops leading
and tries again like any other process. A run already under way when the lock is lost finishes:
every job is idempotent and serialised in the database by its own lock (the log's, the
writer's, the sunset's), so at worst two runs overlap for one tick, which is what every process
did before there was a leader.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger("healthcode.jobs")
JOBS_LOCK_ID = 0x6A6F6273  # "jobs": the advisory lock of the leader of background work
_HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
    "AND classid = 0 AND objid = :key AND objsubid = 1 AND granted"
)
# The server must find a vanished holder dead, not only the holder a vanished server: the
# server's own keepalives and user timeout are set for this session (within about 20 s instead
# of the system's two hours), and ours likewise, so that a check never hangs either.
_KEEPALIVES = {
    "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 5, "keepalives_count": 3,
    "tcp_user_timeout": 20_000, "connect_timeout": 5,
    "options": "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=5 "
    "-c tcp_keepalives_count=3 -c tcp_user_timeout=20000",
}  # fmt: skip


class Leadership(Protocol):
    def lead(self) -> bool:
        """True if this process holds (or has just taken) the jobs lock."""
        ...

    def close(self) -> None:
        """Let the lock go (a server shutting down)."""
        ...

    @property
    def held(self) -> bool:
        """Whether the last look found this process holding the lock (no I/O: for /health)."""
        ...


class SoleLeadership:
    """An in-memory SQLite database has one process: it always leads."""

    held = True

    def lead(self) -> bool:
        return True

    def close(self) -> None:
        return None


class FileLeadership:
    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._closed = False
        self._lock = threading.Lock()

    def lead(self) -> bool:
        with self._lock:
            if self._closed:  # a job's thread still running after the server stopped
                return False
            if self._fd is not None:
                return True
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._fd = fd
            log.info("this process now runs the background jobs (pid %d)", os.getpid())
            return True

    @property
    def held(self) -> bool:
        return self._fd is not None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._fd is not None:
                os.close(self._fd)  # closing the last descriptor lets the flock go
                self._fd = None


class AdvisoryLeadership:
    def __init__(self, engine: Engine, key: int = JOBS_LOCK_ID) -> None:
        # A connection of its own, outside the pool: held for the life of the process.
        self.engine = create_engine(
            engine.url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args=_KEEPALIVES | {"application_name": "healthcode-jobs"},
        )
        self.key = key
        self._conn: Connection | None = None
        self._closed = False
        self._lock = threading.Lock()

    def lead(self) -> bool:
        with self._lock:
            if self._closed:  # a job's thread still running after the server stopped: it
                return False  # must not take the lock again
            if self._conn is not None:
                try:
                    if self._conn.execute(_HELD, {"key": self.key}).scalar_one():
                        return True
                except SQLAlchemyError:
                    pass  # the connection broke: the server let the lock go with it
                log.warning("this process lost the background jobs' lock")
                self._drop()
            try:
                conn = self.engine.connect()
            except SQLAlchemyError:
                return False
            try:
                taken = conn.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
                ).scalar_one()
            except SQLAlchemyError:
                conn.close()
                return False
            if not taken:
                conn.close()
                return False
            self._conn = conn
            log.info("this process now runs the background jobs (pid %d)", os.getpid())
            return True

    @property
    def held(self) -> bool:
        return self._conn is not None

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop()  # ending the session lets its advisory lock go
        self.engine.dispose()


def leadership_for(engine: Engine) -> Leadership:
    """The jobs' lock for the city whose database `engine` reaches."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLeadership(engine)
    database = engine.url.database
    if not database or database == ":memory:":
        return SoleLeadership()
    return FileLeadership(database + "-jobs")
