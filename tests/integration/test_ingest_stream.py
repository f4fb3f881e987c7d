"""The cluster's ingest buffer (adapters/ingest_stream.py) on three real NATS servers with
JetStream, on SQLite and PostgreSQL: a check-in is answered once the stream holds it and a
consumer writes it exactly once; a consumer that dies before its commit leaves the messages to
another, one that dies after it stores nothing twice; one NATS server killed loses nothing; the
stream holds no one's id and keeps nothing longer than the check-ins are kept."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.ingest_stream import NatsCheckInStream
from healthcode.bootstrap import App, build, initialise
from healthcode.domain.checkins import DAY, CheckIn
from healthcode.entrypoints.web.app import create_app
from healthcode.services import checkins
from tests.conftest import make_settings
from tests.e2e.test_checkins_api import enrol, place
from tests.support.nats_cluster import NatsCluster


def city() -> str:
    return "CN-I" + uuid.uuid4().hex[:6].upper()


@pytest.fixture
def buffered(
    tmp_path: Path, database_url: str, nats_cluster: NatsCluster, clock: FixedClock
) -> Iterator[App]:
    settings = make_settings(
        tmp_path, database_url, ingest_nats_urls=nats_cluster.urls, city=city()
    )
    built = build(settings, clock=clock, migrate=False)
    initialise(built)
    yield built
    built.close()


def resident_and_venue(app: App) -> tuple[TestClient, str, dict[str, str], dict[str, str]]:
    """A client of the app, a signed-in resident (id, headers) and a venue with its poster."""
    client = TestClient(create_app(built=app))
    subject, me = enrol(app)
    venue, _ = place(client, app)
    return client, subject, me, venue


def stream_of(app: App) -> NatsCheckInStream:
    stream = app.ctx.ingest
    assert isinstance(stream, NatsCheckInStream)
    return stream


def count_rows(app: App) -> int:
    with app.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM checkins").scalar_one())


def consume_until(app: App, stream: NatsCheckInStream, wanted: int, timeout: float = 30) -> int:
    """Run a consumer until `wanted` check-ins were added (or the timeout); how many were."""
    added = [0]
    deadline = time.monotonic() + timeout

    def counted(_messages: int, n: int) -> None:
        added[0] += n

    stream.consume(
        lambda found: checkins.store_streamed(app.ctx, found),
        lambda: added[0] >= wanted or time.monotonic() > deadline,
        batch=100,
        stored=counted,
    )
    return added[0]


def _drained(stream: NatsCheckInStream, timeout: float = 10.0) -> bool:
    """The stream holds nothing (acknowledgements reach the stream a moment after they are
    sent)."""
    deadline = time.monotonic() + timeout
    while stream.pending():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_check_in_is_answered_from_the_stream_and_written_once(buffered: App) -> None:
    client, subject, me, venue = resident_and_venue(buffered)
    before = count_rows(buffered)
    answers = [
        client.post(f"/residents/{subject}/checkins",
                    json={"place_code": venue["place_code"]}, headers=me)
        for _ in range(3)
    ]  # fmt: skip
    assert [a.status_code for a in answers] == [201, 201, 201], answers[0].text
    assert count_rows(buffered) == before  # acknowledged by the stream, not written yet
    stream = stream_of(buffered)
    assert stream.pending() == 3
    assert consume_until(buffered, stream, 3) == 3
    assert count_rows(buffered) == before + 3
    mine = checkins.my_checkins(buffered.ctx, subject)
    assert sorted(c.checkin_id for c in mine) == sorted(a.json()[0]["checkin_id"] for a in answers)
    assert _drained(stream)  # acknowledged after the commit: gone from the stream


def test_bad_input_is_refused_before_the_stream(buffered: App) -> None:
    client = TestClient(create_app(built=buffered))
    subject, me = enrol(buffered)
    refused = client.post(
        f"/residents/{subject}/checkins", json={"place_code": "HC1:nonsense"}, headers=me
    )
    assert refused.status_code in (400, 422)
    assert stream_of(buffered).pending() == 0


def test_a_consumer_that_dies_before_its_commit_leaves_the_work_to_another(
    tmp_path: Path, database_url: str, nats_cluster: NatsCluster, clock: FixedClock
) -> None:
    settings = make_settings(
        tmp_path, database_url, ingest_nats_urls=nats_cluster.urls, city=city()
    )
    app = build(settings, clock=clock, migrate=False)
    initialise(app)
    quick = NatsCheckInStream(
        nats_cluster.urls.split(","), settings.city, app.ctx.uow.seals.days,  # type: ignore[attr-defined]
        ack_wait_seconds=1.0, clock=clock.now,
    )  # fmt: skip
    try:
        _client, subject, _me, venue = resident_and_venue(app)
        for _ in range(4):
            made = checkins.check_in_at_place(app.ctx, subject, venue["place_code"])
            assert len(made) == 1
        before = count_rows(app)
        calls = [0]

        def dies(_found: list[CheckIn]) -> int:
            calls[0] += 1
            raise RuntimeError("killed before the commit")

        quick.consume(dies, lambda: calls[0] >= 1, batch=100)
        assert count_rows(app) == before  # nothing written, nothing acknowledged
        assert consume_until(app, quick, 4) == 4  # delivered again after the ack wait
        assert count_rows(app) == before + 4
        # Killed between commit and acknowledgement: the same check-ins again add nothing.
        mine = checkins.my_checkins(app.ctx, subject)
        assert checkins.store_streamed(app.ctx, mine) == 0
        assert count_rows(app) == before + 4
    finally:
        quick.close()
        app.close()


def test_the_same_check_in_published_twice_is_one_message(buffered: App) -> None:
    _client, subject, _me, venue = resident_and_venue(buffered)
    made = checkins.check_in_at_place(buffered.ctx, subject, venue["place_code"])
    stream = stream_of(buffered)
    stream.publish(made)  # a retry after a lost acknowledgement
    assert stream.pending() == 1


def test_one_nats_server_killed_loses_no_acknowledged_check_in(
    buffered: App, nats_cluster: NatsCluster
) -> None:
    _client, subject, _me, venue = resident_and_venue(buffered)
    stream = stream_of(buffered)
    first = [checkins.check_in_at_place(buffered.ctx, subject, venue["place_code"])
             for _ in range(3)]  # fmt: skip
    victim = 0
    nats_cluster.kill(victim)
    try:
        started = time.monotonic()
        later = []
        while len(later) < 3 and time.monotonic() - started < 30:
            try:
                later.append(checkins.check_in_at_place(buffered.ctx, subject,
                                                        venue["place_code"]))  # fmt: skip
            except Exception:  # the client moves to another server meanwhile
                time.sleep(0.2)
        assert len(later) == 3
        assert consume_until(buffered, stream, 6) == 6
        ids = {c.checkin_id for c in checkins.my_checkins(buffered.ctx, subject)}
        assert {m[0].checkin_id for m in first + later} <= ids
    finally:
        nats_cluster.start(victim)
        nats_cluster.wait_ready()


def test_the_stream_holds_no_id_and_keeps_nothing_past_retention(
    buffered: App, nats_cluster: NatsCluster
) -> None:
    _client, subject, _me, venue = resident_and_venue(buffered)
    checkins.check_in_at_place(buffered.ctx, subject, venue["place_code"])
    stream = stream_of(buffered)

    async def peek() -> tuple[bytes, object]:
        nc = await nats.connect(nats_cluster.urls.split(","))
        try:
            js = nc.jetstream()
            info = await js.stream_info(stream.stream)
            message = await js.get_msg(stream.stream, info.state.first_seq)
            return message.data or b"", info.config
        finally:
            await nc.close()

    data, config = asyncio.run(peek())
    assert subject.encode() not in data
    assert data  # the row, its person as the day key's ciphertext
    assert config.max_age == buffered.settings.retention_days * DAY  # type: ignore[attr-defined]
    assert config.num_replicas == 3  # type: ignore[attr-defined]
    # Once the day's key is gone, a message is nobody's: a consumer drops it (and, the day being
    # within retention, says so: only the sunset or a consumer without the key store does this).
    assert stream.decode(data) is not None
    buffered.keyring.destroy_checkin_keys(None)
    with pytest.raises(KeyError):
        stream.decode(data)
    assert consume_until(buffered, stream, 1, timeout=5) == 0
    assert _drained(stream)  # dropped, not handed back for ever
    with pytest.raises(ValueError, match="not a check-in"):
        stream.decode(b'{"venue_id": "v1"}')


def test_a_stream_that_does_not_answer_is_a_503_and_stores_nothing(
    tmp_path: Path, database_url: str, clock: FixedClock
) -> None:
    settings = make_settings(
        tmp_path, database_url, ingest_nats_urls="nats://127.0.0.1:1", city=city()
    )
    app = build(settings, clock=clock, migrate=False)
    initialise(app)
    try:
        client, subject, me, venue = resident_and_venue(app)
        before = count_rows(app)
        answer = client.post(
            f"/residents/{subject}/checkins", json={"place_code": venue["place_code"]}, headers=me
        )
        assert answer.status_code == 503, answer.text
        assert count_rows(app) == before
    finally:
        app.close()
