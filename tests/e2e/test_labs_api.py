"""Lab results over HTTP and the CLI: health officers only, every bad row reported, nothing
half-written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.entrypoints.web.app import create_app
from tests.conftest import officer_on_case, resident_headers, staff_headers

DOC = "11010519491231002X"
RESIDENT = {"name": "陈五", "doc_type": "prc_id", "doc_number": DOC, "phone": "13912345678"}


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app)) as test_client:
        yield test_client


@pytest.fixture
def officer(app: App) -> dict[str, str]:
    """A health officer: enrols at the desk, imports lab results, sees every open case."""
    return staff_headers(app, "health_officer")


def row(test_id: str, result: str = "positive", doc: str = DOC) -> dict[str, str]:
    return {
        "test_id": test_id,
        "doc_type": "prc_id",
        "doc_number": doc,
        "sample_time": "2026-11-17T09:00:00+08:00",
        "result": result,
        "lab": "GZLAB1",
    }


def test_json_import_opens_a_case_for_health_officers_only(
    client: TestClient, officer: dict[str, str]
) -> None:
    client.post("/residents", json=RESIDENT, headers=officer)
    assert client.post("/lab-results", json={"rows": [row("T-1")]}).status_code == 401
    done = client.post("/lab-results", json={"rows": [row("T-1")]}, headers=officer)
    assert done.status_code == 200
    assert done.json()["imported"] == 1
    (case_id,) = done.json()["cases_opened"]
    cases = client.get("/cases", headers=officer).json()
    assert [c["case_id"] for c in cases] == [case_id]


def test_bad_rows_are_all_reported_and_nothing_is_imported(
    client: TestClient, officer: dict[str, str]
) -> None:
    client.post("/residents", json=RESIDENT, headers=officer)
    rows = [row("T-1"), row("T-2", result="maybe"), row("T-3", doc="110105194912310021")]
    refused = client.post("/lab-results", json={"rows": rows}, headers=officer)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "bad_rows"
    assert [(r["line"], r["field"]) for r in error["rows"]] == [(1, "result"), (2, "doc_number")]
    assert client.get("/cases", headers=officer).json() == []


def test_csv_upload(client: TestClient, officer: dict[str, str]) -> None:
    client.post("/residents", json=RESIDENT, headers=officer)
    text = (
        "test_id,doc_type,doc_number,sample_time,result,lab\n"
        f"T-9,prc_id,{DOC},2026-11-17T09:00:00+08:00,negative,GZLAB1\n"
    )
    done = client.post(
        "/lab-results/csv",
        headers=officer,
        files={"file": ("results.csv", text.encode(), "text/csv")},
    )
    assert done.json() == {"imported": 1, "duplicates": 0, "cases_opened": []}
    binary = client.post(
        "/lab-results/csv",
        headers=officer,
        files={"file": ("x.csv", b"\xff\xfe\x00bad", "text/csv")},
    )
    assert binary.status_code == 422
    assert binary.json()["error"]["field"] == "file"


def test_checkins_to_case_to_trace(
    client: TestClient, officer: dict[str, str], app: App, clock: FixedClock
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
    done = client.post(
        "/lab-results", headers=officer, json={"rows": [{**row("T-1"), "sample_time": sample}]}
    ).json()
    (case_id,) = done["cases_opened"]
    assert client.post(f"/cases/{case_id}/trace").status_code == 401
    stranger = staff_headers(app, "tracer")  # a tracer not assigned to this case
    assert client.post(f"/cases/{case_id}/trace", headers=stranger).status_code == 404
    assert client.get("/cases", headers=stranger).json() == []
    tracer = officer_on_case(app, case_id)
    assert [c["case_id"] for c in client.get("/cases", headers=tracer).json()] == [case_id]
    traced = client.post(f"/cases/{case_id}/trace", headers=tracer).json()
    (contact,) = traced["close"]
    assert contact["subject_id"] == other["subject_id"]
    (evidence,) = contact["exposures"]
    assert evidence["venue_id"] == venue["venue_id"]
    assert evidence["seconds"] >= app.settings.trace_min_overlap_seconds
    assert client.post("/cases/knope/trace", headers=officer).status_code == 404
