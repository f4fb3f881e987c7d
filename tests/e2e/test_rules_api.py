"""Rule sets, colours, what-if and recorded facts over HTTP and the CLI."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App, build
from healthcode.config import Settings
from healthcode.entrypoints.web.app import create_app
from healthcode.services import audit, rules
from healthcode.services.keys import ensure_keys
from tests.conftest import TEST_PASSPHRASE, officer_on_case, resident_headers, staff_headers
from tests.support.cli import Cli
from tests.support.labs import post_rows

DAY = 86400
DEFAULT: dict[str, Any] = json.loads(
    resources.files("healthcode.rulesets").joinpath("default.json").read_text("utf-8")
)
RESIDENT = {"name": "陈五", "doc_type": "passport", "doc_number": "E12345678",
            "phone": "13912345678"}  # fmt: skip


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app)) as test_client:
        yield test_client


def strict_v2() -> dict[str, Any]:
    """Version 2: secondary contacts turn red as well (a stricter city)."""
    doc = copy.deepcopy(DEFAULT)
    doc["version"] = 2
    doc["rules"][2]["colour"] = "red"
    return doc


@pytest.fixture
def admin(app: App) -> dict[str, str]:
    return staff_headers(app, "authority_admin")


@pytest.fixture
def officer(app: App) -> dict[str, str]:
    return staff_headers(app, "health_officer")


def enrol(client: TestClient, app: App) -> tuple[str, dict[str, str]]:
    """A resident enrolled at the desk, and their own signed-in headers."""
    desk = staff_headers(app, "health_officer")
    response = client.post("/residents", json=RESIDENT, headers=desk)
    assert response.status_code == 201
    subject = str(response.json()["subject_id"])
    return subject, resident_headers(app, subject)


def test_the_active_rule_set_is_published_in_both_languages(client: TestClient) -> None:
    active = client.get("/rulesets/active").json()
    assert (active["ruleset"], active["version"], active["active"]) == ("default", 1, True)
    assert active["title"]["zh"]
    assert active["title"]["en"]
    assert [r["id"] for r in active["rules"]] == ["pos", "close", "second", "sympt", "unsure"]
    assert all(r["description"]["zh"] and r["advice"]["en"] for r in active["rules"])
    assert active["rules"][0]["logic"] == DEFAULT["rules"][0]["logic"]
    assert client.get("/rulesets/default/1").json()["digest"] == active["digest"]
    assert client.get("/rulesets/default/7").status_code == 404
    assert [r["ref"] for r in client.get("/rulesets").json()] == ["default@1"]


def test_loading_and_activating_take_two_people_and_are_logged(
    client: TestClient,
    app: App,
    clock: FixedClock,
    admin: dict[str, str],
    officer: dict[str, str],
) -> None:
    assert client.post("/rulesets", json=strict_v2()).status_code == 401
    loaded = client.post("/rulesets", json=strict_v2(), headers=admin)
    assert loaded.status_code == 201, loaded.text
    assert loaded.json()["active"] is False
    # the same content again is fine; other content under a used version is refused
    assert client.post("/rulesets", json=strict_v2(), headers=admin).status_code == 201
    taken = copy.deepcopy(strict_v2())
    taken["rules"][0]["lasts_days"] = 10
    refused = client.post("/rulesets", json=taken, headers=admin)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "version_taken"

    # a secondary contact is yellow under v1, red under v2
    subject, me = enrol(client, app)
    hypothetical = {"facts": [{"kind": "exposure", "time": clock.now() - DAY,
                               "level": "secondary", "minutes": 30}]}  # fmt: skip
    assert (
        client.post(f"/residents/{subject}/status/what-if", json=hypothetical, headers=me).json()[
            "colour"
        ]
        == "yellow"
    )
    clock.advance(1)
    # no one-step activation: a health officer asks, a different authority admin approves
    assert client.post("/rulesets/default/2/activate", headers=admin).status_code in (404, 405)
    assert client.post("/rulesets/default/2/activation-requests").status_code == 401
    asked = client.post("/rulesets/default/2/activation-requests", headers=officer)
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert (request["ref"], request["requester_role"]) == ("default@2", "health_officer")
    assert request["expires_at"] == request["requested_at"] + 24 * 3600
    assert client.get("/rulesets/active").json()["version"] == 1  # nothing changes yet
    pending = client.get("/rulesets/activation-requests", headers=officer).json()
    assert [r["seq"] for r in pending] == [request["seq"]]
    assert client.get("/rulesets/activation-requests").status_code == 401
    approve = f"/rulesets/activation-requests/{request['seq']}/approve"
    assert client.post(approve, headers=officer).status_code == 403  # not an admin
    done = client.post(approve, headers=admin)
    assert done.status_code == 200, done.text
    assert done.json()["ruleset"]["active"] is True
    assert done.json()["request"] == request["seq"]
    assert client.get("/rulesets/activation-requests", headers=admin).json() == []
    assert client.get("/rulesets/active").json()["version"] == 2
    verdict = client.post(
        f"/residents/{subject}/status/what-if", json=hypothetical, headers=me
    ).json()
    assert (verdict["colour"], verdict["rule_ref"]) == ("red", "default@2#second")
    assert verdict["evidence"][0]["fact_id"] == "h0"
    # what-if stores nothing
    assert client.get(f"/residents/{subject}/status", headers=me).json()["colour"] == "green"

    lines = client.get("/log/export").text.splitlines()
    actions = [json.loads(json.loads(line)["entry"]) for line in lines]
    loaded_entries = [a for a in actions if a["action"] == "ruleset.loaded"]
    assert [a["object"]["ref"] for a in loaded_entries] == ["default@1", "default@2"]
    assert actions[-1]["action"] == "ruleset.activated"
    assert actions[-1]["object"]["ref"] == "default@2"
    assert actions[-1]["details"]["request"] == request["seq"]
    assert actions[request["seq"]]["action"] == "ruleset.activation_requested"


def entries(client: TestClient, action: str) -> list[dict[str, Any]]:
    lines = client.get("/log/export").text.splitlines()
    found = [json.loads(json.loads(line)["entry"]) for line in lines]
    return [e for e in found if e["action"] == action]


def ask(client: TestClient, headers: dict[str, str], version: int) -> int:
    asked = client.post(f"/rulesets/default/{version}/activation-requests", headers=headers)
    assert asked.status_code == 201, asked.text
    return int(asked.json()["seq"])


def approve(client: TestClient, headers: dict[str, str], seq: int) -> Any:
    return client.post(f"/rulesets/activation-requests/{seq}/approve", headers=headers)


def test_the_admin_who_asked_cannot_approve(
    client: TestClient, clock: FixedClock, admin: dict[str, str]
) -> None:
    assert client.post("/rulesets", json=strict_v2(), headers=admin).status_code == 201
    clock.advance(60)
    seq = ask(client, admin, 2)
    refused = approve(client, admin, seq)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "two_person_rule"
    assert "second person" in refused.json()["error"]["message"]
    assert client.get("/rulesets/active").json()["version"] == 1  # nothing changed
    (logged,) = entries(client, "ruleset.activation_refused")
    assert (logged["outcome"], logged["details"]["request"]) == ("refused:same_person", seq)
    assert entries(client, "ruleset.activated")[-1]["object"]["ref"] == "default@1"
    # the request stays open for somebody else
    assert [r["seq"] for r in client.get("/rulesets/activation-requests",
                                         headers=admin).json()] == [seq]  # fmt: skip
    assert approve(client, admin, 10**9).status_code == 404
    assert approve(client, admin, 0).status_code == 404  # an entry, not a request
    active_again = client.post("/rulesets/default/1/activation-requests", headers=admin)
    assert active_again.status_code == 409
    assert client.post("/rulesets/default/9/activation-requests",
                       headers=admin).status_code == 404  # fmt: skip


def test_an_expired_or_overtaken_request_is_refused(
    client: TestClient,
    app: App,
    clock: FixedClock,
    admin: dict[str, str],
    officer: dict[str, str],
) -> None:
    v3 = {**strict_v2(), "version": 3}
    for doc in (strict_v2(), v3):
        assert client.post("/rulesets", json=doc, headers=admin).status_code == 201
    clock.advance(60)
    stale = ask(client, officer, 2)
    clock.advance(24 * 3600 + 1)
    admin, officer = staff_headers(app, "authority_admin"), staff_headers(app, "health_officer")
    assert client.get("/rulesets/activation-requests", headers=admin).json() == []
    late = approve(client, admin, stale)
    assert late.status_code == 409
    assert "expired" in late.json()["error"]["message"]
    assert client.get("/rulesets/active").json()["version"] == 1

    first, second = ask(client, officer, 2), ask(client, officer, 3)
    assert approve(client, admin, first).status_code == 200
    clock.advance(60)
    overtaken = approve(client, staff_headers(app, "authority_admin"), second)
    assert overtaken.status_code == 409
    assert "since the request" in overtaken.json()["error"]["message"]
    assert client.get("/rulesets/active").json()["version"] == 2


def test_a_dry_run_counts_who_would_change_colour_and_is_logged(
    client: TestClient, app: App, clock: FixedClock, officer: dict[str, str]
) -> None:
    subject, me = enrol(client, app)
    body = {"symptoms": ["fever"], "onset": clock.now() - 3600}
    assert client.post(f"/residents/{subject}/symptoms", json=body, headers=me).status_code == 201
    harsher = copy.deepcopy(DEFAULT)
    harsher["version"] = 2
    harsher["rules"][3]["colour"] = "red"  # symptoms: red instead of yellow
    assert client.post("/rulesets", json=harsher, headers=officer).status_code == 201
    assert client.post("/rulesets/default/2/dry-run").status_code == 401
    assert client.post("/rulesets/default/2/dry-run", headers=me).status_code == 403
    ran = client.post("/rulesets/default/2/dry-run", headers=officer)
    assert ran.status_code == 200, ran.text
    result = ran.json()
    assert (result["candidate"], result["active"]) == ("default@2", "default@1")
    assert (result["people"], result["changed"]) == (1, 1)
    assert result["shifts"] == [
        {"before": "yellow", "after": "red", "rule_ref": "default@2#sympt", "people": 1}
    ]
    assert result["problems"] == []
    (logged,) = entries(client, "ruleset.dry_run")
    assert (logged["details"]["people"], logged["details"]["changed"]) == (1, 1)
    assert subject not in json.dumps(logged)  # counts, never a person
    assert client.get(f"/residents/{subject}/status", headers=me).json()["colour"] == "yellow"
    assert client.post("/rulesets/default/9/dry-run", headers=officer).status_code == 404


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"ruleset": "x"}, "$.refuse_at_gate"),
        ({**DEFAULT, "version": 9}, "$.version"),  # versions are the system's to number
        ({**DEFAULT, "version": 2, "rules": [{**DEFAULT["rules"][0],
          "logic": {"var": "fact.home_district"}}]}, "$.rules[0].logic"),
        ({**DEFAULT, "version": 2, "rules": [{**DEFAULT["rules"][0], "fact": "vaccination",
          "logic": True}]}, "$.rules"),
    ],
)  # fmt: skip
def test_a_bad_rule_set_is_refused_naming_the_field(
    client: TestClient, admin: dict[str, str], document: dict[str, Any], field: str
) -> None:
    refused = client.post("/rulesets", json=document, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == field
    assert [r["ref"] for r in client.get("/rulesets").json()] == ["default@1"]


def test_symptoms_turn_yellow_and_a_negative_test_afterwards_clears_them(
    client: TestClient, app: App, clock: FixedClock, officer: dict[str, str]
) -> None:
    subject, me = enrol(client, app)
    body = {"symptoms": ["fever", "cough"], "onset": clock.now() - 3600}
    recorded = client.post(f"/residents/{subject}/symptoms", json=body, headers=me)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["colour_changes"] == 1
    status = client.get(f"/residents/{subject}/status", headers=me).json()
    assert (status["colour"], status["rule_ref"]) == ("yellow", "default@1#sympt")
    assert status["evidence"][0]["summary"] == {"symptoms": "cough,fever"}
    bad = client.post(f"/residents/{subject}/symptoms", headers=me,
                      json={"symptoms": ["sadness"], "onset": clock.now()})  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "symptoms"
    future = client.post(f"/residents/{subject}/symptoms", headers=me,
                         json={"symptoms": ["fever"], "onset": clock.now() + DAY})  # fmt: skip
    assert future.json()["error"]["field"] == "onset"
    row = {"test_id": "N-1", "doc_type": "passport", "doc_number": "E12345678",
           "sample_time": str(clock.now()), "result": "negative", "lab": "GZLAB1"}  # fmt: skip
    imported = post_rows(client, app, [row])
    assert imported.status_code == 200, imported.text
    assert client.get(f"/residents/{subject}/status", headers=me).json()["colour"] == "green"


def test_quarantine_is_recorded_by_an_officer_and_vaccination_only_where_enabled(
    client: TestClient, app: App, clock: FixedClock, officer: dict[str, str]
) -> None:
    subject, _ = enrol(client, app)
    body = {"completed_at": clock.now(), "days": 7}
    assert client.post(f"/residents/{subject}/quarantine", json=body).status_code == 401
    # an officer reaches a person only through an assigned open case that involves them
    unassigned = staff_headers(app, "tracer")
    assert client.post(f"/residents/{subject}/quarantine", json=body,
                       headers=unassigned).status_code == 404  # fmt: skip
    sample = str(clock.now() - DAY)
    row = {"test_id": "P-1", "doc_type": "passport", "doc_number": "E12345678",
           "sample_time": sample, "result": "positive", "lab": "GZLAB1"}  # fmt: skip
    (case_id,) = post_rows(client, app, [row]).json()[
        "cases_opened"
    ]
    tracer = officer_on_case(app, case_id)
    assert client.post(f"/residents/{subject}/quarantine", json=body,
                       headers=tracer).status_code == 201  # fmt: skip
    dose = {"dose": 1, "product": "mrna", "given_at": clock.now()}
    refused = client.post(f"/residents/{subject}/vaccinations", json=dose, headers=officer)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "fact_not_recorded"
    unknown = "0" * 32
    assert client.post(f"/residents/{unknown}/quarantine", json=body,
                       headers=tracer).status_code == 404  # fmt: skip
    assert client.get(f"/residents/{unknown}/status", headers=tracer).status_code == 404


def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTHCODE_PROFILE", "production")
    monkeypatch.setenv("HEALTHCODE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("HEALTHCODE_DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("HEALTHCODE_KEY_PASSPHRASE", TEST_PASSPHRASE)
    monkeypatch.setenv("HEALTHCODE_CITY", settings.city)


def test_the_cli_activates_only_the_first_rule_set(
    settings: Settings, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's bootstrap: before any rule set is active, and never after."""
    built = build(settings, clock=clock, migrate=False)
    built.keyring.ensure()
    ensure_keys(built.ctx)  # initialised but for the rules: none is active yet
    cli_env(settings, monkeypatch)
    runner = Cli(clock)
    shipped = str(resources.files("healthcode.rulesets").joinpath("default.json"))
    assert runner.invoke(["rules", "load", shipped]).exit_code == 0
    missing = runner.invoke(["rules", "activate", "default", "9"])
    assert missing.exit_code == 2
    assert "no such rule set version" in missing.output
    assert runner.invoke(["rules", "activate", "default", "x"]).exit_code == 2
    first = runner.invoke(["rules", "activate", "default", "1"])
    assert first.exit_code == 0, first.output
    assert "active: default@1" in first.output
    info = rules.get_ruleset(built.ctx, "active")
    assert (info.ruleset.version, info.active) == (1, True)
    again = runner.invoke(["rules", "activate", "default", "1"])
    assert again.exit_code == 2
    assert "two people" in again.output
    lines = [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(built.ctx)]
    (activated,) = [e for e in lines if e["action"] == "ruleset.activated"]
    assert activated["actor"] == {"role": "operator", "ref": "cli"}
    built.close()


