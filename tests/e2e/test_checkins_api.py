"""Check-ins over HTTP: a resident's scan, a guard's scan, an offline upload."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.ratelimit import RateLimiter
from healthcode.bootstrap import App
from healthcode.domain.checkins import DAILY_CAP, DAY
from healthcode.entrypoints.web.app import create_app
from healthcode.services import enrolment
from tests.conftest import device_headers, resident_headers, staff_headers

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


def enrol(app: App) -> tuple[str, dict[str, str]]:
    """The resident, enrolled, and signed in."""
    subject = enrolment.enrol_resident(app.ctx, enrolment.EnrolResident(**RESIDENT)).subject_id
    return subject, resident_headers(app, subject)


def place(client: TestClient, app: App) -> tuple[dict[str, str], dict[str, str]]:
    """The venue, registered by the authority, and its door scanner's headers."""
    venue = client.post("/venues", json=VENUE, headers=staff_headers(app, "authority_admin"))
    assert venue.status_code == 201, venue.text
    return venue.json(), device_headers(app, venue.json()["venue_id"])


def test_resident_checks_in_by_poster_and_out_again(client: TestClient, app: App) -> None:
    subject, me = enrol(app)
    venue, _ = place(client, app)
    made = client.post(
        f"/residents/{subject}/checkins", json={"place_code": venue["place_code"]}, headers=me
    )
    assert made.status_code == 201
    (visit,) = made.json()
    assert visit["venue_id"] == venue["venue_id"]
    assert visit["time_out"] is None
    listed = client.get(f"/residents/{subject}/checkins", headers=me).json()
    assert [v["checkin_id"] for v in listed] == [visit["checkin_id"]]
    out = client.post(
        f"/residents/{subject}/checkins/{visit['venue_id']}/{visit['checkin_id']}/checkout",
        headers=me,
    )
    assert out.status_code == 200
    assert out.json()["time_out"] is not None


