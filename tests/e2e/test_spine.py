"""The whole spine over HTTP, on SQLite and on PostgreSQL, with everyone signed in for real:

residents sign in with a one-time code and enrol themselves → the authority registers a venue and
its admin registers a scanner → scan → check-in → lab result (health officer) → case → trace (the
tracer assigned to the case) → colour → signed code → verify refuses red; the resident reads why
(the rule in words and the evidence) and who read their record; the colour runs out by itself
and the code admits again. Every step that changes state is on the log.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.otp_sender import ConsoleSender
from healthcode.bootstrap import App
from healthcode.entrypoints.web.app import create_app
from tests.conftest import bearer, staff_headers
from tests.support.labs import post_rows

MIN, HOUR, DAY = 60, 3600, 86400
CASE_DOC = "11010519491231002X"
PEOPLE = {
    "case": {"name": "陈五", "doc_type": "prc_id", "doc_number": CASE_DOC, "phone": "13912345678"},
    "contact": {"name": "李四", "doc_type": "passport", "doc_number": "E12345678",
                "phone": "13912345679"},
    "bystander": {"name": "王六", "doc_type": "passport", "doc_number": "E87654321",
                  "phone": "13912345670"},
}  # fmt: skip


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app)) as test_client:
        yield test_client


def ok(response: object, status: int = 200) -> dict:  # type: ignore[type-arg]
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    if status == 204:
        return {}
    return response.json()  # type: ignore[attr-defined,no-any-return]


def venue(client: TestClient, admin: dict[str, str], name: str, kind: str) -> dict:  # type: ignore[type-arg]
    body = {"name_zh": name, "address": "1 Road", "district": "Tianhe", "venue_type": kind,
            "operator": "Op Co"}  # fmt: skip
    return ok(client.post("/venues", json=body, headers=admin), 201)


def sign_in(client: TestClient, app: App, phone: str) -> dict[str, str]:
    """Sign in with a one-time code sent to the phone (the dev sender keeps what it sent)."""
    ok(client.post("/auth/code", json={"phone": phone}), 202)
    sender = app.ctx.sender
    assert isinstance(sender, ConsoleSender)
    code = sender.sent[-1][1]
    session = ok(client.post("/auth/code/verify", json={"phone": phone, "code": code}))
    client.cookies.clear()  # each person here uses their bearer token, not the shared cookie
    return bearer(session["token"])


def sign_up(client: TestClient, app: App, body: dict[str, str]) -> tuple[str, dict[str, str]]:
    """A resident proves their phone with a one-time code, then enrols themselves: the session
    that began as an applicant's continues as the resident's."""
    headers = sign_in(client, app, body["phone"])
    assert ok(client.get("/auth/session", headers=headers))["role"] == "applicant"
    # The answer is the same whether or not the document was known; the session then tells.
    assert ok(client.post("/residents", json=body, headers=headers), 202) == {"state": "received"}
    session = ok(client.get("/auth/session", headers=headers))
    assert session["role"] == "resident"
    return session["ref"], headers


def log_actions(client: TestClient) -> list[str]:
    lines = client.get("/log/export").text.splitlines()
    return [json.loads(json.loads(line)["entry"])["action"] for line in lines]


def test_the_whole_spine(client: TestClient, app: App, clock: FixedClock) -> None:
    ids, me = {}, {}
    for who, body in PEOPLE.items():
        ids[who], me[who] = sign_up(client, app, body)
    admin = staff_headers(app, "authority_admin")
    restaurant = venue(client, admin, "老街餐厅", "restaurant")
    shop = venue(client, admin, "街角小店", "shop")
    scanners = {}
    for place in (restaurant, shop):
        place_admin = staff_headers(app, "venue_admin", place["venue_id"])
        device = ok(client.post(f"/venues/{place['venue_id']}/devices",
                                json={"label": "door"}, headers=place_admin), 201)  # fmt: skip
        scanners[place["venue_id"]] = bearer(device["token"])

    # The case scans the restaurant's poster; the contact is scanned in by the venue's device
    # ten minutes later; the bystander is at another venue at the same time.
    case_visit = ok(
        client.post(f"/residents/{ids['case']}/checkins", headers=me["case"],
                    json={"place_code": restaurant["place_code"]}), 201,
    )[0]  # fmt: skip
    clock.advance(10 * MIN)
    code = ok(client.post(f"/residents/{ids['contact']}/code", headers=me["contact"]))
    assert code["colour"] == "green"
    door = scanners[restaurant["venue_id"]]
    scan = ok(client.post(f"/venues/{restaurant['venue_id']}/scans", json={"code": code["code"]},
                          headers=door))  # fmt: skip
    assert scan["decision"] == "admit"
    assert scan["recorded"] is True
    assert set(scan) == {"decision", "reason", "message", "valid_until", "masked_name",
                         "recorded"}  # fmt: skip
    ok(client.post(f"/residents/{ids['bystander']}/checkins", headers=me["bystander"],
                   json={"place_code": shop["place_code"]}), 201)  # fmt: skip
    clock.advance(50 * MIN)
    ok(client.post(f"/residents/{ids['case']}/checkins/{restaurant['venue_id']}/"
                   f"{case_visit['checkin_id']}/checkout", headers=me["case"]))  # fmt: skip
    (contact_visit,) = ok(client.get(f"/residents/{ids['contact']}/checkins",
                                     headers=me["contact"]))  # fmt: skip
    assert contact_visit["venue_id"] == restaurant["venue_id"]

    # The next day the lab reports the case positive: a case opens and the case turns red.
    clock.advance(DAY)
    sampled = dt.datetime.fromtimestamp(clock.now() - 3 * HOUR, dt.UTC).isoformat()
    row = {"test_id": "T-100", "doc_type": "prc_id", "doc_number": CASE_DOC,
           "sample_time": sampled, "result": "positive", "lab": "GZLAB1"}  # fmt: skip
    officer = staff_headers(app, "health_officer")
    (case_id,) = ok(post_rows(client, app, [row]))["cases_opened"]
    case_status = ok(client.get(f"/residents/{ids['case']}/status", headers=me["case"]))
    assert (case_status["colour"], case_status["rule_ref"]) == ("red", "default@1#pos")
    assert [e["kind"] for e in case_status["evidence"]] == ["test"]
    assert case_status["evidence"][0]["summary"] == {"result": "positive"}

    # Tracing finds the contact, with evidence; the contact turns red, the bystander stays green.
    tracer_signin = staff_headers(app, "tracer")
    tracer_id = ok(client.get("/auth/session", headers=tracer_signin))["ref"]
    assert client.post(f"/cases/{case_id}/trace", headers=tracer_signin).status_code == 404
    ok(client.post(f"/cases/{case_id}/assign", json={"staff_id": tracer_id}, headers=officer), 204)
    traced = ok(client.post(f"/cases/{case_id}/trace", headers=tracer_signin))
    assert [c["subject_id"] for c in traced["close"]] == [ids["contact"]]
    (exposure,) = traced["close"][0]["exposures"]
    assert exposure["venue_id"] == restaurant["venue_id"]
    assert exposure["seconds"] >= 15 * MIN

    why = ok(client.get(f"/residents/{ids['contact']}/status", headers=me["contact"]))
    assert why["colour"] == "red"
    assert why["rule_ref"] == "default@1#close"
    assert "密切接触者" in why["rule"]["description"]["zh"]
    assert "Close contact" in why["rule"]["description"]["en"]
    assert why["rule"]["advice"]["en"]
    (evidence,) = why["evidence"]
    assert evidence["kind"] == "exposure"
    assert evidence["summary"]["level"] == "close"
    assert evidence["summary"]["venue"] == "老街餐厅"
    assert why["until"] == evidence["time"] + 7 * DAY
    assert ok(client.get(f"/residents/{ids['bystander']}/status",
                         headers=me["bystander"]))["colour"] == "green"  # fmt: skip
    # The tracer may read the contact's colour (their case involves them): the read is logged,
    # and the contact sees who read it, in which role, for which case. Not the bystander's.
    ok(client.get(f"/residents/{ids['contact']}/status", headers=tracer_signin))
    no = client.get(f"/residents/{ids['bystander']}/status", headers=tracer_signin)
    assert no.status_code == 404
    about = ok(client.get(f"/residents/{ids['contact']}/log", headers=me["contact"]))
    read = next(e for e in about if e["action"] == "personal_data.read")
    assert (read["actor_role"], read["actor"]) == ("tracer", f"staff:{tracer_id}")
    assert (read["purpose"], read["details"]["case"]) == ("case_investigation", case_id)
    bystander_log = ok(client.get(f"/residents/{ids['bystander']}/log", headers=me["bystander"]))
    refused = [e for e in bystander_log if e["action"] == "access.refused"]
    assert [e["actor"] for e in refused] == [f"staff:{tracer_id}"]
    assert (
        client.get(f"/residents/{ids['contact']}/log", headers=me["bystander"]).status_code == 404
    )

    # The exposure notice says where, which day, the rule and what to do — not who the case is.
    (notice,) = ok(client.get(f"/residents/{ids['contact']}/notices", headers=me["contact"]))
    assert notice["venue_name"] == "老街餐厅"
    assert notice["colour"] == "red"
    assert notice["advice"]["zh"]
    assert notice["day"] % DAY == 0
    notices_text = client.get(f"/residents/{ids['contact']}/notices", headers=me["contact"]).text
    assert ids["case"] not in notices_text
    assert case_id not in notices_text

    # A code issued now is red, carries the rule, and the verifier refuses it.
    red = ok(client.post(f"/residents/{ids['contact']}/code", headers=me["contact"]))
    assert (red["colour"], red["rule_ref"]) == ("red", "default@1#close")
    verdict = ok(client.post("/verify", json={"code": red["code"]}))
    assert verdict["decision"] == "refuse"
    assert verdict["reason"] == "status_red"
    assert (
        ok(
            client.post(
                f"/venues/{shop['venue_id']}/scans",
                json={"code": red["code"]},
                headers=scanners[shop["venue_id"]],
            )
        )["recorded"]
        is False
    )

    # After the quarantine period the colour runs out by itself and the next code admits.
    clock.advance(8 * DAY)
    # A week on, the sessions have run out: the admin and the contact sign in again.
    assert client.post("/statuses/sweep", headers=admin).status_code == 401
    assert (
        client.get(f"/residents/{ids['contact']}/status", headers=me["contact"]).status_code == 401
    )
    admin = staff_headers(app, "authority_admin")
    me["contact"] = sign_in(client, app, PEOPLE["contact"]["phone"])
    swept = ok(client.post("/statuses/sweep", headers=admin))
    assert swept["colour_changes"] >= 1
    assert ok(client.get(f"/residents/{ids['contact']}/status",
                         headers=me["contact"]))["colour"] == "green"  # fmt: skip
    green = ok(client.post(f"/residents/{ids['contact']}/code", headers=me["contact"]))
    assert ok(client.post("/verify", json={"code": green["code"]}))["decision"] == "admit"

    actions = log_actions(client)
    for action in ("lab_results.imported", "case.opened", "case.traced", "ruleset.activated"):
        assert action in actions
    # the case turned red, the contact red and back to green; the case is still in isolation
    assert actions.count("status.changed") == 3
    me["case"] = sign_in(client, app, PEOPLE["case"]["phone"])
    assert ok(client.get(f"/residents/{ids['case']}/status", headers=me["case"]))["colour"] == "red"
