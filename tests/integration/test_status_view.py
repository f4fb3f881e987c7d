"""The status read model of a cluster (adapters/status_view.py), against a real Redis, on SQLite
and PostgreSQL: code display reads the colour from Redis; every change is there before it is
acknowledged; colour work a trace queued sends the reader to the database, which settles it; no
interleaving of writers and readers leaves a colour older than the last acknowledged one; a
Redis that does not answer refuses changes (nothing stored) and costs readers only a database
read; the sunset empties it; Redis never holds who anyone is. With replicas: readers ask a
replica, a change waits until every replica holds its mark, and a replica that fell behind (held
by a relay, still answering reads) refuses changes instead of showing a colour older than an
acknowledged one."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.status_view import (
    QUEUED_STATE,
    TIMEOUT_SECONDS,
    RedisStatusView,
    State,
)
from healthcode.bootstrap import App, build, initialise
from healthcode.domain.audit import Actor
from healthcode.domain.errors import Unavailable
from healthcode.entrypoints.web.app import create_app
from healthcode.services import codes, health_facts, retention, status_queue, trace
from healthcode.services.admission import Admission, Busy
from healthcode.services.ports import ShownStatus, Viewed
from tests.conftest import make_settings, resident_headers
from tests.integration.test_status_queue import TRACER, enrol, seed
from tests.support import redis_pair

RESIDENT = Actor("resident", "self")
RED = ShownStatus("red", "default@1#pos", None, 2)
GREEN = ShownStatus("green", "default@1#none", None, 1)


def city() -> str:
    return "CN-V" + uuid.uuid4().hex[:6].upper()  # a namespace of its own per test


@pytest.fixture
def viewed(tmp_path: Path, database_url: str, redis_url: str, clock: FixedClock) -> Iterator[App]:
    settings = make_settings(tmp_path, database_url, redis_url=redis_url, city=city())
    built = build(settings, clock=clock, migrate=False)
    initialise(built)
    yield built
    view = built.ctx.status_view
    assert isinstance(view, RedisStatusView)
    view.forget_all()
    built.close()


def token(app: App, who: str) -> str:
    return resident_headers(app, who)["Authorization"].removeprefix("Bearer ")


def held(app: App, who: str) -> dict[str, str]:
    view = app.ctx.status_view
    assert isinstance(view, RedisStatusView)
    found: dict[str, str] = view.client.hgetall(view.key(who))  # type: ignore[assignment]
    return found


def test_code_display_reads_the_view_and_a_change_is_there_before_it_returns(
    viewed: App, clock: FixedClock
) -> None:
    who = enrol(viewed, 1)
    me = token(viewed, who)
    first = codes.show_own_code(viewed.ctx, me, who)
    assert first is not None
    assert first.colour == "green"
    assert held(viewed, who)["v"] == "-"  # filled by the miss: no stored status, green
    health_facts.report_symptoms(viewed.ctx, who, ["fever"], clock.now() - 3600, RESIDENT)
    # Written through before report_symptoms returned: no reader can see the green any more.
    assert held(viewed, who)["v"].startswith("yellow|")
    assert held(viewed, who)["n"] == "0"
    shown = codes.show_own_code(viewed.ctx, me, who)
    assert shown is not None
    assert shown.colour == "yellow"
    assert shown.rule_ref.endswith("#sympt")
    # What code display shows is what the view holds (proof that it reads the view, not
    # the database): a value put there by hand is shown.
    view = viewed.ctx.status_view
    assert isinstance(view, RedisStatusView)
    view.client.hset(view.key(who), "v", "red|default@1#pos||9999999999")
    again = codes.show_own_code(viewed.ctx, me, who)
    assert again is not None
    assert (again.colour, again.rule_ref) == ("red", "default@1#pos")


def test_a_change_the_view_did_not_hear_of_is_seen_and_repaired(
    viewed: App, clock: FixedClock
) -> None:
    """A process without the read model (misconfigured) changes a status: code display sees the
    database's row newer than the copy, answers from the primary and puts the copy right."""
    who = enrol(viewed, 1)
    me = token(viewed, who)
    assert codes.show_own_code(viewed.ctx, me, who) is not None  # green, now in the view
    assert held(viewed, who)["v"].startswith("-")
    blind = build(viewed.settings.model_copy(update={"redis_url": None}), clock=clock,
                  migrate=False)  # fmt: skip
    try:
        health_facts.report_symptoms(blind.ctx, who, ["fever"], clock.now() - 3600, RESIDENT)
    finally:
        blind.close()
    assert held(viewed, who)["v"].startswith("-")  # the copy is behind the database
    shown_now = codes.show_own_code(viewed.ctx, me, who)
    assert shown_now is not None
    assert shown_now.colour == "yellow"
    assert held(viewed, who)["v"].startswith("yellow|")  # repaired