def test_cli_rules_and_status(
    app: App, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(app.settings, monkeypatch)
    runner = Cli(clock)

    shown = runner.invoke(["rules", "show"])
    assert shown.exit_code == 0, shown.output
    assert "密切接触者" in shown.output
    v2 = tmp_path / "v2.json"
    v2.write_text(json.dumps(strict_v2(), ensure_ascii=False), encoding="utf-8")
    assert runner.invoke(["rules", "check", str(v2)]).exit_code == 0
    assert runner.invoke(["rules", "load", str(v2)]).exit_code == 0
    # default@1 is active: the CLI cannot change the rules alone, it points to the two steps
    refused_alone = runner.invoke(["rules", "activate", "default", "2"])
    assert refused_alone.exit_code == 2, refused_alone.output
    assert "two" in refused_alone.output
    assert "activation-requests" in refused_alone.output
    assert rules.get_ruleset(app.ctx, "active").ruleset.version == 1
    assert "default@2" in runner.invoke(["rules", "list"]).output
    broken = tmp_path / "broken.json"
    broken.write_text('{"ruleset": "default", "version": 3, "rules": [{"logic": {"or": []}}]}')
    refused = runner.invoke(["rules", "load", str(broken)])
    assert refused.exit_code == 2
    assert "$." in refused.output

    enrolled = runner.invoke(["resident", "enrol", "--name", "陈五", "--doc-type",
                                   "passport", "--doc-number", "E12345678", "--phone",
                                   "13912345678"])  # fmt: skip
    assert enrolled.exit_code == 0, enrolled.output
    subject = json.loads(enrolled.stdout)["subject_id"]
    assert "GREEN" in runner.invoke(["status", "show", subject]).output
    what_if = runner.invoke(["status", "what-if", subject,
                                  '{"kind": "test", "time": "2026-11-18T08:00:00Z", '
                                  '"result": "positive"}'])  # fmt: skip
    assert what_if.exit_code == 0, what_if.output
    assert "RED" in what_if.output
    bad = runner.invoke(["status", "what-if", subject, '{"kind": "district", "time": 1}'])
    assert bad.exit_code == 2
    assert runner.invoke(["status", "sweep"]).exit_code == 0
    assert runner.invoke(["status", "notices", subject]).exit_code == 0
