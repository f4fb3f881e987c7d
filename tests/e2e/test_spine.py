"""The whole spine over HTTP, on SQLite and on PostgreSQL:

enrol → place code → scan → check-in → lab result → case → trace → colour → signed code →
verify refuses red; the resident reads why (the rule in words and the evidence); the colour runs
out by itself and the code admits again. Every step that changes state is on the log.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.entrypoints.web.app import create_app
from tests.conftest import TEST_ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
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
    return response.json()  # type: ignore[attr-defined,no-any-return]


def venue(client: TestClient, name: str, kind: str) -> dict:  # type: ignore[type-arg]
    body = {"name_zh": name, "address": "1 Road", "district": "Tianhe", "venue_type": kind,
            "operator": "Op Co"}  # fmt: skip
    return ok(client.post("/venues", json=body), 201)


def log_actions(client: TestClient) -> list[str]:
    lines = client.get("/log/export").text.splitlines()
    return [json.loads(json.loads(line)["entry"])["action"] for line in lines]


def test_the_whole_spine(client: TestClient, clock: FixedClock) -> None:
    ids = {who: ok(client.post("/residents", json=body), 201)["subject_id"]
           for who, body in PEOPLE.items()}  # fmt: skip
    restaurant = venue(client, "老街餐厅", "restaurant")
    shop = venue(client, "街角小店", "shop")

    # The case scans the restaurant's poster; the contact is scanned in by the venue's device
    # ten minutes later; the bystander is at another venue at the same time.
    case_visit = ok(
        client.post(f"/residents/{ids['case']}/checkins",
                    json={"place_code": restaurant["place_code"]}), 201,
    )[0]  # fmt: skip
    clock.advance(10 * MIN)
    code = ok(client.post(f"/residents/{ids['contact']}/code"))
    assert code["colour"] == "green"
    scan = ok(client.post(f"/venues/{restaurant['venue_id']}/scans", json={"code": code["code"]}))
    assert scan["decision"] == "admit"
    assert scan["recorded"] is True
    assert set(scan) == {"decision", "reason", "message", "valid_until", "masked_name",
                         "recorded"}  # fmt: skip
    ok(client.post(f"/residents/{ids['bystander']}/checkins",
                   json={"place_code": shop["place_code"]}), 201)  # fmt: skip
    clock.advance(50 * MIN)
    ok(client.post(f"/residents/{ids['case']}/checkins/{restaurant['venue_id']}/"
                   f"{case_visit['checkin_id']}/checkout"))  # fmt: skip
    (contact_visit,) = ok(client.get(f"/residents/{ids['contact']}/checkins"))
    assert contact_visit["venue_id"] == restaurant["venue_id"]

    # The next day the lab reports the case positive: a case opens and the case turns red.
    clock.advance(DAY)
    sampled = dt.datetime.fromtimestamp(clock.now() - 3 * HOUR, dt.UTC).isoformat()
    row = {"test_id": "T-100", "doc_type": "prc_id", "doc_number": CASE_DOC,
           "sample_time": sampled, "result": "positive", "lab": "GZLAB1"}  # fmt: skip
    (case_id,) = ok(client.post("/lab-results", json={"rows": [row]}, headers=ADMIN))[
        "cases_opened"
    ]
    case_status = ok(client.get(f"/residents/{ids['case']}/status"))
    assert (case_status["colour"], case_status["rule_ref"]) == ("red", "default@1#pos")
    assert [e["kind"] for e in case_status["evidence"]] == ["test"]
    assert case_status["evidence"][0]["summary"] == {"result": "positive"}

    # Tracing finds the contact, with evidence; the contact turns red, the bystander stays green.
    traced = ok(client.post(f"/cases/{case_id}/trace", headers=ADMIN))
    assert [c["subject_id"] for c in traced["close"]] == [ids["contact"]]
    (exposure,) = traced["close"][0]["exposures"]
    assert exposure["venue_id"] == restaurant["venue_id"]
    assert exposure["seconds"] >= 15 * MIN

    why = ok(client.get(f"/residents/{ids['contact']}/status"))
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
    assert ok(client.get(f"/residents/{ids['bystander']}/status"))["colour"] == "green"

    # The exposure notice says where, which day, the rule and what to do — not who the case is.
    (notice,) = ok(client.get(f"/residents/{ids['contact']}/notices"))
    assert notice["venue_name"] == "老街餐厅"
    assert notice["colour"] == "red"
    assert notice["advice"]["zh"]
    assert notice["day"] % DAY == 0
    notices_text = client.get(f"/residents/{ids['contact']}/notices").text
    assert ids["case"] not in notices_text
    assert case_id not in notices_text

    # A code issued now is red, carries the rule, and the verifier refuses it.
    red = ok(client.post(f"/residents/{ids['contact']}/code"))
    assert (red["colour"], red["rule_ref"]) == ("red", "default@1#close")
    verdict = ok(client.post("/verify", json={"code": red["code"]}))
    assert verdict["decision"] == "refuse"
    assert verdict["reason"] == "status_red"
    assert (
        ok(client.post(f"/venues/{shop['venue_id']}/scans", json={"code": red["code"]}))["recorded"]
        is False
    )

    # After the quarantine period the colour runs out by itself and the next code admits.
    clock.advance(8 * DAY)
    swept = ok(client.post("/statuses/sweep", headers=ADMIN))
    assert swept["colour_changes"] >= 1
    assert ok(client.get(f"/residents/{ids['contact']}/status"))["colour"] == "green"
    green = ok(client.post(f"/residents/{ids['contact']}/code"))
    assert ok(client.post("/verify", json={"code": green["code"]}))["decision"] == "admit"

    actions = log_actions(client)
    for action in ("lab_results.imported", "case.opened", "case.traced", "ruleset.activated"):
        assert action in actions
    # the case turned red, the contact red and back to green; the case is still in isolation
    assert actions.count("status.changed") == 3
    assert ok(client.get(f"/residents/{ids['case']}/status"))["colour"] == "red"