def test_queued_colour_work_sends_readers_to_the_database(viewed: App) -> None:
    case_id, people = seed(viewed, 2)
    first = people[0]
    me = token(viewed, first)
    assert codes.show_own_code(viewed.ctx, me, first) is not None  # green, now in the view
    assert held(viewed, first)["v"] == "-"
    trace.trace_case(viewed.ctx, case_id, TRACER, depth=1, settle=False)
    assert held(viewed, first)["v"] == "q"  # queued: not the green any more
    assert viewed.ctx.status_view is not None
    assert viewed.ctx.status_view.get(first)[0] is None
    assert codes.show_own_code(viewed.ctx, me, first) is None  # the general path settles it
    assert codes.issue_health_code(viewed.ctx, first).colour == "red"
    assert held(viewed, first)["v"].startswith("red|")  # published by the settling commit
    shown = codes.show_own_code(viewed.ctx, me, first)
    assert shown is not None
    assert shown.colour == "red"
    status_queue.settle(viewed.ctx)  # the other contact's work: published too
    assert held(viewed, people[1])["v"].startswith("red|")


def test_a_redis_that_does_not_answer_refuses_the_change_and_stores_nothing(
    viewed: App, clock: FixedClock
) -> None:
    who = enrol(viewed, 1)
    view = viewed.ctx.status_view
    assert isinstance(view, RedisStatusView)
    gone = RedisStatusView("redis://127.0.0.1:1/0", "CN-GONE", lambda: b"x" * 32)
    viewed.ctx.uow.view = gone  # type: ignore[attr-defined]
    with pytest.raises(Unavailable):
        health_facts.report_symptoms(viewed.ctx, who, ["fever"], clock.now() - 3600, RESIDENT)
    viewed.ctx.uow.view = view  # type: ignore[attr-defined]
    with viewed.ctx.uow(read_only=True) as uow:
        assert uow.statuses.get(who) is None  # nothing was committed
        assert uow.health_facts.of_subject(who) == []
    # A reader whose Redis does not answer reads the database.
    reader = build(viewed.settings, clock=clock, migrate=False)
    try:
        ctx = dataclasses.replace(reader.ctx, status_view=gone)
        shown = codes.show_own_code(ctx, token(viewed, who), who)
        assert shown is not None
        assert shown.colour == "green"
    finally:
        reader.close()
        gone.close()


def test_the_sunset_empties_the_view(viewed: App) -> None:
    who = enrol(viewed, 1)
    assert codes.show_own_code(viewed.ctx, token(viewed, who), who) is not None
    assert held(viewed, who)
    attestation = retention.sunset(viewed.ctx)
    assert attestation.deleted["status_view_entries"] >= 1
    assert held(viewed, who) == {}


