"""Public reads from a PostgreSQL streaming replica, within a published staleness bound.

The public reads (the log's checkpoints and proofs, the transparency report, the trust lists)
are the same for everyone and may be a moment old; in a cluster they come from a replica, so
that the primary keeps its work for writes. A replica may fall behind (a long query, a network
fault, its primary gone): it is used only while it is known to hold everything the primary had
committed `bound` seconds ago (`HEALTHCODE_REPLICA_MAX_LAG_SECONDS`, 2 s by default), and
otherwise the primary answers.

How it is known: every CHECK_SECONDS the primary's WAL position is read, then the replica's
replay position; the replica is as fresh as the latest primary position it has replayed, and
its lag is the time since that position was read. This holds when the replica is cut off from
the primary too (its own "receive = replay" would then look current), and a replica that was
promoted (no longer in recovery) is not one: its lag is unknown, and the primary answers.
`lag()` and `serving()` are shown on `/health`. The probes run on connections of their own with
a one-second connect and statement timeout, one request at a time.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from healthcode.adapters.db.uow import SqlUnitOfWork, SqlUnitOfWorkFactory

CHECK_SECONDS = 0.25
HISTORY_SECONDS = 120.0


def _lsn(value: str) -> int:
    high, low = value.split("/")
    return (int(high, 16) << 32) + int(low, 16)


class ReplicaReads:
    """A read-only unit of work factory: on the replica while it is within `bound` seconds of
    the primary, on the primary otherwise. Never for writes.

    One request at a time probes the two servers (short connect and statement timeouts, on
    connections of their own); the others meanwhile go by the last reading, aged by the time
    since it was taken, so that no request waits on a replica that does not answer and the
    bound is kept between readings too."""

    def __init__(
        self,
        replica: SqlUnitOfWorkFactory,
        primary: SqlUnitOfWorkFactory,
        bound: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.replica = replica
        self.primary = primary
        self.bound = bound
        self._clock = clock
        self._probes = (_probe_engine(primary.engine), _probe_engine(replica.engine))
        self._samples: deque[tuple[float, int]] = deque()  # (when, primary's WAL position)
        self._lag = math.inf
        self._checked = -math.inf
        self._probing = False
        self._lock = threading.Lock()

    @staticmethod
    def _scalar(engine: Engine, sql: str) -> str | None:
        # Read-only, as the units of work on the replica are (a standby refuses a
        # transaction that asks to write, which a pooled connection's default would).
        with engine.connect().execution_options(postgresql_readonly=True) as conn:
            found = conn.execute(text(sql)).scalar()
            return None if found is None else str(found)

    def lag(self) -> float:
        """Seconds since the newest primary position the replica is known to hold (inf when
        unknown: the replica does not answer, or is not a replica)."""
        now = self._clock()
        with self._lock:
            aged = self._lag + max(0.0, now - self._checked)
            if self._probing or now - self._checked < CHECK_SECONDS:
                return aged
            self._probing = True
        lag = math.inf
        try:
            lag = self._probe(now)
        finally:
            with self._lock:
                self._probing = False
                self._lag, self._checked = lag, now
        return lag

    def _probe(self, now: float) -> float:
        primary, replica = self._probes
        try:
            position = self._scalar(primary, "SELECT pg_current_wal_lsn()")
            replayed = self._scalar(
                replica, "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() END"
            )
        except SQLAlchemyError:
            return math.inf
        with self._lock:
            if position is not None:
                self._samples.append((now, _lsn(position)))
            while self._samples and now - self._samples[0][0] > HISTORY_SECONDS:
                self._samples.popleft()
            held = _lsn(replayed) if replayed is not None else -1
            fresh = [when for when, lsn in self._samples if lsn <= held]
        return now - max(fresh) if fresh else math.inf

    def serving(self) -> str:
        return "replica" if self.lag() <= self.bound else "primary"

    def failed(self) -> None:
        """The replica failed a read: the primary answers until the next reading says
        otherwise."""
        with self._lock:
            self._lag, self._checked = math.inf, self._clock()

    def __call__(self, *, read_only: bool = False, one_statement: bool = False) -> SqlUnitOfWork:
        if not read_only:
            raise ValueError("public reads only: writes go to the primary")
        source = self.replica if self.serving() == "replica" else self.primary
        return source(read_only=True, one_statement=one_statement)

    def close(self) -> None:
        for engine in self._probes:
            engine.dispose()
        self.replica.engine.dispose()


def _probe_engine(engine: Engine) -> Engine:
    """An engine of its own for the probes: short timeouts, no pool to wait for."""
    return create_engine(
        engine.url,
        poolclass=NullPool,
        connect_args={"connect_timeout": 1, "options": "-c statement_timeout=1000"},
    )
