"""Residents' own check-ins of one moment, read and written together (services/checkins.py:
_own_check_ins, services/group_commit.py: Together), on SQLite and PostgreSQL.

The group-commit writer is held on a piece of work of its own while the check-ins queue up, so
that all of them land in the one next batch; the batch's reads are observed (passed through
unchanged) to show that they went to the database as one.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from sqlalchemy import func, select, text

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.db import maintenance
from healthcode.adapters.db.checkin_sight import SqlCheckInSight
from healthcode.adapters.db.maintenance import SUNSET_LOCK
from healthcode.adapters.db.prepared import Prepared
from healthcode.adapters.db.tables import checkins as table
from healthcode.adapters.db.tables import subjects
from healthcode.bootstrap import App
from healthcode.domain.accounts import token_hash
from healthcode.domain.checkins import DAILY_CAP, DAY
from healthcode.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from healthcode.services import checkins, enrolment, keys, venues
from healthcode.services.group_commit import Together, group_commit
from healthcode.services.ports import SightAsk, Subject, UnitOfWork
from tests.conftest import resident_headers
from tests.integration.test_checkins import ADMIN, prc_id

PEOPLE = ["11010519491231002", "44010619900101001", "31010119800101002", "12010119700101003"]


def _token(app: App, subject_id: str) -> str:
    return resident_headers(app, subject_id)["Authorization"].removeprefix("Bearer ")


def _enrol(app: App, body17: str, phone: str) -> str:
    cmd = enrolment.EnrolResident("吴一", "prc_id", prc_id(body17), phone)
    return enrolment.enrol_resident(app.ctx, cmd).subject_id


@pytest.fixture
def people(app: App) -> list[tuple[str, str]]:
    """Four residents, each with a session: (subject id, token)."""
    found = []
    for number, body17 in enumerate(PEOPLE):
        subject = _enrol(app, body17, f"1381234567{number}")
        found.append((subject, _token(app, subject)))
    return found


@pytest.fixture
def poster(app: App) -> str:
    cmd = venues.RegisterVenue("面馆", None, "1 Main St", "Yuexiu", "restaurant", "Wang Ltd")
    return venues.register_venue(app.ctx, cmd, ADMIN).poster.payload


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each batch of check-in reads, as they reach the database."""
    sizes: list[int] = []
    through = SqlCheckInSight.read_many

    def read_many(self: SqlCheckInSight, asks: Any) -> Any:
        sizes.append(len(asks))
        return through(self, asks)

    monkeypatch.setattr(SqlCheckInSight, "read_many", read_many)
    return sizes


@pytest.fixture
def held(app: App) -> Iterator[threading.Event]:
    """The group-commit writer, busy on a piece of work until the event is set."""
    go, busy = threading.Event(), threading.Event()

    def wait(uow: UnitOfWork) -> None:
        busy.set()
        go.wait(10)

    done = group_commit(app.ctx.uow).submit(wait)
    assert busy.wait(10)
    yield go
    go.set()
    done.result(10)


def _stored(app: App) -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_the_check_ins_of_a_moment_read_once_and_each_is_answered_alone(
    app: App,
    people: list[tuple[str, str]],
    poster: str,
    reads: list[int],
    held: threading.Event,
) -> None:
    (a, a_token), (b, b_token), (c, c_token), (d, _) = people
    before = _stored(app)
    asked = [
        checkins.check_in_own(app.ctx, a_token, a, poster),
        checkins.check_in_own(app.ctx, b_token, b, "PLACE1:not-a-place-code"),  # refused
        checkins.check_in_own(app.ctx, c_token, d, poster),  # someone else's token: not ours
        checkins.check_in_own(app.ctx, c_token, c, poster, dependants=[a]),  # not c's dependant
        checkins.check_in_own(app.ctx, b_token, b, poster),
    ]
    held.set()
    (made_a,) = asked[0].result(10) or []
    assert made_a.subject_id == a
    with pytest.raises(DomainError):
        asked[1].result(10)
    assert asked[2].result(10) is None  # the general path answers it
    with pytest.raises(NotFound, match="dependant"):
        asked[3].result(10)
    (made_b,) = asked[4].result(10) or []
    assert made_b.subject_id == b
    assert reads == [5]  # one read for the whole moment
    assert _stored(app) == before + 2  # the refused ones left nothing
    assert [x.checkin_id for x in checkins.my_checkins(app.ctx, a)] == [made_a.checkin_id]
    assert [x.checkin_id for x in checkins.my_checkins(app.ctx, b)] == [made_b.checkin_id]


def test_the_daily_cap_counts_the_check_ins_of_the_same_moment(
    app: App, clock: FixedClock, people: list[tuple[str, str]], poster: str
) -> None:
    """One short of the cap, a resident checks in three times at once (and once more as a
    dependant): the first is accepted, the others refused, as had each been written in turn."""
    (a, a_token), (guardian, guardian_token) = people[0], people[1]
    child = enrolment.add_dependant(
        app.ctx, enrolment.AddDependant(guardian, "吴小一", "child")
    ).subject_id
    clock.set(clock.now() - clock.now() % DAY + DAY + 3600)  # one day's key, whatever the hour
    for _ in range(DAILY_CAP - 1):
        checkins.check_in_at_place(app.ctx, a, poster)
        checkins.check_in_at_place(app.ctx, child, poster)
        clock.advance(10)
    held = threading.Event()
    writer: Future[None] = group_commit(app.ctx.uow).submit(lambda uow: held.wait(10) and None)
    asked = [checkins.check_in_own(app.ctx, a_token, a, poster) for _ in range(3)]
    with_child = [
        checkins.check_in_own(app.ctx, guardian_token, guardian, poster, dependants=[child])
        for _ in range(2)
    ]
    held.set()
    writer.result(10)
    assert asked[0].result(10)
    for refused in (*asked[1:], with_child[1]):
        with pytest.raises(Conflict, match="24 hours"):
            refused.result(10)
    assert len(with_child[0].result(10) or []) == 2
    assert len(checkins.my_checkins(app.ctx, a)) == DAILY_CAP
    assert len(checkins.my_checkins(app.ctx, child)) == DAILY_CAP