def test_redis_holds_no_identifier(viewed: App) -> None:
    who = enrol(viewed, 1)
    assert codes.show_own_code(viewed.ctx, token(viewed, who), who) is not None
    view = viewed.ctx.status_view
    assert isinstance(view, RedisStatusView)
    keys = list(view.client.scan_iter(match=view.prefix + "*"))
    assert keys
    assert all(who not in key for key in keys)
    assert all(who not in str(view.client.hgetall(key)) for key in keys)


# -- the protocol, step by step (no database: `truth` plays it) ---------------------------------


@pytest.fixture
def bare(redis_url: str) -> Iterator[RedisStatusView]:
    view = RedisStatusView(redis_url, city(), lambda: b"k" * 32)
    yield view
    view.forget_all()
    view.close()


def held_now(view: RedisStatusView, key: str) -> Viewed | None:
    return view.get(key)[0]


def test_a_reader_that_read_before_a_commit_never_outlives_it(bare: RedisStatusView) -> None:
    truth: dict[str, State] = {"p": GREEN}
    current = lambda ids: {i: truth[i] for i in ids}  # noqa: E731
    # The reader looked and read green from the database; a writer marks and commits red; the
    # reader's fill comes late: refused while the writer is under way, overwritten once it is
    # out, refused after that.
    _, seen = bare.get("p")
    bare.mark(["p"])
    bare.fill("p", GREEN, seen)
    assert held_now(bare, "p") is None
    truth["p"] = RED
    bare.release(["p"], current)
    assert held_now(bare, "p") == Viewed(RED)
    bare.fill("p", GREEN, seen)
    assert held_now(bare, "p") == Viewed(RED)


def test_a_publication_that_failed_lets_no_older_read_in(bare: RedisStatusView) -> None:
    """The writer's commit stands but its publication failed (the database or Redis went away
    after the commit): a reader that looked before the writer was out cannot fill what it read
    then; one that looks afterwards reads the commit and fills it."""

    def fails(_ids: list[str]) -> dict[str, State]:
        raise RuntimeError("the database went away after the commit")

    truth: dict[str, State] = {"p": GREEN}
    _, before = bare.get("p")  # looked before the writer began
    bare.mark(["p"])
    _, during = bare.get("p")  # looked while it was under way
    truth["p"] = RED
    bare.release(["p"], fails)
    bare.fill("p", GREEN, before)
    bare.fill("p", GREEN, during)
    assert held_now(bare, "p") is None
    _, after = bare.get("p")
    bare.fill("p", truth["p"] if isinstance(truth["p"], ShownStatus) else None, after)
    assert held_now(bare, "p") == Viewed(RED)


def test_two_writers_publish_what_the_last_one_out_reads(bare: RedisStatusView) -> None:
    truth: dict[str, State] = {"p": GREEN}
    current = lambda ids: {i: truth[i] for i in ids}  # noqa: E731
    bare.mark(["p"])  # A
    bare.mark(["p"])  # B
    truth["p"] = RED  # B commits (A's commit came earlier or comes later: both are marked)
    bare.release(["p"], current)  # B out first: A is still under way, nothing published
    assert held_now(bare, "p") is None
    truth["p"] = QUEUED_STATE  # A commits later: colour work queued
    bare.release(["p"], current)
    assert held_now(bare, "p") is None  # queued: the database answers
    assert bare.client.hget(bare.key("p"), "v") == "q"


def test_a_slow_publisher_never_overwrites_a_later_writer(bare: RedisStatusView) -> None:
    """A read the database after its commit, but B marked, committed and published before
    A's publication arrived: A's older value is not written over B's."""
    truth: dict[str, State] = {"p": GREEN}
    later = ShownStatus("yellow", "default@1#sympt", None, 3)

    def a_reads(ids: list[str]) -> dict[str, State]:
        seen = {i: truth[i] for i in ids}  # A's read: red
        bare.mark(["p"])  # meanwhile B: mark, commit, release
        truth["p"] = later
        bare.release(["p"], lambda i: {x: truth[x] for x in i})
        assert held_now(bare, "p") == Viewed(later)
        return seen

    bare.mark(["p"])
    truth["p"] = RED
    bare.release(["p"], a_reads)
    assert held_now(bare, "p") == Viewed(later)


