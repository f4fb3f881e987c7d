"""Labs and their results over HTTP (AUTHZ-8): a lab is registered by two admins with the public
key it made itself; only the lab sends results, each request signed with its key, as JSON rows,
CSV or an HL7 FHIR R4 Bundle; no member of staff can; every bad row is reported and nothing is
half-written; an unregistered, pending or revoked lab is refused and stores nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.entrypoints.web.app import create_app
from healthcode.services import audit
from tests.conftest import headers_of, officer_on_case, resident_headers, staff_headers
from tests.support import fhir
from tests.support.labs import TestLab, new_key, registered_lab
from tests.support.staff import founders

DOC = "11010519491231002X"
RESIDENT = {"name": "陈五", "doc_type": "prc_id", "doc_number": DOC, "phone": "13912345678"}


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app)) as test_client:
        yield test_client


@pytest.fixture
def officer(app: App) -> dict[str, str]:
    """A health officer: enrols at the desk, sees every open case, enters no result."""
    return staff_headers(app, "health_officer")


@pytest.fixture
def lab(app: App) -> TestLab:
    return registered_lab(app, "GZLAB1")


def row(test_id: str, result: str = "positive", doc: str = DOC) -> dict[str, str]:
    return {
        "test_id": test_id,
        "doc_type": "prc_id",
        "doc_number": doc,
        "sample_time": "2026-11-17T09:00:00+08:00",
        "result": result,
        "lab": "GZLAB1",
    }


def send(client: TestClient, app: App, lab: TestLab, path: str, body: bytes, kind: str) -> Any:
    headers = lab.headers(path, body, app.ctx.clock.now()) | {"content-type": kind}
    return client.post(path, content=body, headers=headers)


def rows(client: TestClient, app: App, lab: TestLab, *items: dict[str, str]) -> Any:
    body = json.dumps({"rows": list(items)}).encode()
    return send(client, app, lab, "/lab-results", body, "application/json")


def test_a_lab_is_registered_by_two_admins_with_its_own_key(client: TestClient, app: App) -> None:
    first, second = (headers_of(app, p) for p in founders(app).admins)
    _, public = new_key()
    body = {"code": "SZLAB2", "name": "深圳二号检测中心", "public_key": public}
    asked = client.post("/labs", json=body, headers=first)
    assert asked.status_code == 202, asked.text
    assert asked.json()["state"] == "pending"
    lab_id = asked.json()["lab_id"]
    own = client.post(f"/labs/{lab_id}/approve", headers=first)
    assert own.status_code == 403
    assert own.json()["error"]["code"] == "two_person_rule"
    assert client.post(f"/labs/{lab_id}/approve", headers=second).json()["state"] == "active"
    listed = {lab["code"]: lab for lab in client.get("/labs").json()}  # public, no sign-in
    assert listed["SZLAB2"]["public_key"] == public
    officer = staff_headers(app, "health_officer")
    assert client.post("/labs", json=body, headers=officer).status_code == 403
    bad = client.post("/labs", json={**body, "code": "X1", "public_key": "bm90IGEga2V5"},
                      headers=first)  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "public_key"


def test_json_results_come_from_the_lab_and_never_from_staff(
    client: TestClient, app: App, officer: dict[str, str], lab: TestLab
) -> None:
    client.post("/residents", json=RESIDENT, headers=officer)
    assert client.post("/lab-results", json={"rows": [row("T-1")]}).status_code == 401
    by_officer = client.post("/lab-results", json={"rows": [row("T-1")]}, headers=officer)
    assert by_officer.status_code == 403  # a health officer cannot post a result
    done = rows(client, app, lab, row("T-1"))
    assert done.status_code == 200, done.text
    assert done.json()["imported"] == 1
    (case_id,) = done.json()["cases_opened"]
    cases = client.get("/cases", headers=officer).json()
    assert [c["case_id"] for c in cases] == [case_id]


def test_bad_rows_are_all_reported_and_nothing_is_imported(
    client: TestClient, app: App, officer: dict[str, str], lab: TestLab
) -> None:
    client.post("/residents", json=RESIDENT, headers=officer)
    before = audit.log_size(app.ctx)
    items = [row("T-1"), row("T-2", result="maybe"), row("T-3", doc="110105194912310021")]
    refused = rows(client, app, lab, *items)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "bad_rows"
    assert [(r["line"], r["field"]) for r in error["rows"]] == [(1, "result"), (2, "doc_number")]
    assert client.get("/cases", headers=officer).json() == []
    assert audit.log_size(app.ctx) == before


def test_csv_from_the_lab(
    client: TestClient, app: App, officer: dict[str, str], lab: TestLab
) -> None:
    client.post("/residents", json=RESIDENT, headers=officer)
    text = (
        "test_id,doc_type,doc_number,sample_time,result,lab\n"
        f"T-9,prc_id,{DOC},2026-11-17T09:00:00+08:00,negative,GZLAB1\n"
    )
    done = send(client, app, lab, "/lab-results/csv", text.encode(), "text/csv")
    assert done.json() == {
        "imported": 1, "duplicates": 0, "registered": 0, "positives": 0, "cases_opened": []
    }  # fmt: skip
    binary = send(client, app, lab, "/lab-results/csv", b"\xff\xfe\x00bad", "text/csv")
    assert binary.status_code == 422
    assert binary.json()["error"]["field"] == "file"


def test_a_fhir_bundle_from_a_registered_lab_opens_a_case(
    client: TestClient, app: App, officer: dict[str, str], lab: TestLab, clock: FixedClock
) -> None:
    person = client.post("/residents", json=RESIDENT, headers=officer).json()["subject_id"]
    now = clock.now()
    registered = fhir.text(fhir.Test("F-1", "prc_id", DOC, now - 7200, "registered"))
    done = send(client, app, lab, "/lab-results/fhir", registered, "application/fhir+json")
    assert (done.json()["registered"], done.json()["cases_opened"]) == (1, [])
    result = fhir.text(fhir.Test("F-1", "prc_id", DOC, now - 7200, "positive"))
    done = send(client, app, lab, "/lab-results/fhir", result, "application/fhir+json")
    assert done.status_code == 200, done.text
    (case_id,) = done.json()["cases_opened"]
    status = client.get(f"/residents/{person}/status", headers=resident_headers(app, person))
    assert status.json()["colour"] == "red"
    imported = [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]
    (entry,) = [e for e in imported if e["action"] == "lab_results.imported"
                and e["details"]["positives"] == 1]  # fmt: skip
    assert entry["details"]["unrequested"] == 0  # its sample was registered first
    assert case_id


def test_a_bundle_from_an_unregistered_or_revoked_lab_or_malformed_stores_nothing(
    client: TestClient, app: App, officer: dict[str, str], lab: TestLab, clock: FixedClock
) -> None:
    client.post("/residents", json=RESIDENT, headers=officer)
    now = clock.now()
    bundle = fhir.text(fhir.Test("F-7", "prc_id", DOC, now - 600, "positive"))
    path, kind = "/lab-results/fhir", "application/fhir+json"
    # Malformed, in several ways: each a 422 naming the element, nothing stored.
    broken = json.loads(bundle)
    broken["entry"][-1]["resource"]["status"] = "cancelled"
    wrong_code = fhir.bundle(fhir.Test("F-8", "prc_id", DOC, now - 600, "positive"),
                             loinc="1234-5")  # fmt: skip
    before = audit.log_size(app.ctx)
    for doc, field in ((broken, "status"), (wrong_code, "code"), ({"resourceType": "Patient"},
                       "resourceType"), ("[", "bundle")):  # fmt: skip
        raw = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
        refused = send(client, app, lab, path, raw, kind)
        assert refused.status_code == 422, refused.text
        assert field in refused.json()["error"]["field"]
    # An unregistered lab (a made-up lab id), and a key the lab's id was not registered with.
    unknown = TestLab(replace(lab.lab, lab_id="l" + "9" * 16), new_key()[0])
    impostor = TestLab(lab.lab, new_key()[0])
    for who in (unknown, impostor):
        assert send(client, app, who, path, bundle, kind).status_code == 401
    assert audit.log_size(app.ctx) == before
    # Revoked: its key stops working at once.
    admin = headers_of(app, founders(app).admins[0])
    assert client.post(f"/labs/{lab.lab.lab_id}/revoke", headers=admin).status_code == 200
    after_revoking = audit.log_size(app.ctx)
    refused = send(client, app, lab, path, bundle, kind)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]["message"]
    assert audit.log_size(app.ctx) == after_revoking
    assert client.get("/cases", headers=officer).json() == []


def test_checkins_to_case_to_trace(
    client: TestClient, officer: dict[str, str], app: App, lab: TestLab, clock: FixedClock
) -> None:
    case_person = client.post("/residents", json=RESIDENT, headers=officer).json()["subject_id"]
    other = client.post(
        "/residents",
        json={**RESIDENT, "name": "陈六", "doc_number": "440106199001010013"},
        headers=officer,
    ).json()
    venue = client.post(
        "/venues",
        headers=staff_headers(app, "authority_admin"),
        json={
            "name_zh": "菜市场",
            "address": "3 Market St",
            "district": "Liwan",
            "venue_type": "market",
            "operator": "Liwan Markets",
        },
    ).json()
    for subject in (case_person, other["subject_id"]):
        made = client.post(
            f"/residents/{subject}/checkins",
            json={"place_code": venue["place_code"]},
            headers=resident_headers(app, subject),
        )
        assert made.status_code == 201
    clock.advance(2 * 3600)  # the positive comes in two hours after the visit
    officer = staff_headers(app, "health_officer")  # (the earlier staff session has timed out)
    sample = str(app.ctx.clock.now() - 3600)
    done = rows(client, app, lab, {**row("T-1"), "sample_time": sample}).json()
    (case_id,) = done["cases_opened"]
    assert client.post(f"/cases/{case_id}/trace").status_code == 401
    stranger = staff_headers(app, "tracer")  # a tracer not assigned to this case
    assert client.post(f"/cases/{case_id}/trace", headers=stranger).status_code == 404
    assert client.get("/cases", headers=stranger).json() == []
    # Nor a health officer who is not assigned to it: tracing is by assignment only.
    assert client.post(f"/cases/{case_id}/trace", headers=officer).status_code == 404
    tracer = officer_on_case(app, case_id)
    assert [c["case_id"] for c in client.get("/cases", headers=tracer).json()] == [case_id]
    traced = client.post(f"/cases/{case_id}/trace", headers=tracer).json()
    (contact,) = traced["close"]
    assert contact["subject_id"] == other["subject_id"]
    # The answer came before the contact's colour work, which followed it at once.
    assert traced["colours_queued"] == 1
    assert client.get("/health").json()["colour_queue"]["pending"] == 0
    mine = client.post(f"/residents/{contact['subject_id']}/code",
                       headers=resident_headers(app, contact["subject_id"]))  # fmt: skip
    assert mine.json()["colour"] == "red"
    (evidence,) = contact["exposures"]
    assert evidence["venue_id"] == venue["venue_id"]
    assert evidence["seconds"] >= app.settings.trace_min_overlap_seconds
    assert client.post("/cases/knope/trace", headers=officer).status_code == 404