def test_a_kind_of_work_answers_each_piece_and_fails_as_a_whole(app: App) -> None:
    """`Together`: each piece gets its own answer or refusal; a refusal of the whole kind is
    every piece's; any other failure fails the transaction, and nothing of it is stored."""
    committer = group_commit(app.ctx.uow)
    held = threading.Event()

    def answer(uow: UnitOfWork, asks: list[int]) -> list[int | DomainError]:
        return [Conflict("odd", field="n") if n % 2 else n * 10 for n in asks]

    def refuse(uow: UnitOfWork, asks: list[int]) -> list[int | DomainError]:
        raise Conflict("none of these", field="n")

    def fail(uow: UnitOfWork, asks: list[str]) -> list[str | DomainError]:
        uow.subjects.add(Subject(secrets.token_hex(16), "resident", 0))
        raise RuntimeError("the disk is full")

    first = committer.submit(lambda uow: held.wait(10) and None)
    answered = [committer.submit(Together("answer", answer, n)) for n in range(4)]
    refused = [committer.submit(Together("refuse", refuse, n)) for n in range(2)]
    held.set()
    first.result(10)
    assert [f.result(10) for f in answered[::2]] == [0, 20]
    for odd in (*answered[1::2], *refused):
        with pytest.raises(Conflict):
            odd.result(10)
    with app.engine.connect() as conn:
        people = conn.execute(select(func.count()).select_from(subjects)).scalar_one()
    failed = [committer.submit(Together("fail", fail, "x")) for _ in range(2)]
    for f in failed:
        with pytest.raises(RuntimeError, match="disk is full"):
            f.result(10)
    with app.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(subjects)).scalar_one() == people


def test_a_poster_admitted_before_is_verified_again_against_the_current_trust_lists(
    app: App, people: list[tuple[str, str]]
) -> None:
    """A code this process admitted names its poster before the trust lists are read (so that
    they travel in one round trip); it is still verified against the lists read then: once its
    key is withdrawn, the same poster is refused."""
    (a, a_token), (b, b_token) = people[:2]
    cmd = venues.RegisterVenue("茶馆", None, "2 Main St", "Yuexiu", "restaurant", "Li Ltd")
    made = venues.register_venue(app.ctx, cmd, ADMIN).poster
    assert checkins.check_in_own(app.ctx, a_token, a, made.payload).result(10)
    assert venues.poster_named(made.payload) == (made.venue_id, made.poster_id)
    keys.withdraw_key(app.ctx, made.kid, ADMIN, "key_compromise")
    with pytest.raises(InvalidInput, match="place code refused"):
        checkins.check_in_own(app.ctx, b_token, b, made.payload).result(10)
    assert checkins.my_checkins(app.ctx, b) == []


def test_a_moment_of_check_ins_reads_the_sunset_and_the_trust_lists_in_its_own_round_trip(
    app: App, people: list[tuple[str, str]], poster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sunset's lock (PostgreSQL) and marker and the trust lists' versions come with the
    check-ins' reads: afterwards the transaction asks the database for neither, and on
    PostgreSQL it holds the lock that sunset waits for."""
    (a, a_token) = people[0]
    assert checkins.check_in_own(app.ctx, a_token, a, poster).result(10)  # admitted: named
    named = venues.poster_named(poster)
    assert named is not None
    with app.ctx.uow() as uow:
        (sight,) = uow.checkin_sight.read_many(
            [SightAsk(token_hash(a_token), a, *named, app.ctx.clock.now() - DAY)]
        )
        assert sight is not None
        assert sight.poster is not None
        if app.engine.dialect.name == "postgresql":
            with app.engine.connect() as other:
                taken = other.execute(
                    text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SUNSET_LOCK}
                ).scalar_one()
                other.rollback()
            assert taken is False  # sunset would wait for this transaction
        asked: list[object] = []
        monkeypatch.setattr(Prepared, "_execute", lambda *args, **kw: asked.append(args))
        monkeypatch.setattr(maintenance, "pipelined", lambda *args, **kw: asked.append(args))
        assert uow.maintenance.sunset_at() is None
        assert [city for city, _, _ in uow.trust_lists.latest_versions()] == [app.ctx.policy.city]
        assert asked == []


def test_a_code_verified_before_names_its_poster_again_once_forgotten(
    app: App, poster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The posters named are a bounded memory, emptied when full; a code whose verification is
    still remembered names its poster again at its next check, without verifying anew."""
    assert venues.check_place_code(app.ctx, poster).ok
    named = venues.poster_named(poster)
    assert named is not None
    monkeypatch.setattr(venues, "_NAMED", {})  # emptied (as when full)
    assert venues.poster_named(poster) is None
    monkeypatch.setattr(venues, "verify_place_code", lambda *args: pytest.fail("verified anew"))
    assert venues.check_place_code(app.ctx, poster).ok
    assert venues.poster_named(poster) == named