def test_a_writer_that_died_leaves_readers_on_the_database(bare: RedisStatusView) -> None:
    bare.fill("p", GREEN, bare.get("p")[1])
    assert held_now(bare, "p") == Viewed(GREEN)
    bare.mark(["p"])  # ... and never released
    assert held_now(bare, "p") is None
    bare.fill("p", GREEN, bare.get("p")[1])
    assert held_now(bare, "p") is None
    assert 0 < bare.client.ttl(bare.key("p")) <= 3600


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis_pair.RedisPair]:
    if not redis_pair.available():
        pytest.skip("redis-server is not installed")
    with redis_pair.started(tmp_path_factory.mktemp("redis")) as started:
        yield started


@pytest.fixture
def replicated(pair: redis_pair.RedisPair) -> Iterator[RedisStatusView]:
    view = RedisStatusView(pair.primary_url, city(), lambda: b"k" * 32, [pair.replica_url])
    yield view
    pair.release()
    view.forget_all()
    view.close()


@pytest.fixture
def patient(pair: redis_pair.RedisPair) -> Iterator[RedisStatusView]:
    """Over the replica too, waiting up to 2 s for it to hold a mark: for tests of what the view
    answers, not of refusals, on two cores shared with other tests, where a replica is sometimes
    not scheduled for the quarter of a second a city's view waits."""
    view = RedisStatusView(pair.primary_url, city(), lambda: b"k" * 32, [pair.replica_url],
                           wait_ms=2000)  # fmt: skip
    yield view
    pair.release()
    view.forget_all()
    view.close()


@pytest.fixture(params=["one Redis", "read from a replica"])
def any_view(request: pytest.FixtureRequest) -> RedisStatusView:
    name = "bare" if request.param == "one Redis" else "patient"
    view: RedisStatusView = request.getfixturevalue(name)
    return view


def test_every_interleaving_ends_on_the_last_commit(any_view: RedisStatusView) -> None:
    """Two writers (mark, commit, release) and a reader (look, read, fill) in every order the
    protocol allows: at every step a value the view answers is never older than the last
    acknowledged commit (one whose release has returned), and after the last step it is the
    database's value or nothing. With a replica, the reader looks (and the check reads) there,
    however far behind the primary's publications it is."""
    bare = any_view
    steps = ["a.mark", "a.commit", "a.release", "b.mark", "b.commit", "b.release",
             "r.look", "r.read", "r.fill"]  # fmt: skip
    values = {"a": RED, "b": ShownStatus("yellow", "default@1#sympt", None, 3)}
    orders = 0
    for order in itertools.permutations(steps):
        if not _possible(order):
            continue
        orders += 1
        key = uuid.uuid4().hex
        truth: dict[str, State] = {key: GREEN}
        history: list[State] = [GREEN]  # the database's values, in commit order
        acknowledged = 0  # index in `history` of the last acknowledged commit
        committed_at: dict[str, int] = {}
        read: State = GREEN
        seen = -1
        for step in order:
            who, what = step.split(".")
            if what == "mark":
                bare.mark([key])
            elif what == "commit":
                truth[key] = values[who]
                history.append(values[who])
                committed_at[who] = len(history) - 1
            elif what == "release":
                bare.release([key], lambda ids, t=truth: {i: t[i] for i in ids})
                acknowledged = max(acknowledged, committed_at[who])
            elif what == "look":
                seen = bare.get(key)[1]
            elif what == "read":
                read = truth[key]
            else:
                bare.fill(key, read if isinstance(read, ShownStatus) else None, seen)
            answer = held_now(bare, key)
            if answer is not None:
                assert answer.status in history[acknowledged:], order
        final = held_now(bare, key)
        assert final is None or final == Viewed(truth[key]), order
    assert orders > 1000


