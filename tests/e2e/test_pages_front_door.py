"""The web app's front door over HTTP: pages in both languages, signing in with a one-time code
or as staff, errors as pages, and the headers that keep a page to its own origin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from healthcode.adapters.otp_sender import ConsoleSender
from healthcode.bootstrap import App
from healthcode.entrypoints.web.app import create_app
from tests.conftest import TEST_STAFF_PASSWORD, staff_login

PHONE = "13912345678"


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app), base_url="http://127.0.0.1") as test_client:
        yield test_client


def test_home_speaks_the_browsers_language_and_the_switch_wins(client: TestClient) -> None:
    zh = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert zh.status_code == 200
    assert '<html lang="zh-CN">' in zh.text
    assert "登录" in zh.text
    en = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in en.text
    assert "Sign in" in en.text
    assert "登录" not in en.text
    switched = client.get("/language?to=en&next=/sign-in", follow_redirects=False)
    assert switched.status_code == 303
    assert switched.headers["location"] == "/sign-in"
    page = client.get("/sign-in", headers={"Accept-Language": "zh-CN"})
    assert "Mobile number" in page.text  # the cookie beats the browser's preference


def test_the_language_switch_sends_nobody_to_another_host(client: TestClient) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = client.get("/language", params={"to": "en", "next": target},
                              follow_redirects=False)  # fmt: skip
        assert response.headers["location"] == "/"


def test_pages_load_only_from_their_own_origin(client: TestClient) -> None:
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store"
    assert client.get("/static/vendor/htmx.org/htmx.min.js").status_code == 200


def test_resident_signs_in_with_a_code_and_lands_on_enrolment(app: App, client: TestClient) -> None:
    sent = client.post("/sign-in/code", data={"phone": PHONE, "next": ""})
    assert sent.status_code == 200
    assert PHONE in sent.text
    sender = app.ctx.sender
    assert isinstance(sender, ConsoleSender)
    wrong = client.post("/sign-in/code/verify", data={"phone": PHONE, "code": "000000"})
    assert wrong.status_code == 401
    assert 'role="alert"' in wrong.text
    code = sender.sent[-1][1]
    signed = client.post("/sign-in/code/verify", data={"phone": PHONE, "code": code},
                         follow_redirects=False)  # fmt: skip
    assert signed.status_code == 303
    assert signed.headers["location"] == "/me/enrol"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert client.get("/auth/session").json()["role"] == "applicant"


def test_a_bad_phone_number_is_named_and_nothing_is_sent(app: App, client: TestClient) -> None:
    response = client.post("/sign-in/code", data={"phone": "12", "next": ""})
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text
    assert isinstance(app.ctx.sender, ConsoleSender)
    assert app.ctx.sender.sent == []


def test_staff_sign_in_and_out(app: App, client: TestClient) -> None:
    officer = staff_login(app, "tracer")
    data = {"username": officer.username, "password": TEST_STAFF_PASSWORD,
            "totp": officer.totp(app.ctx.clock.now()), "next": ""}  # fmt: skip
    signed = client.post("/sign-in/staff", data=data, follow_redirects=False)
    assert signed.status_code == 303
    assert signed.headers["location"] == "/office"
    out = client.post("/sign-out", follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/auth/session").status_code == 401


def test_a_signed_out_visitor_is_sent_to_sign_in_and_back(client: TestClient) -> None:
    response = client.post("/sign-out", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")


def test_another_sites_page_cannot_use_the_session(app: App, client: TestClient) -> None:
    """CSRF: a form on another site posting with the resident's cookie is refused (403), and
    the session survives; the same post from our own pages goes through."""
    sender = app.ctx.sender
    assert isinstance(sender, ConsoleSender)
    client.post("/sign-in/code", data={"phone": PHONE, "next": ""})
    client.post("/sign-in/code/verify", data={"phone": PHONE, "code": sender.sent[-1][1]})
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        refused = client.post("/sign-out", headers=headers, follow_redirects=False)
        assert refused.status_code == 403
        assert client.get("/auth/session").status_code == 200
    ours = {"Origin": "http://127.0.0.1", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/sign-out", headers=ours, follow_redirects=False).status_code == 303
    assert client.get("/auth/session").status_code == 401
