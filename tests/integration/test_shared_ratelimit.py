"""Rate limits counted in Redis by every process of a city (adapters/shared_ratelimit.py),
against a real Redis: one limit across processes, no identifier in Redis, and a Redis that does
not answer costs a per-process limit, never an error."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.shared_ratelimit import RETRY_SECONDS, SharedRateLimiter, SharedStore
from healthcode.bootstrap import App, build, initialise
from healthcode.entrypoints.web.app import create_app
from tests.conftest import make_settings
from tests.e2e.test_checkins_api import enrol, place

SECRET = b"s" * 32


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    SharedStore(redis_url, name, SECRET).clear()


def test_two_processes_count_one_limit(redis_url: str, namespace: str) -> None:
    first = SharedRateLimiter(SharedStore(redis_url, namespace, SECRET), "resident", 4)
    second = SharedRateLimiter(SharedStore(redis_url, namespace, SECRET), "resident", 4)
    takes = [(first if i % 2 else second).take("a" * 32) for i in range(4)]
    assert takes == [0.0] * 4
    refused = first.take("a" * 32)
    assert 0 < refused <= 60  # 4 a minute: the next one within the minute
    assert second.take("a" * 32) > 0
    assert first.take("b" * 32) == 0  # keys are independent
    other_kind = SharedRateLimiter(SharedStore(redis_url, namespace, SECRET), "venue", 4)
    assert other_kind.take("a" * 32) == 0  # and so are kinds


def test_an_hourly_limit_keeps_its_burst_and_its_window(redis_url: str, namespace: str) -> None:
    limiter = SharedRateLimiter(SharedStore(redis_url, namespace, SECRET), "enrol", 5 / 60, 5)
    assert limiter.item.amount == 5
    assert limiter.item.get_expiry() == 3600
    assert [limiter.take("13812345678") for _ in range(5)] == [0.0] * 5
    # Refused with a wait within the hour (how long depends on where in its window the hour is:
    # the sliding window weighs the last one by how much of it still overlaps).
    assert 0 < limiter.take("13812345678") <= 3600
    assert limiter.take("13812345678") > 0


def test_redis_holds_no_identifier(redis_url: str, namespace: str) -> None:
    store = SharedStore(redis_url, namespace, SECRET)
    subject, address = uuid.uuid4().hex, "203.0.113.7"
    SharedRateLimiter(store, "resident", 10).take(subject)
    SharedRateLimiter(store, "client", 10).take(address)
    client = redis.Redis.from_url(redis_url)
    keys = client.keys(f"healthcode:{namespace}:*")
    assert len(keys) == 2
    for key in keys:
        assert subject.encode() not in key
        assert address.encode() not in key
        assert 0 < client.ttl(key) <= 2 * 60  # gone with its window (the sliding window's two)
    # another city's secret counts other buckets
    elsewhere = SharedRateLimiter(SharedStore(redis_url, namespace, b"t" * 32), "resident", 1)
    assert elsewhere.take(subject) == 0


def test_a_redis_that_does_not_answer_limits_per_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = SharedStore("redis://127.0.0.1:1/0", "nowhere", SECRET)  # nothing listens there
    limiter = SharedRateLimiter(store, "resident", 2)
    with caplog.at_level(logging.WARNING, "healthcode.ratelimit"):
        assert limiter.take("x") == 0
        assert limiter.take("x") == 0
        assert limiter.take("x") > 0  # the process's own bucket still limits
    assert not store.reachable()  # not tried again for RETRY_SECONDS
    assert sum("unreachable" in r.message for r in caplog.records) == 1  # said once
    assert RETRY_SECONDS <= 5


def _city(where: Path, database_url: str, clock: FixedClock, redis: str | None) -> App:
    settings = make_settings(where, database_url, rate_checkins_per_minute=3, redis_url=redis)
    built = build(settings, clock=clock, migrate=False)
    initialise(built)
    return built


@pytest.mark.parametrize("shared", [True, False], ids=["redis", "in-memory"])
def test_two_api_processes_share_a_residents_limit(
    tmp_path: Path, database_url: str, clock: FixedClock, redis_url: str, shared: bool
) -> None:
    """Two API processes of one city (one database, one key store): a resident's check-ins
    through either count against one limit with Redis; in memory each process has its own."""
    one = _city(tmp_path / "data", database_url, clock, redis_url if shared else None)
    two = _city(tmp_path / "data", database_url, clock, redis_url if shared else None)
    try:
        with TestClient(create_app(built=one)) as a, TestClient(create_app(built=two)) as b:
            subject, me = enrol(one)
            venue, _ = place(a, one)
            body = {"place_code": venue["place_code"]}
            path = f"/residents/{subject}/checkins"
            answers = [(a if i % 2 else b).post(path, json=body, headers=me) for i in range(7)]
            statuses = [r.status_code for r in answers]
            if shared:  # the fast path (a) and the route (b, after a refusal) count alike
                assert statuses == [201, 201, 201, 429, 429, 429, 429]
                assert int(answers[3].headers["Retry-After"]) >= 1
            else:
                assert statuses.count(201) == 6
    finally:
        one.close()
        two.close()

