"""Public reads from a real PostgreSQL streaming replica, within the published staleness bound
(adapters/db/replica.py): served by the replica while it holds what the primary had committed
`bound` seconds ago, a moment old at most that; by the primary once the replica falls further
behind, is cut off or was promoted; a proof up to a size the replica lacks comes from the
primary; /health says which."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.db.replica import CHECK_SECONDS, ReplicaReads
from healthcode.bootstrap import App, build, initialise
from healthcode.domain.audit import SYSTEM, LogEntry
from healthcode.entrypoints.web.app import create_app
from healthcode.services import audit
from tests.conftest import PG_ENABLED, START, make_settings
from tests.support.pg_cluster import Pair, binaries, streaming_pair

pytestmark = pytest.mark.skipif(
    not PG_ENABLED or binaries() is None, reason="needs PostgreSQL's server binaries"
)
BOUND = 2.0


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    with streaming_pair() as started:
        yield started


@pytest.fixture
def city(pair: Pair, tmp_path: Path) -> Iterator[App]:
    settings = make_settings(tmp_path / "data", pair.primary, replica_url=pair.replica,
                             replica_max_lag_seconds=BOUND)  # fmt: skip
    app = build(settings, clock=FixedClock(START))
    initialise(app)
    yield app
    app.close()


class Ticks:
    """The replica check's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds + CHECK_SECONDS


def _replica_sql(pair: Pair, sql: str) -> object:
    from sqlalchemy import create_engine

    engine = create_engine(pair.replica, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def _noted(app: App) -> None:
    """An entry on the log (committed on the primary)."""
    with app.ctx.uow() as uow:
        entry = LogEntry("test.noted", SYSTEM, "test", "replica", "testing", "test")
        uow.log.append(entry, app.ctx.clock.now())
        uow.commit()


def _caught_up(app: App, pair: Pair) -> None:
    with app.engine.connect() as conn:
        wanted = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar()
    deadline = time.monotonic() + 30
    while not _replica_sql(pair, f"SELECT pg_last_wal_replay_lsn() >= '{wanted}'::pg_lsn"):
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.05)


def test_public_reads_come_from_the_replica_within_the_bound(city: App, pair: Pair) -> None:
    ticks = Ticks()
    reads = city.ctx.replica
    assert isinstance(reads, ReplicaReads)
    checked = ReplicaReads(reads.replica, reads.primary, BOUND, clock=ticks)
    ctx = replace(city.ctx, replica=checked)
    audit.checkpoint_now(ctx, force=True)
    first = audit.latest_checkpoint(ctx)
    assert first is not None
    _caught_up(city, pair)
    ticks.advance(0)  # the next check
    assert checked.serving() == "replica"
    assert checked.lag() == 0

    _replica_sql(pair, "SELECT pg_wal_replay_pause()")  # the replica falls behind from here
    try:
        city.ctx.clock.advance(60)  # type: ignore[attr-defined]
        _noted(city)
        audit.checkpoint_now(ctx, force=True)  # committed on the primary, not replayed
        ticks.advance(1.0)
        assert checked.serving() == "replica"  # a second behind: within the bound
        assert audit.latest_checkpoint(ctx) == first  # a moment old, as published
        newest = audit.latest_checkpoint(replace(ctx, replica=None))
        assert newest is not None
        assert newest.size > first.size
        size = newest.size
        assert audit.inclusion_proof(ctx, 0, size) is not None  # the primary has that size

        ticks.advance(BOUND)  # now further behind than the bound
        assert checked.serving() == "primary"
        assert checked.lag() > BOUND
        assert audit.latest_checkpoint(ctx) == newest
    finally:
        _replica_sql(pair, "SELECT pg_wal_replay_resume()")
    _caught_up(city, pair)
    ticks.advance(0)
    assert checked.serving() == "replica"
    assert audit.latest_checkpoint(ctx) == newest


def test_a_replica_that_does_not_answer_leaves_the_reads_to_the_primary(
    city: App, pair: Pair
) -> None:
    reads = city.ctx.replica
    assert isinstance(reads, ReplicaReads)
    ticks = Ticks()
    gone = ReplicaReads(
        replace_engine(reads, "postgresql+psycopg://postgres@127.0.0.1:1/postgres"),
        reads.primary,
        BOUND,
        clock=ticks,
    )
    assert gone.serving() == "primary"
    audit.checkpoint_now(city.ctx, force=True)
    assert audit.latest_checkpoint(replace(city.ctx, replica=gone)) is not None
    with TestClient(create_app(built=city)) as client:  # the real one, on the live replica
        _caught_up(city, pair)
        time.sleep(CHECK_SECONDS * 2)
        shown = client.get("/health").json()["public_reads"]
        assert shown["serving"] == "replica"
        assert shown["bound_seconds"] == BOUND
        assert shown["replica_lag_seconds"] < BOUND


def replace_engine(reads: ReplicaReads, url: str) -> object:
    """The replica's unit of work factory, pointed at `url` (nothing listens there)."""
    from healthcode.adapters.db.engine import make_engine
    from healthcode.adapters.db.uow import SqlUnitOfWorkFactory

    factory = reads.replica
    return SqlUnitOfWorkFactory(
        make_engine(url, connect_args={"connect_timeout": 2}),
        factory.signer,
        factory.policy,
        factory.seals,
        factory.clock,
    )


def test_a_promoted_replica_is_not_read_as_one(city: App, pair: Pair) -> None:
    """After a failover the old replica is a primary of its own: what it holds may have parted
    from the primary the city writes to, so it is not read (last in this module: it ends the
    replica's recovery)."""
    reads = city.ctx.replica
    assert isinstance(reads, ReplicaReads)
    ticks = Ticks()
    checked = ReplicaReads(reads.replica, reads.primary, BOUND, clock=ticks)
    _caught_up(city, pair)
    assert checked.serving() == "replica"
    assert _replica_sql(pair, "SELECT pg_promote()") is True
    ticks.advance(0)
    assert checked.serving() == "primary"
    assert checked.lag() == float("inf")
    assert audit.latest_checkpoint(replace(city.ctx, replica=checked)) is not None
