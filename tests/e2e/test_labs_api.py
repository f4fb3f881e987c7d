"""Lab results over HTTP and the CLI: admin only, every bad row reported, nothing half-written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.entrypoints.web.app import create_app
from tests.conftest import TEST_ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
DOC = "11010519491231002X"
RESIDENT = {"name": "陈五", "doc_type": "prc_id", "doc_number": DOC, "phone": "13912345678"}


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app)) as test_client:
        yield test_client


def row(test_id: str, result: str = "positive", doc: str = DOC) -> dict[str, str]:
    return {
        "test_id": test_id,
        "doc_type": "prc_id",
        "doc_number": doc,
        "sample_time": "2026-11-17T09:00:00+08:00",
        "result": result,
        "lab": "GZLAB1",
    }


def test_json_import_opens_a_case_for_admins_only(client: TestClient) -> None:
    client.post("/residents", json=RESIDENT)
    assert client.post("/lab-results", json={"rows": [row("T-1")]}).status_code == 401
    done = client.post("/lab-results", json={"rows": [row("T-1")]}, headers=ADMIN)
    assert done.status_code == 200
    assert done.json()["imported"] == 1
    (case_id,) = done.json()["cases_opened"]
    cases = client.get("/cases", headers=ADMIN).json()
    assert [c["case_id"] for c in cases] == [case_id]


def test_bad_rows_are_all_reported_and_nothing_is_imported(client: TestClient) -> None:
    client.post("/residents", json=RESIDENT)
    rows = [row("T-1"), row("T-2", result="maybe"), row("T-3", doc="110105194912310021")]
    refused = client.post("/lab-results", json={"rows": rows}, headers=ADMIN)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "bad_rows"
    assert [(r["line"], r["field"]) for r in error["rows"]] == [(1, "result"), (2, "doc_number")]
    assert client.get("/cases", headers=ADMIN).json() == []


def test_csv_upload(client: TestClient) -> None:
    client.post("/residents", json=RESIDENT)
    text = (
        "test_id,doc_type,doc_number,sample_time,result,lab\n"
        f"T-9,prc_id,{DOC},2026-11-17T09:00:00+08:00,negative,GZLAB1\n"
    )
    done = client.post(
        "/lab-results/csv",
        headers=ADMIN,
        files={"file": ("results.csv", text.encode(), "text/csv")},
    )
    assert done.json() == {"imported": 1, "duplicates": 0, "cases_opened": []}
    binary = client.post(
        "/lab-results/csv", headers=ADMIN, files={"file": ("x.csv", b"\xff\xfe\x00bad", "text/csv")}
    )
    assert binary.status_code == 422
    assert binary.json()["error"]["field"] == "file"


def test_checkins_to_case_to_trace(client: TestClient, app: App, clock: FixedClock) -> None:
    case_person = client.post("/residents", json=RESIDENT).json()["subject_id"]
    other = client.post(
        "/residents", json={**RESIDENT, "name": "陈六", "doc_number": "440106199001010013"}
    ).json()
    venue = client.post(
        "/venues",
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
            f"/residents/{subject}/checkins", json={"place_code": venue["place_code"]}
        )
        assert made.status_code == 201
    clock.advance(2 * 3600)  # the positive comes in two hours after the visit
    sample = str(app.ctx.clock.now() - 3600)
    done = client.post(
        "/lab-results", headers=ADMIN, json={"rows": [{**row("T-1"), "sample_time": sample}]}
    ).json()
    (case_id,) = done["cases_opened"]
    assert client.post(f"/cases/{case_id}/trace").status_code == 401
    traced = client.post(f"/cases/{case_id}/trace", headers=ADMIN).json()
    (contact,) = traced["close"]
    assert contact["subject_id"] == other["subject_id"]
    (evidence,) = contact["exposures"]
    assert evidence["venue_id"] == venue["venue_id"]
    assert evidence["seconds"] >= app.settings.trace_min_overlap_seconds
    assert client.post("/cases/knope/trace", headers=ADMIN).status_code == 404
