"""The venue pages over HTTP, on SQLite and PostgreSQL: the authority registers a venue, its
staff download and rotate the poster, its admin registers and revokes scanner devices, a device
signs in with its token, and the scanner page carries what it needs to verify offline. Bad input
names the field and stores nothing; every role outside its lane is refused."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from healthcode.bootstrap import App
from healthcode.entrypoints.web.app import create_app
from healthcode.services import keys, staff, venues
from healthcode.services.venues import RegisterVenue
from tests.conftest import bearer, staff_headers, staff_principal

VENUE_FORM = {
    "name_zh": "老街餐厅",
    "name_en": "Old Street Diner",
    "address": "1 Old Street",
    "district": "Tianhe",
    "venue_type": "restaurant",
    "operator": "Old Street Co",
}
SCRIPTS = (
    "/static/js/venue-verify.js",
    "/static/js/venue-scanner.js",
    "/static/vendor/cbor-x/index-no-eval.min.js",
    "/static/vendor/jsqr/jsQR.js",
)


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture
def venue_id(app: App) -> str:
    made = venues.register_venue(
        app.ctx,
        RegisterVenue("街角小店", None, "2 Corner Road", "Yuexiu", "shop", "Corner Co"),
        staff.OPERATOR,
    )
    return made.venue.venue_id


def logged(client: TestClient, action: str) -> int:
    lines = client.get("/log/export").text.splitlines()
    return sum(json.loads(json.loads(line)["entry"])["action"] == action for line in lines)


def test_the_authority_registers_a_venue_and_downloads_its_poster(
    app: App, client: TestClient
) -> None:
    admin = staff_headers(app, "authority_admin")
    form = client.get("/venue/register", headers=admin)
    assert form.status_code == 200
    assert 'name="venue_type"' in form.text
    done = client.post("/venue/register", data=VENUE_FORM, headers=admin, follow_redirects=False)
    assert done.status_code == 303
    match = re.fullmatch(r"/venue/place/(v[0-9a-f]+)\?registered=1", done.headers["location"])
    assert match
    venue_id = match.group(1)
    page = client.get(done.headers["location"], headers=admin | {"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Old Street Diner" in page.text
    assert "The venue is registered" in page.text
    pdf = client.get(f"/venues/{venue_id}/poster.pdf", headers=admin)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert venues.venue_with_poster(app.ctx, venue_id).venue.draft.name_zh == "老街餐厅"
    assert logged(client, "venue.registered") == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"address": ""}, "address"),
        ({"venue_type": "karaoke-and-casino"}, "venue_type"),
        ({"name_zh": "", "name_en": ""}, "name_zh"),
        ({"district": "x" * 41}, "district"),
    ],
)
def test_bad_venue_input_names_the_field_and_stores_nothing(
    app: App, client: TestClient, change: dict[str, str], field: str
) -> None:
    admin = staff_headers(app, "authority_admin")
    response = client.post("/venue/register", data=VENUE_FORM | change, headers=admin)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert logged(client, "venue.registered") == 0


def test_staff_see_their_venue_and_an_admin_rotates_its_poster_after_confirming(
    app: App, client: TestClient, venue_id: str
) -> None:
    crew = staff_headers(app, "venue_staff", venue_id)
    page = client.get("/venue", headers=crew | {"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    assert "街角小店" in page.text
    assert f"/venues/{venue_id}/poster.pdf" in page.text
    assert f"/venue/place/{venue_id}/rotate" not in page.text  # staff may not rotate
    assert (
        client.get(f"/venues/{venue_id}/poster.png", headers=crew).headers["content-type"]
        == "image/png"
    )

    admin = staff_headers(app, "venue_admin", venue_id)
    before = venues.venue_with_poster(app.ctx, venue_id).poster.poster_id
    unconfirmed = client.post(f"/venue/place/{venue_id}/rotate", headers=admin)
    assert unconfirmed.status_code == 422
    assert 'id="confirm-error"' in unconfirmed.text
    assert venues.venue_with_poster(app.ctx, venue_id).poster.poster_id == before
    rotated = client.post(f"/venue/place/{venue_id}/rotate", data={"confirm": "yes"},
                          headers=admin, follow_redirects=False)  # fmt: skip
    assert rotated.status_code == 303
    assert rotated.headers["location"] == "/venue#poster"
    after = venues.venue_with_poster(app.ctx, venue_id).poster.poster_id
    assert after != before
    assert after in client.get("/venue", headers=admin).text
    assert logged(client, "poster.rotated") == 1


def test_a_venue_admin_registers_a_device_sees_its_token_once_and_revokes_it(
    app: App, client: TestClient, venue_id: str
) -> None:
    admin = staff_headers(app, "venue_admin", venue_id)
    nameless = client.post("/venue/devices", data={"label": "  "}, headers=admin)
    assert nameless.status_code == 422
    assert 'id="label-error"' in nameless.text
    assert staff.devices_of(app.ctx, staff_principal(app, "venue_admin", venue_id), venue_id) == []

    made = client.post("/venue/devices", data={"label": "north gate"}, headers=admin)
    assert made.status_code == 201
    token = re.search(r'<code class="token">(dev_[^<]+)</code>', made.text)
    assert token
    device = bearer(token.group(1))
    assert client.get("/auth/session", headers=device).json()["role"] == "venue_device"
    again = client.get("/venue", headers=admin)
    assert "north gate" in again.text
    assert token.group(1) not in again.text  # shown once

    (listed,) = staff.devices_of(app.ctx, staff_principal(app, "venue_admin", venue_id), venue_id)
    revoked = client.post(f"/venue/devices/{listed.device_id}/revoke", headers=admin,
                          follow_redirects=False)  # fmt: skip
    assert revoked.status_code == 303
    assert client.get("/auth/session", headers=device).status_code == 401


def test_a_device_signs_in_once_with_its_token_and_opens_the_scanner(
    app: App, client: TestClient, venue_id: str
) -> None:
    admin = staff_principal(app, "venue_admin", venue_id)
    token = staff.register_device(app.ctx, admin, venue_id, "door").token
    wrong = client.post("/venue/device", data={"token": "dev_not-a-real-token"})
    assert wrong.status_code == 401
    assert 'id="token-error"' in wrong.text
    staff_token = staff_headers(app, "venue_staff", venue_id)["Authorization"][7:]
    assert client.post("/venue/device", data={"token": staff_token}).status_code == 401
    assert "hc_session" not in client.cookies

    signed = client.post("/venue/device", data={"token": token}, follow_redirects=False)
    assert signed.status_code == 303
    assert signed.headers["location"] == "/venue/scan"
    assert "httponly" in signed.headers["set-cookie"].lower()
    scanner = client.get("/venue/scan")
    assert scanner.status_code == 200
    assert f'data-venue="{venue_id}"' in scanner.text


def test_the_scanner_page_carries_the_pinned_anchor_and_its_service_worker(
    app: App, client: TestClient, venue_id: str
) -> None:
    crew = staff_headers(app, "venue_staff", venue_id)
    page = client.get("/venue/scan", headers=crew)
    assert page.status_code == 200
    anchor = keys.our_trust_list(app.ctx).anchor_fingerprint
    assert f'data-anchor="{anchor}"' in page.text
    assert 'data-refused="red yellow"' in page.text
    assert "worker-src 'self'" in page.headers["content-security-policy"]
    for script in SCRIPTS:
        assert script in page.text
        assert client.get(script).status_code == 200
    worker = client.get("/venue/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/venue/"
    assert '"/venue/scan"' in worker.text


def test_each_role_stays_in_its_lane(app: App, client: TestClient, venue_id: str) -> None:
    other = venues.register_venue(
        app.ctx, RegisterVenue("别家", None, "3 Road", "Haizhu", "gym", "Other Co"), staff.OPERATOR
    ).venue.venue_id
    registered = logged(client, "venue.registered")
    crew = staff_headers(app, "venue_staff", venue_id)
    assert client.get("/venue/register", headers=crew).status_code == 403
    assert client.post("/venue/register", data=VENUE_FORM, headers=crew).status_code == 403
    assert client.post("/venue/devices", data={"label": "x"}, headers=crew).status_code == 403
    assert client.post(f"/venue/place/{venue_id}/rotate", data={"confirm": "yes"},
                       headers=crew).status_code == 403  # fmt: skip
    admin = staff_headers(app, "venue_admin", venue_id)
    assert client.get(f"/venue/place/{other}", headers=admin).status_code == 404
    assert client.post(f"/venue/place/{other}/rotate", data={"confirm": "yes"},
                       headers=admin).status_code == 404  # fmt: skip
    tracer = staff_headers(app, "tracer")
    assert client.get("/venue/scan", headers=tracer).status_code == 403
    assert client.get("/venue", headers=tracer).status_code == 403
    public = client.get("/venue/scan", follow_redirects=False)
    assert public.status_code == 303
    assert public.headers["location"].startswith("/sign-in")
    assert logged(client, "venue.registered") == registered
    assert logged(client, "poster.rotated") == 0
