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
from typer.testing import CliRunner

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.entrypoints.cli import app as cli
from healthcode.entrypoints.web.app import create_app
from tests.conftest import TEST_ADMIN_TOKEN, TEST_PASSPHRASE

ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
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


def enrol(client: TestClient) -> str:
    response = client.post("/residents", json=RESIDENT)
    assert response.status_code == 201
    return str(response.json()["subject_id"])


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


def test_loading_and_activating_need_the_admin_and_are_logged(
    client: TestClient, clock: FixedClock
) -> None:
    assert client.post("/rulesets", json=strict_v2()).status_code == 401
    loaded = client.post("/rulesets", json=strict_v2(), headers=ADMIN)
    assert loaded.status_code == 201, loaded.text
    assert loaded.json()["active"] is False
    # the same content again is fine; other content under a used version is refused
    assert client.post("/rulesets", json=strict_v2(), headers=ADMIN).status_code == 201
    taken = copy.deepcopy(strict_v2())
    taken["rules"][0]["lasts_days"] = 10
    refused = client.post("/rulesets", json=taken, headers=ADMIN)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "version_taken"

    # a secondary contact is yellow under v1, red under v2
    subject = enrol(client)
    hypothetical = {"facts": [{"kind": "exposure", "time": clock.now() - DAY,
                               "level": "secondary", "minutes": 30}]}  # fmt: skip
    assert (
        client.post(f"/residents/{subject}/status/what-if", json=hypothetical).json()["colour"]
        == "yellow"
    )
    clock.advance(1)
    assert client.post("/rulesets/default/2/activate").status_code == 401
    done = client.post("/rulesets/default/2/activate", headers=ADMIN)
    assert done.status_code == 200, done.text
    assert done.json()["ruleset"]["active"] is True
    assert client.get("/rulesets/active").json()["version"] == 2
    verdict = client.post(f"/residents/{subject}/status/what-if", json=hypothetical).json()
    assert (verdict["colour"], verdict["rule_ref"]) == ("red", "default@2#second")
    assert verdict["evidence"][0]["fact_id"] == "h0"
    # what-if stores nothing
    assert client.get(f"/residents/{subject}/status").json()["colour"] == "green"

    lines = client.get("/log/export").text.splitlines()
    actions = [json.loads(json.loads(line)["entry"]) for line in lines]
    loaded_entries = [a for a in actions if a["action"] == "ruleset.loaded"]
    assert [a["object"]["ref"] for a in loaded_entries] == ["default@1", "default@2"]
    assert actions[-1]["action"] == "ruleset.activated"
    assert actions[-1]["object"]["ref"] == "default@2"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"ruleset": "x"}, "$.version"),
        ({**DEFAULT, "version": 3, "rules": [{**DEFAULT["rules"][0],
          "logic": {"var": "fact.home_district"}}]}, "$.rules[0].logic"),
        ({**DEFAULT, "version": 3, "rules": [{**DEFAULT["rules"][0], "fact": "vaccination",
          "logic": True}]}, "$.rules"),
    ],
)  # fmt: skip
def test_a_bad_rule_set_is_refused_naming_the_field(
    client: TestClient, document: dict[str, Any], field: str
) -> None:
    refused = client.post("/rulesets", json=document, headers=ADMIN)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == field
    assert [r["ref"] for r in client.get("/rulesets").json()] == ["default@1"]


def test_symptoms_turn_yellow_and_a_negative_test_afterwards_clears_them(
    client: TestClient, clock: FixedClock
) -> None:
    subject = enrol(client)
    body = {"symptoms": ["fever", "cough"], "onset": clock.now() - 3600}
    recorded = client.post(f"/residents/{subject}/symptoms", json=body)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["colour_changes"] == 1
    status = client.get(f"/residents/{subject}/status").json()
    assert (status["colour"], status["rule_ref"]) == ("yellow", "default@1#sympt")
    assert status["evidence"][0]["summary"] == {"symptoms": "cough,fever"}
    bad = client.post(f"/residents/{subject}/symptoms",
                      json={"symptoms": ["sadness"], "onset": clock.now()})  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "symptoms"
    future = client.post(f"/residents/{subject}/symptoms",
                         json={"symptoms": ["fever"], "onset": clock.now() + DAY})  # fmt: skip
    assert future.json()["error"]["field"] == "onset"
    row = {"test_id": "N-1", "doc_type": "passport", "doc_number": "E12345678",
           "sample_time": str(clock.now()), "result": "negative", "lab": "GZLAB1"}  # fmt: skip
    imported = client.post("/lab-results", json={"rows": [row]}, headers=ADMIN)
    assert imported.status_code == 200, imported.text
    assert client.get(f"/residents/{subject}/status").json()["colour"] == "green"


