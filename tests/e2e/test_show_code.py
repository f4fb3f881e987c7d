""""Show my code" over HTTP: the resident's own request is answered from the stored status in
one read (services/codes.py: show_own_code), everyone else's through the access gate, and both
give the colour the rules give. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.db.tables import sessions
from healthcode.bootstrap import App
from healthcode.domain.accounts import token_hash
from healthcode.domain.published import parse_entry
from healthcode.domain.status import DAY
from healthcode.entrypoints.web import public_reads
from healthcode.entrypoints.web.app import create_app
from healthcode.services import audit, codes, status
from healthcode.services.auth import TOUCH_EVERY
from healthcode.services.context import Touches
from tests.conftest import resident_headers, staff_headers

RESIDENT = {
    "name": "李四",
    "doc_type": "prc_id",
    "doc_number": "11010519491231002X",
    "phone": "13912345678",
}


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app)) as test_client:
        yield test_client


def enrol(client: TestClient, app: App, body: dict[str, str] = RESIDENT) -> str:
    made = client.post("/residents", json=body, headers=staff_headers(app, "health_officer"))
    assert made.status_code == 201, made.text
    return str(made.json()["subject_id"])


def show(client: TestClient, app: App, subject: str, headers: dict[str, str]) -> dict[str, str]:
    answer = client.post(f"/residents/{subject}/code", headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, str] = answer.json()
    derived = status.status_of(app.ctx, subject).status
    assert (body["colour"], body["rule_ref"]) == (derived.colour, derived.rule_ref)
    return body


def test_own_code_comes_from_the_stored_status_and_follows_the_facts(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    subject = enrol(client, app)
    me = resident_headers(app, subject)
    assert show(client, app, subject, me)["colour"] == "green"
    onset = {"symptoms": ["fever"], "onset": clock.now() - 3600}
    assert client.post(f"/residents/{subject}/symptoms", json=onset, headers=me).status_code == 201
    yellow = show(client, app, subject, me)
    assert yellow["colour"] == "yellow"
    assert yellow["rule_ref"].endswith("#sympt")
    verdict = client.post("/verify", json={"code": yellow["code"]}).json()
    assert verdict["decision"] == "refuse"
    # The colour runs out while no sweep has come by: the code is derived again (and logged).
    clock.advance(30 * DAY)
    before = audit.log_size(app.ctx)
    assert show(client, app, subject, resident_headers(app, subject))["colour"] == "green"
    changed = [parse_entry(e.seq, e.entry)
               for e in audit.read_entries(app.ctx, before, audit.log_size(app.ctx))]  # fmt: skip
    colours = [e.details for e in changed if e.action == "status.changed"]
    assert [(c["from"], c["to"], c["reason"]) for c in colours] == [
        ("yellow", "green", "code_issued")
    ]


def test_a_guardian_shows_a_dependants_code_through_the_gate(
    client: TestClient, app: App
) -> None:
    guardian = enrol(client, app)
    me = resident_headers(app, guardian)
    child = client.post(
        f"/residents/{guardian}/dependants",
        json={"name": "李小龙", "relation": "child"},
        headers=me,
    )
    assert child.status_code == 201, child.text
    dependant = child.json()["subject_id"]
    assert show(client, app, dependant, me)["colour"] == "green"


def test_another_persons_code_is_refused_and_the_attempt_is_in_their_record(
    client: TestClient, app: App
) -> None:
    victim = enrol(client, app)
    other = enrol(client, app, {**RESIDENT, "doc_type": "passport", "doc_number": "E12345678",
                                "phone": "13912345679"})  # fmt: skip
    answer = client.post(f"/residents/{victim}/code", headers=resident_headers(app, other))
    assert answer.status_code == 404
    record = client.get(f"/residents/{victim}/log", headers=resident_headers(app, victim)).json()
    assert [e["details"] for e in record if e["action"] == "access.refused"] == [
        {"action": "resident.code.issue"}
    ]


def test_no_session_a_bad_token_and_an_ended_session_are_refused(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    subject = enrol(client, app)
    assert client.post(f"/residents/{subject}/code").status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert client.post(f"/residents/{subject}/code", headers=bad).status_code == 401
    me = resident_headers(app, subject)
    assert client.post("/auth/logout", headers=me).status_code in (200, 204)
    assert client.post(f"/residents/{subject}/code", headers=me).status_code == 401
    idle = resident_headers(app, subject)
    clock.advance(app.ctx.access.resident_idle_seconds + 1)
    assert client.post(f"/residents/{subject}/code", headers=idle).status_code == 401


def test_sessions_last_seen_is_written_in_batches(
    client: TestClient, app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    subject = enrol(client, app)
    me = resident_headers(app, subject)
    digest = token_hash(me["Authorization"].removeprefix("Bearer "))

    def stored() -> int:
        with app.engine.connect() as conn:
            return int(
                conn.execute(
                    select(sessions.c.last_seen).where(sessions.c.session_id == digest)
                ).scalar_one()
            )

    first = stored()
    clock.advance(TOUCH_EVERY + 5)
    monkeypatch.setattr(Touches, "EVERY", 3600.0)  # held, not written yet
    show(client, app, subject, me)
    assert stored() == first
    assert app.ctx.touches.last_seen(digest, first) == clock.now()
    monkeypatch.setattr(Touches, "EVERY", 0.0)  # the next request writes what is held
    show(client, app, subject, me)
    deadline = time.monotonic() + 10  # written with the next small writes, not waited for
    while stored() != clock.now() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stored() == clock.now()


def test_codes_agree_with_the_general_path(client: TestClient, app: App) -> None:
    subject = enrol(client, app)
    fast = show(client, app, subject, resident_headers(app, subject))
    general = codes.issue_health_code(app.ctx, subject)
    assert (fast["colour"], fast["rule_ref"]) == (general.colour, general.rule_ref)


def test_public_reads_come_from_memory_with_an_etag(
    client: TestClient, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit.checkpoint_now(app.ctx, force=True)
    first = client.get("/log/checkpoint")
    assert first.status_code == 200
    assert first.headers["cache-control"] == public_reads.CACHE_CONTROL
    again = client.get("/log/checkpoint", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["city"] == app.settings.city
    unchanged = {"If-None-Match": health.headers["etag"]}
    assert client.get("/health", headers=unchanged).status_code == 304
    # Older than MAX_AGE: read again, and the new checkpoint shows.
    enrol(client, app)
    audit.checkpoint_now(app.ctx, force=True)
    monkeypatch.setattr(public_reads, "MAX_AGE", 0.0)
    newer = client.get("/log/checkpoint").json()
    assert newer["size"] > first.json()["size"]
