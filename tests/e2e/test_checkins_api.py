"""Check-ins over HTTP: a resident's scan, a guard's scan, an offline upload."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from healthcode.bootstrap import App
from healthcode.entrypoints.web.app import create_app

RESIDENT = {
    "name": "郑二",
    "doc_type": "prc_id",
    "doc_number": "11010519491231002X",
    "phone": "13912345678",
}
VENUE = {
    "name_zh": "菜市场",
    "address": "3 Market St",
    "district": "Liwan",
    "venue_type": "market",
    "operator": "Liwan Markets",
}


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app)) as test_client:
        yield test_client


def test_resident_checks_in_by_poster_and_out_again(client: TestClient) -> None:
    subject = client.post("/residents", json=RESIDENT).json()["subject_id"]
    venue = client.post("/venues", json=VENUE).json()
    made = client.post(f"/residents/{subject}/checkins", json={"place_code": venue["place_code"]})
    assert made.status_code == 201
    (visit,) = made.json()
    assert visit["venue_id"] == venue["venue_id"]
    assert visit["time_out"] is None
    listed = client.get(f"/residents/{subject}/checkins").json()
    assert [v["checkin_id"] for v in listed] == [visit["checkin_id"]]
    out = client.post(
        f"/residents/{subject}/checkins/{visit['venue_id']}/{visit['checkin_id']}/checkout"
    )
    assert out.status_code == 200
    assert out.json()["time_out"] is not None


def test_bad_place_code_is_refused_by_field(client: TestClient) -> None:
    subject = client.post("/residents", json=RESIDENT).json()["subject_id"]
    refused = client.post(f"/residents/{subject}/checkins", json={"place_code": "PLACE1:XYZ"})
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "place_code"
    assert client.get(f"/residents/{subject}/checkins").json() == []


def test_guard_scan_shows_only_the_minimum(client: TestClient) -> None:
    subject = client.post("/residents", json=RESIDENT).json()["subject_id"]
    venue = client.post("/venues", json=VENUE).json()
    code = client.post(f"/residents/{subject}/code").json()["code"]
    scan = client.post(f"/venues/{venue['venue_id']}/scans", json={"code": code}).json()
    assert set(scan) == {"decision", "reason", "message", "valid_until", "masked_name", "recorded"}
    assert scan["decision"] == "admit"
    assert scan["recorded"] is True
    assert len(client.get(f"/residents/{subject}/checkins").json()) == 1
    unknown = client.post("/venues/vnope/scans", json={"code": code})
    assert unknown.status_code == 404


def test_offline_upload_is_idempotent(client: TestClient, app: App) -> None:
    subject = client.post("/residents", json=RESIDENT).json()["subject_id"]
    venue = client.post("/venues", json=VENUE).json()
    code = client.post(f"/residents/{subject}/code").json()["code"]
    now = app.ctx.clock.now()
    items = [
        {"client_id": "tablet-7-000001", "code": code, "scanned_at": now},
        {"client_id": "tablet-7-000002", "code": "HCODE1:BROKEN", "scanned_at": now},
    ]
    first = client.post(f"/venues/{venue['venue_id']}/uploads", json={"items": items}).json()
    assert first["accepted"] == ["tablet-7-000001"]
    assert first["rejected"][0]["client_id"] == "tablet-7-000002"
    again = client.post(f"/venues/{venue['venue_id']}/uploads", json={"items": items}).json()
    assert again["duplicates"] == ["tablet-7-000001"]
    assert again["accepted"] == []
    bad = client.post(
        f"/venues/{venue['venue_id']}/uploads",
        json={"items": [{"client_id": "no", "code": code, "scanned_at": now}]},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "items.0.client_id"