def test_bad_place_code_is_refused_by_field(client: TestClient, app: App) -> None:
    subject, me = enrol(app)
    refused = client.post(
        f"/residents/{subject}/checkins", json={"place_code": "PLACE1:XYZ"}, headers=me
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "place_code"
    assert client.get(f"/residents/{subject}/checkins", headers=me).json() == []


def test_guard_scan_shows_only_the_minimum(client: TestClient, app: App) -> None:
    subject, me = enrol(app)
    venue, door = place(client, app)
    code = client.post(f"/residents/{subject}/code", headers=me).json()["code"]
    scan = client.post(
        f"/venues/{venue['venue_id']}/scans", json={"code": code}, headers=door
    ).json()
    assert set(scan) == {"decision", "reason", "message", "valid_until", "masked_name", "recorded"}
    assert scan["decision"] == "admit"
    assert scan["recorded"] is True
    assert len(client.get(f"/residents/{subject}/checkins", headers=me).json()) == 1
    unknown = client.post("/venues/vnope/scans", json={"code": code}, headers=door)
    assert unknown.status_code == 404  # another venue's scanner: as if there were no venue


def test_offline_upload_is_idempotent(client: TestClient, app: App) -> None:
    subject, me = enrol(app)
    venue, door = place(client, app)
    code = client.post(f"/residents/{subject}/code", headers=me).json()["code"]
    now = app.ctx.clock.now()
    items = [
        {"client_id": "tablet-7-000001", "code": code, "scanned_at": now},
        {"client_id": "tablet-7-000002", "code": "HCODE1:BROKEN", "scanned_at": now},
    ]
    first = client.post(
        f"/venues/{venue['venue_id']}/uploads", json={"items": items}, headers=door
    ).json()
    assert first["accepted"] == ["tablet-7-000001"]
    assert first["rejected"][0]["client_id"] == "tablet-7-000002"
    again = client.post(
        f"/venues/{venue['venue_id']}/uploads", json={"items": items}, headers=door
    ).json()
    assert again["duplicates"] == ["tablet-7-000001"]
    assert again["accepted"] == []
    bad = client.post(
        f"/venues/{venue['venue_id']}/uploads",
        json={"items": [{"client_id": "no", "code": code, "scanned_at": now}]},
        headers=door,
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "items.0.client_id"


def test_the_daily_cap_holds_over_http_across_midnight(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    """The resident's own check-in counts their last 24 hours in its one statement, over each
    day's stored form of them: 60 check-ins astride a UTC midnight fill the cap, the 61st is
    refused, and once the first ones are 24 hours old there is room again."""
    client.app.state.limiters["resident"] = RateLimiter(100_000)  # type: ignore[attr-defined]
    subject, me = enrol(app)
    venue, _ = place(client, app)
    midnight = clock.now() - clock.now() % DAY + DAY
    clock.set(midnight - 1800)
    body = {"place_code": venue["place_code"]}
    for number in range(DAILY_CAP):
        if number == DAILY_CAP // 2:
            clock.set(midnight + 60)
        made = client.post(f"/residents/{subject}/checkins", json=body, headers=me)
        assert made.status_code == 201, made.text
        clock.advance(10)
    refused = client.post(f"/residents/{subject}/checkins", json=body, headers=me)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "daily_cap"
    clock.set(midnight - 1800 + DAY + DAILY_CAP // 2 * 10)  # the first half is 24 hours old
    again = client.post(f"/residents/{subject}/checkins", json=body, headers=me)
    assert again.status_code == 201, again.text


def test_the_fast_path_answers_a_check_in_as_the_route_does(client: TestClient, app: App) -> None:
    """A resident's own check-in with a bearer token is answered in front of the routes
    (entrypoints/web/fast_path.py); the same request with the session cookie goes through the
    route. Both answer alike, and whatever the fast path does not take (bad input, a refusal)
    reaches the route with its body as it came."""
    subject, me = enrol(app)
    venue, _ = place(client, app)
    body = {"place_code": venue["place_code"]}
    token = me["Authorization"].removeprefix("Bearer ")
    url = f"/residents/{subject}/checkins"
    fast = client.post(url, json=body, headers=me)
    client.cookies.set("hc_session", token)
    general = client.post(url, json=body)
    client.cookies.clear()
    assert fast.status_code == general.status_code == 201
    assert fast.headers["content-type"] == general.headers["content-type"]
    (a,), (b,) = fast.json(), general.json()
    assert a.keys() == b.keys()
    assert (a["venue_id"], a["subject_id"], a["source"]) == (
        b["venue_id"],
        b["subject_id"],
        b["source"],
    )
    assert a["checkin_id"] != b["checkin_id"]
    # Bad input and a refusal: the route's answers, nothing stored.
    for sent, status, field in (
        ({"place_code": "PLACE1:not-a-code"}, 422, "place_code"),
        ({"dependants": []}, 422, "place_code"),
        ({"place_code": venue["place_code"], "extra": 1}, 422, "extra"),
    ):
        refused = client.post(url, json=sent, headers=me)
        assert refused.status_code == status, refused.text
        assert field in refused.text
    not_json = client.post(
        url, content=b"{not json", headers={**me, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    assert len(client.get(url, headers=me).json()) == 2
    # Another resident's token for this resident: the route's answer (as for no such
    # resident: 404), not a check-in.
    _, other = enrol_another(app)
    assert client.post(url, json=body, headers=other).status_code == 404
    assert len(client.get(url, headers=me).json()) == 2


def enrol_another(app: App) -> tuple[str, dict[str, str]]:
    other = {**RESIDENT, "name": "钱三", "doc_number": "440106199001010013", "phone": "13912345679"}
    subject = enrolment.enrol_resident(app.ctx, enrolment.EnrolResident(**other)).subject_id
    return subject, resident_headers(app, subject)
