"""Floods are refused with 429 and Retry-After, per resident and per venue; others pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.ratelimit import RateLimiter
from healthcode.bootstrap import build, initialise
from healthcode.entrypoints.web.app import create_app
from tests.conftest import make_settings
from tests.e2e.test_checkins_api import enrol, place


def test_a_bucket_refills_evenly_and_says_how_long_to_wait() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert limiter.take("a") == 0
    assert limiter.take("a") == 0
    assert limiter.take("a") == pytest.approx(1.0)
    assert limiter.take("b") == 0  # keys are independent
    now[0] += 1.0
    assert limiter.take("a") == 0
    assert limiter.take("a") > 0


def test_check_ins_and_scans_over_the_limit_get_429(
    tmp_path: Path, database_url: str, clock: FixedClock
) -> None:
    settings = make_settings(tmp_path / "data", database_url, rate_checkins_per_minute=2,
                             rate_device_per_minute=1)  # fmt: skip
    built = build(settings, clock=clock, migrate=False)
    initialise(built)
    with TestClient(create_app(built=built)) as client:
        subject, me = enrol(built)
        venue, door = place(client, built)
        body = {"place_code": venue["place_code"]}
        for _ in range(2):
            made = client.post(f"/residents/{subject}/checkins", json=body, headers=me)
            assert made.status_code == 201
        flooded = client.post(f"/residents/{subject}/checkins", json=body, headers=me)
        assert flooded.status_code == 429
        assert int(flooded.headers["Retry-After"]) >= 1
        assert flooded.json()["error"]["code"] == "rate_limited"
        assert len(client.get(f"/residents/{subject}/checkins", headers=me).json()) == 2

        code = client.post(f"/residents/{subject}/code", headers=me).json()["code"]
        scans = f"/venues/{venue['venue_id']}/scans"
        assert client.post(scans, json={"code": code}, headers=door).status_code == 200
        again = client.post(f"/venues/{venue['venue_id']}/uploads", json={"items": []},
                            headers=door)  # fmt: skip
        assert again.status_code == 429
    built.close()


def test_sign_in_and_one_time_codes_over_the_limit_get_429(
    tmp_path: Path, database_url: str, clock: FixedClock
) -> None:
    settings = make_settings(tmp_path / "data", database_url, rate_logins_per_minute=2,
                             rate_codes_per_minute=1)  # fmt: skip
    built = build(settings, clock=clock, migrate=False)
    initialise(built)
    with TestClient(create_app(built=built)) as client:
        wrong = {"username": "li.tracer", "password": "not the password", "totp": "000000"}
        for _ in range(2):
            assert client.post("/auth/staff", json=wrong).status_code == 401
        flooded = client.post("/auth/staff", json=wrong)
        assert flooded.status_code == 429
        assert int(flooded.headers["Retry-After"]) >= 1
        assert client.post("/auth/code", json={"phone": "13912345678"}).status_code == 202
        again = client.post("/auth/code", json={"phone": "13912345678"})
        assert again.status_code == 429
    built.close()


@pytest.mark.parametrize(("language", "words"), [("zh-CN", "请求过于频繁"), ("en", "Too many")])
def test_a_browser_over_the_limit_gets_a_page_in_its_language(
    tmp_path: Path, database_url: str, clock: FixedClock, language: str, words: str
) -> None:
    settings = make_settings(tmp_path / "data", database_url, rate_logins_per_minute=2)
    built = build(settings, clock=clock, migrate=False)
    initialise(built)
    browser = {"Accept": "text/html", "Accept-Language": language}
    wrong = {"username": "li.tracer", "password": "not the password", "totp": "000000"}
    with TestClient(create_app(built=built)) as client:
        answers = [client.post("/sign-in/staff", data=wrong, headers=browser) for _ in range(4)]
    built.close()
    flooded = answers[-1]
    assert flooded.status_code == 429
    assert flooded.headers["content-type"].startswith("text/html")
    assert int(flooded.headers["Retry-After"]) >= 1
    assert words in flooded.text