def _possible(order: tuple[str, ...]) -> bool:
    at = {step: i for i, step in enumerate(order)}
    return all(at[f"{w}.mark"] < at[f"{w}.commit"] < at[f"{w}.release"] for w in "ab") and (
        at["r.look"] < at["r.read"] < at["r.fill"]
    )


def test_a_redis_without_the_view_reads_as_a_miss(redis_url: str) -> None:
    view = RedisStatusView(redis_url, city(), lambda: b"k" * 32)
    try:
        assert view.get("nobody")[0] is None
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        client.hset(view.key("odd"), "v", "not|a")
        assert view.get("odd")[0] is None  # a value it cannot read: the database answers
    finally:
        view.forget_all()
        view.close()


# -- replicas ----------------------------------------------------------------------------------


def _until_replica_has(view: RedisStatusView, who: str, wanted: Viewed | None) -> None:
    deadline = time.monotonic() + 5
    while held_now(view, who) != wanted:
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.01)


def test_readers_ask_the_replica(replicated: RedisStatusView, pair: redis_pair.RedisPair) -> None:
    truth: dict[str, State] = {"p": GREEN}
    replicated.mark(["p"])
    replicated.release(["p"], lambda ids: {i: truth[i] for i in ids})
    _until_replica_has(replicated, "p", Viewed(GREEN))
    on_primary = pair.calls(pair.primary_url, "hmget")
    on_replica = pair.calls(pair.replica_url, "hmget")
    for _ in range(5):
        assert held_now(replicated, "p") == Viewed(GREEN)
    assert pair.calls(pair.replica_url, "hmget") == on_replica + 5
    assert pair.calls(pair.primary_url, "hmget") == on_primary


def test_a_replica_that_fell_behind_refuses_changes_and_never_shows_an_older_colour(
    replicated: RedisStatusView, pair: redis_pair.RedisPair
) -> None:
    """Held by the relay, the replica still answers reads from what it had, and acknowledges
    nothing: a change is refused before its commit (the replica could not hold its mark), so
    the green the replica answers is still the acknowledged colour. Released, the change goes
    through and no read shows the green again."""
    truth: dict[str, State] = {"p": GREEN}
    current = lambda ids: {i: truth[i] for i in ids}  # noqa: E731
    replicated.mark(["p"])
    replicated.release(["p"], current)
    _until_replica_has(replicated, "p", Viewed(GREEN))
    pair.hold()
    with pytest.raises(Unavailable):
        replicated.mark(["p"])  # the caller does not commit
    assert redis.Redis.from_url(pair.replica_url).hget(replicated.key("p"), "v") == (
        b"green|default@1#none||1"
    )  # behind, and answering: only the refusal kept its green true
    pair.release()
    replicated.mark(["p"])
    # The mark is on the replica when mark() returns: from here on, before the commit, its
    # readers go to the database.
    assert redis.Redis.from_url(pair.replica_url).hget(replicated.key("p"), "v") is None
    truth["p"] = RED
    replicated.release(["p"], current)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        assert held_now(replicated, "p") in (None, Viewed(RED))
    _until_replica_has(replicated, "p", Viewed(RED))


def test_the_sunset_waits_for_a_slow_replica_longer_than_a_reader_would(
    replicated: RedisStatusView, pair: redis_pair.RedisPair
) -> None:
    """A replica that takes a second to catch up (twice what a reader waits for an answer,
    within what the sunset waits for its replicas) holds the sunset up, not back: it finishes
    once the replica is empty, and not before."""
    truth: dict[str, State] = {"p": GREEN}
    replicated.mark(["p"])
    replicated.release(["p"], lambda ids: {i: truth[i] for i in ids})
    _until_replica_has(replicated, "p", Viewed(GREEN))
    pair.hold()
    releaser = threading.Timer(4 * TIMEOUT_SECONDS, pair.release)
    started = time.monotonic()  # before the timer starts: the release comes that long after it
    releaser.start()
    try:
        assert replicated.forget_all() == 1
        assert time.monotonic() - started >= 4 * TIMEOUT_SECONDS
    finally:
        releaser.cancel()
        pair.release()
    assert redis.Redis.from_url(pair.replica_url).hget(replicated.key("p"), "v") is None


