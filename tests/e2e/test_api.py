"""The HTTP API end to end (TestClient), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.db.tables import log_entries, subjects, venues
from healthcode.adapters.db.vault_table import vault_identities
from healthcode.adapters.qr import qr_png
from healthcode.bootstrap import App
from healthcode.entrypoints.web.app import create_app
from healthcode.verifier.merkle import leaf_hash, verify_consistency, verify_inclusion
from healthcode.verifier.place_link import place_code_of
from healthcode.verifier.qr_image import decode_qr_image
from tests.conftest import resident_headers, staff_headers

RESIDENT = {
    "name": "李四",
    "doc_type": "prc_id",
    "doc_number": "11010519491231002X",
    "phone": "13912345678",
}
VENUE = {
    "name_zh": "中山图书馆",
    "name_en": "Sun Yat-sen Library",
    "address": "1 Wende Rd",
    "district": "Yuexiu",
    "venue_type": "other",
    "operator": "City Library",
}


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app)) as test_client:
        yield test_client


@pytest.fixture
def desk(app: App) -> dict[str, str]:
    """A health officer at a registration desk: enrols residents."""
    return staff_headers(app, "health_officer")


@pytest.fixture
def admin(app: App) -> dict[str, str]:
    return staff_headers(app, "authority_admin")


def enrol(client: TestClient, desk: dict[str, str], body: dict[str, str] = RESIDENT) -> str:
    enrolled = client.post("/residents", json=body, headers=desk)
    assert enrolled.status_code == 201, enrolled.text
    return str(enrolled.json()["subject_id"])


def counts(app: App) -> tuple[int, int, int, int]:
    with app.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (subjects, vault_identities, venues, log_entries)
        )


def test_enrol_issue_and_guard_check(client: TestClient, app: App, desk: dict[str, str]) -> None:
    subject = enrol(client, desk)
    code = client.post(f"/residents/{subject}/code", headers=resident_headers(app, subject)).json()
    assert code["colour"] == "green"
    # no QR image: the app draws it from the text
    assert set(code) == {"code", "colour", "issued_at", "expires_at", "rule_ref"}
    verdict = client.post("/verify", json={"code": code["code"]}).json()
    # minimum disclosure: exactly these fields reach the guard
    assert set(verdict) == {"decision", "reason", "message", "valid_until", "masked_name"}
    assert verdict["decision"] == "admit"
    assert verdict["masked_name"] == "李*"


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"doc_number": "110105194912310021"}, "doc_number", "id_checksum"),
        ({"doc_number": "11010520991231002X"}, "doc_number", "id_birth_date"),
        ({"phone": "12345"}, "phone", "phone_format"),
        ({"doc_type": "library_card"}, "doc_type", "unknown_doc_type"),
        ({"name": "R2D2"}, "name", "name_charset"),
        ({"extra": "field"}, "extra", "invalid_input"),
    ],
)
def test_bad_enrolment_is_refused_by_field_and_stores_nothing(
    client: TestClient,
    app: App,
    desk: dict[str, str],
    change: dict[str, str],
    field: str,
    code: str,
) -> None:
    before = counts(app)
    response = client.post("/residents", json={**RESIDENT, **change}, headers=desk)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field
    assert response.json()["error"]["code"] == code
    assert counts(app) == before


def test_duplicate_enrolment_conflicts_and_stores_nothing(
    client: TestClient, app: App, desk: dict[str, str]
) -> None:
    enrol(client, desk)
    before = counts(app)
    again = client.post("/residents", json=RESIDENT, headers=desk)
    assert again.status_code == 409  # at the desk, the officer holds the document in hand
    assert again.json()["error"]["field"] == "doc_number"
    people, vault, places, entries = counts(app)
    assert (people, vault, places) == before[:3]  # no person stored
    assert entries == before[3] + 1  # the attempt, in the holder's record


def test_unknown_objects_are_404(
    client: TestClient, app: App, desk: dict[str, str], admin: dict[str, str]
) -> None:
    me = resident_headers(app, enrol(client, desk))
    assert client.post("/residents/" + "0" * 32 + "/code", headers=me).status_code == 404
    response = client.get("/venues/vdoesnotexist")
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "venue_id"
    assert client.get("/venues/vdoesnotexist/poster.pdf", headers=admin).status_code == 404


def test_dependant_gets_own_code(client: TestClient, app: App, desk: dict[str, str]) -> None:
    guardian = enrol(client, desk)
    me = resident_headers(app, guardian)
    child = client.post(
        f"/residents/{guardian}/dependants",
        json={"name": "李小四", "relation": "child"},
        headers=me,
    )
    assert child.status_code == 201
    listed = client.get(f"/residents/{guardian}/dependants", headers=me).json()
    assert listed == [{"subject_id": child.json()["subject_id"], "relation": "child"}]
    code = client.post(f"/residents/{child.json()['subject_id']}/code", headers=me).json()
    assert client.post("/verify", json={"code": code["code"]}).json()["masked_name"] == "李**"
    bad = client.post(
        f"/residents/{guardian}/dependants", json={"name": "X", "relation": "pet"}, headers=me
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "relation"


def test_poster_png_decodes_to_an_accepted_place_code(
    client: TestClient, admin: dict[str, str]
) -> None:
    venue = client.post("/venues", json=VENUE, headers=admin).json()
    png = client.get(f"/venues/{venue['venue_id']}/poster.png", headers=admin)
    assert png.headers["content-type"] == "image/png"
    (payload,) = decode_qr_image(png.content)
    # A link any phone camera opens (the address it was asked at: no public_url is set), with
    # the place code in its fragment.
    assert payload.startswith("HTTP://TESTSERVER/C#PLACE1:")
    assert place_code_of(payload) == venue["place_code"]
    assert client.post("/place-codes/check", json={"place_code": payload}).json()["ok"]
    forged = payload[:-6] + ("A" if payload[-6] != "A" else "B") + payload[-5:]
    refused = client.post("/place-codes/check", json={"place_code": forged}).json()
    assert refused["ok"] is False
    assert refused["problem"] == "invalid"
    pdf = client.get(f"/venues/{venue['venue_id']}/poster.pdf", headers=admin)
    assert pdf.content.startswith(b"%PDF")


def test_rotated_poster_is_refused_after_grace(
    client: TestClient, app: App, clock: FixedClock, admin: dict[str, str]
) -> None:
    venue = client.post("/venues", json=VENUE, headers=admin).json()
    assert client.post(f"/venues/{venue['venue_id']}/poster/rotate").status_code == 401
    rotated = client.post(f"/venues/{venue['venue_id']}/poster/rotate", headers=admin).json()
    assert rotated["poster_id"] != venue["poster_id"]
    clock.advance(app.settings.poster_grace_seconds + 1)
    old = client.post("/place-codes/check", json={"place_code": venue["place_code"]}).json()
    assert old["problem"] == "rotated_out"
    new = client.post("/place-codes/check", json={"place_code": rotated["place_code"]}).json()
    assert new["ok"]


def test_verify_image_and_wrong_file_type(
    client: TestClient, app: App, desk: dict[str, str]
) -> None:
    subject = enrol(client, desk)
    code = client.post(f"/residents/{subject}/code", headers=resident_headers(app, subject))
    code = code.json()["code"]
    ok = client.post("/verify/image", files={"image": ("c.png", qr_png(code), "image/png")})
    assert ok.json()["decision"] == "admit"
    gif = client.post("/verify/image", files={"image": ("c.gif", b"GIF89a....", "image/gif")})
    assert gif.status_code == 422
    assert gif.json()["error"] == {
        "code": "image_type",
        "field": "image",
        "message": gif.json()["error"]["message"],
    }


def test_key_routes_need_a_signed_in_authority_admin(
    client: TestClient, app: App, admin: dict[str, str]
) -> None:
    kid = client.get("/keys", headers=admin).json()[0]["kid"]
    assert client.post("/keys/health/rotate").status_code == 401
    assert (
        client.post(f"/keys/{kid}/withdraw", json={"reason": "key_compromise"}).status_code == 401
    )
    wrong = {"Authorization": "Bearer not-the-token-at-all"}
    assert client.post("/keys/health/rotate", headers=wrong).status_code == 401
    tracer = staff_headers(app, "tracer")
    assert client.post("/keys/health/rotate", headers=tracer).status_code == 403
    assert client.post("/keys/health/rotate", headers=admin).status_code == 200
    assert (
        client.post("/trust-lists", json={"document": "{}", "fingerprint": "0" * 64}).status_code
        == 401
    )


def test_log_proofs_verify_with_the_standalone_verifier(
    client: TestClient, desk: dict[str, str], admin: dict[str, str]
) -> None:
    enrol(client, desk)
    client.post("/venues", json=VENUE, headers=admin)
    entries = client.get("/log/entries", params={"start": 0, "end": 100}).json()
    size = len(entries)
    for index, entry in enumerate(entries):
        proof = client.get("/log/proof/inclusion", params={"index": index, "size": size}).json()
        root = base64.b64decode(proof["root"])
        path = [base64.b64decode(p) for p in proof["proof"]]
        assert verify_inclusion(leaf_hash(entry["entry"].encode()), index, size, path, root)
    old_root = base64.b64decode(
        client.get("/log/proof/inclusion", params={"index": 0, "size": 2}).json()["root"]
    )
    consistency = client.get("/log/proof/consistency", params={"old": 2, "new": size}).json()
    assert verify_consistency(
        2,
        size,
        old_root,
        base64.b64decode(consistency["root"]),
        [base64.b64decode(p) for p in consistency["proof"]],
    )
    bad = client.get("/log/proof/inclusion", params={"index": size, "size": size})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "index"


def test_openapi_is_published(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/residents" in paths
    assert "/log/proof/consistency" in paths


@pytest.mark.parametrize("raw", [b"\xff", b"[" * 5000], ids=["not_utf8", "too_deep"])
def test_a_body_that_is_not_json_is_refused_by_field(
    client: TestClient, app: App, desk: dict[str, str], raw: bytes
) -> None:
    before = counts(app)
    answer = client.post(
        "/residents", content=raw, headers={**desk, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "body"
    assert counts(app) == before


def test_the_frameworks_telemetry_stays_off_whatever_the_environment_says(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI's own spans, metrics and logs would carry request paths (a resident's id is in
    many) and exception messages to an exporter named by the environment, outside the log."""
    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
    web = create_app(built=app)
    config = web._telemetry  # where FastAPI keeps it
    assert not any(config[k] for k in ("tracing", "metrics", "logs", "operation_spans"))
    assert config["auto_configure"] is False
    assert not web._native_telemetry.enabled()
    with TestClient(web) as client:
        assert client.get("/health").status_code == 200