def test_quarantine_is_recorded_by_an_officer_and_vaccination_only_where_enabled(
    client: TestClient, clock: FixedClock
) -> None:
    subject = enrol(client)
    body = {"completed_at": clock.now(), "days": 7}
    assert client.post(f"/residents/{subject}/quarantine", json=body).status_code == 401
    assert client.post(f"/residents/{subject}/quarantine", json=body,
                       headers=ADMIN).status_code == 201  # fmt: skip
    dose = {"dose": 1, "product": "mrna", "given_at": clock.now()}
    refused = client.post(f"/residents/{subject}/vaccinations", json=dose, headers=ADMIN)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "fact_not_recorded"
    unknown = "0" * 32
    assert client.post(f"/residents/{unknown}/quarantine", json=body,
                       headers=ADMIN).status_code == 404  # fmt: skip
    assert client.get(f"/residents/{unknown}/status").status_code == 404


def test_cli_rules_and_status(app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = app.settings
    monkeypatch.setenv("HEALTHCODE_PROFILE", "production")
    monkeypatch.setenv("HEALTHCODE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("HEALTHCODE_DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("HEALTHCODE_KEY_PASSPHRASE", TEST_PASSPHRASE)
    monkeypatch.setenv("HEALTHCODE_ADMIN_TOKEN", TEST_ADMIN_TOKEN)
    monkeypatch.setenv("HEALTHCODE_CITY", settings.city)
    runner = CliRunner()

    shown = runner.invoke(cli, ["rules", "show"])
    assert shown.exit_code == 0, shown.output
    assert "密切接触者" in shown.output
    v2 = tmp_path / "v2.json"
    v2.write_text(json.dumps(strict_v2(), ensure_ascii=False), encoding="utf-8")
    assert runner.invoke(cli, ["rules", "check", str(v2)]).exit_code == 0
    assert runner.invoke(cli, ["rules", "load", str(v2)]).exit_code == 0
    activated = runner.invoke(cli, ["rules", "activate", "default", "2"])
    assert activated.exit_code == 0, activated.output
    assert "default@2" in runner.invoke(cli, ["rules", "list"]).output
    broken = tmp_path / "broken.json"
    broken.write_text('{"ruleset": "default", "version": 3, "rules": [{"logic": {"or": []}}]}')
    refused = runner.invoke(cli, ["rules", "load", str(broken)])
    assert refused.exit_code == 2
    assert "$." in refused.output

    enrolled = runner.invoke(cli, ["resident", "enrol", "--name", "陈五", "--doc-type",
                                   "passport", "--doc-number", "E12345678", "--phone",
                                   "13912345678"])  # fmt: skip
    assert enrolled.exit_code == 0, enrolled.output
    subject = json.loads(enrolled.output)["subject_id"]
    assert "GREEN" in runner.invoke(cli, ["status", "show", subject]).output
    what_if = runner.invoke(cli, ["status", "what-if", subject,
                                  '{"kind": "test", "time": "2026-11-18T08:00:00Z", '
                                  '"result": "positive"}'])  # fmt: skip
    assert what_if.exit_code == 0, what_if.output
    assert "RED" in what_if.output
    bad = runner.invoke(cli, ["status", "what-if", subject, '{"kind": "district", "time": 1}'])
    assert bad.exit_code == 2
    assert runner.invoke(cli, ["status", "sweep"]).exit_code == 0
    assert runner.invoke(cli, ["status", "notices", subject]).exit_code == 0