def test_a_change_is_refused_while_a_replica_is_behind_and_stores_nothing(
    tmp_path: Path, database_url: str, pair: redis_pair.RedisPair, clock: FixedClock
) -> None:
    """The whole path (a resident reports symptoms), with the read model's replica behind: 503
    and nothing stored; once it has caught up the same report goes through, and code display,
    reading the replica, shows it."""
    settings = make_settings(
        tmp_path, database_url, redis_url=pair.primary_url,
        redis_replica_urls=pair.replica_url, city=city(),
    )  # fmt: skip
    app = build(settings, clock=clock, migrate=False)
    initialise(app)
    try:
        who = enrol(app, 1)
        me = token(app, who)
        assert codes.show_own_code(app.ctx, me, who) is not None  # green, and filled
        pair.hold()
        with pytest.raises(Unavailable):
            health_facts.report_symptoms(app.ctx, who, ["fever"], clock.now() - 3600, RESIDENT)
        pair.release()
        with app.ctx.uow(read_only=True) as uow:
            assert uow.health_facts.of_subject(who) == []
            assert uow.statuses.get(who) is None
        health_facts.report_symptoms(app.ctx, who, ["fever"], clock.now() - 3600, RESIDENT)
        view = app.ctx.status_view
        assert isinstance(view, RedisStatusView)
        deadline = time.monotonic() + 5
        while True:
            shown = codes.show_own_code(app.ctx, me, who)
            assert shown is not None
            assert shown.colour == "yellow"  # from the database or the replica, never green
            if held_now(view, who) is not None:
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        pair.hold()
        with pytest.raises(redis.RedisError):  # the sunset waits for the replica too
            view.forget_all()
        pair.release()
        view.forget_all()
    finally:
        pair.release()
        app.close()


# -- admission to the primary -------------------------------------------------------------------


def test_code_display_beyond_the_primarys_share_is_refused_at_once(
    viewed: App, clock: FixedClock
) -> None:
    """A miss in the read model reads the primary; with every slot of the process's share in
    use, one more is refused (Busy, 503 with Retry-After over HTTP) instead of waiting its turn;
    a free slot serves it."""
    who = enrol(viewed, 1)
    me = token(viewed, who)
    share = Admission(1)
    ctx = dataclasses.replace(viewed.ctx, primary_reads=share)
    with share.enter(), pytest.raises(Busy):  # another request holds the one slot
        codes.show_own_code(ctx, me, who)
    assert share.refused == 1
    with viewed.ctx.uow(read_only=True) as uow:
        assert uow.statuses.get(who) is None  # nothing written by the refusal
    shown = codes.show_own_code(ctx, me, who)
    assert shown is not None
    assert shown.colour == "green"

    own = viewed.ctx.primary_reads  # the process's share, as the settings give it
    assert isinstance(own, Admission)
    assert own.slots == viewed.settings.primary_code_reads
    me_header = {"Authorization": f"Bearer {me}"}
    with TestClient(create_app(built=viewed)) as client:
        view = viewed.ctx.status_view
        assert isinstance(view, RedisStatusView)
        view.client.delete(view.key(who))  # a miss again
        with contextlib.ExitStack() as in_use:
            for _ in range(own.slots):
                in_use.enter_context(own.enter())
            answer = client.post(f"/residents/{who}/code", headers=me_header)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "1"
        assert answer.json()["error"]["code"] == "busy"
        answer = client.post(f"/residents/{who}/code", headers=me_header)
        assert answer.status_code == 200
