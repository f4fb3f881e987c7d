"""The guard's journey in a real browser, with a real camera scan: Chromium's fake camera plays a
video of a resident's health code, the scanner page decodes it (jsQR: Chromium on Linux has no
BarcodeDetector) and verifies it on the device against the signed trust list.

A red resident's code is refused with the reason in words. Then, with the scanner kept by its
service worker, the device goes offline: the page still opens, a green code is admitted with
its masked name and valid-until, the check-in waits in the queue (once, however long the code
stays in front of the camera), and when the network is back it is uploaded and exists on the
server.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from healthcode.bootstrap import App, build, initialise
from healthcode.domain.audit import Actor
from healthcode.domain.checkins import CheckInSource
from healthcode.services import checkins, codes, enrolment, keys, labs, staff, venues
from healthcode.services.enrolment import EnrolResident
from healthcode.services.venues import RegisterVenue
from tests.browser.conftest import Launch, Live, qr_video
from tests.conftest import TEST_STAFF_PASSWORD, make_settings, staff_login
from tests.support.labs import import_results as lab_import

expect = pytest.importorskip("playwright.sync_api").expect
ADMIN = Actor("authority_admin", "officer-1")
SCAN_WAIT_MS = 15_000


def resident(app: App, name: str, passport: str, phone: str) -> str:
    cmd = EnrolResident(name, "passport", passport, phone)
    return enrolment.enrol_resident(app.ctx, cmd).subject_id


def make_red(app: App, passport: str) -> None:
    """A positive test: the person turns red under the default rules."""
    sampled = int(time.time()) - 3600
    rows = labs.parse_csv(
        "test_id,doc_type,doc_number,sample_time,result,lab\n"
        f"T-1,passport,{passport},{sampled},positive,LAB1\n"
    )
    lab_import(app, rows)


def sign_in_guard(page: Any, app: App, venue_id: str) -> None:
    """A venue staff member signs in with password and authenticator code (a new account each
    time: an authenticator code works only once)."""
    guard = staff_login(app, "venue_staff", venue_id)
    page.goto("/sign-in/staff")
    page.locator("#username").fill(guard.username)
    page.locator("#password").fill(TEST_STAFF_PASSWORD)
    page.locator("#totp").fill(guard.totp(int(time.time())))
    page.locator("form.panel button[type=submit]").click()
    page.wait_for_url("**/venue")


def diner(app: Any) -> str:
    """The venue whose gate the guard keeps."""
    names = ("老街餐厅", "Old Street Diner")
    cmd = RegisterVenue(*names, "1 Old Street", "Tianhe", "restaurant", "Co")
    return venues.register_venue(app.ctx, cmd, staff.OPERATOR).venue.venue_id


def open_scanner(page: Any) -> Any:
    page.goto("/venue/scan")
    page.wait_for_selector("#scanner[data-trust=ready]")
    return page.locator("#scanner")


def test_the_guard_refuses_red_and_admits_green_offline(
    launch: Launch, live: Live, tmp_path: Path
) -> None:
    app = live.app
    venue_id = diner(app)
    green = resident(app, "张三", "E12345678", "13912345678")
    red = resident(app, "李四", "E87654321", "13912345679")
    make_red(app, "E87654321")
    red_code = codes.issue_health_code(app.ctx, red)
    assert red_code.colour == "red"
    green_code = codes.issue_health_code(app.ctx, green)
    assert green_code.colour == "green"

    # A red code: refused, in Chinese, with the reason in words and the masked name.
    page: Any = launch(video=qr_video(red_code.text, tmp_path / "red.y4m"), locale="zh-CN")
    sign_in_guard(page, app, venue_id)
    open_scanner(page)
    page.get_by_role("button", name="开始扫码").click()
    verdict = page.get_by_test_id("verdict")
    verdict.wait_for(state="visible", timeout=SCAN_WAIT_MS)
    assert verdict.get_attribute("data-decision") == "refuse"
    assert page.locator("#verdict-word").inner_text() == "禁止通行"
    assert page.locator("#verdict-reason").inner_text() == "红码"
    assert page.get_by_test_id("verdict-name").inner_text() == "李*"
    assert page.locator("#scanner").get_attribute("data-decoder") == "jsqr"
    assert page.get_by_test_id("queue-count").inner_text() == "0"  # a refused visitor: no visit

    # A green code, with the network gone: the service worker opens the scanner, the code is
    # admitted on the device, and the check-in waits until the network is back.
    page = launch(video=qr_video(green_code.text, tmp_path / "green.y4m"), locale="en")
    sign_in_guard(page, app, venue_id)
    scanner = open_scanner(page)
    page.wait_for_selector("#scanner[data-offline=ready]")
    page.context.set_offline(True)
    page.reload()
    scanner = page.locator("#scanner")
    scanner.wait_for()
    page.wait_for_selector("#scanner[data-trust=ready]")
    assert page.get_by_test_id("network").inner_text().startswith("Offline")
    page.get_by_role("button", name="Start scanning").click()
    verdict = page.get_by_test_id("verdict")
    verdict.wait_for(state="visible", timeout=SCAN_WAIT_MS)
    assert verdict.get_attribute("data-decision") == "admit"
    assert page.locator("#verdict-word").inner_text() == "ADMIT"
    assert page.get_by_test_id("verdict-name").inner_text() == "张*"
    assert page.get_by_test_id("verdict-until").inner_text() not in ("", "—")
    assert page.get_by_test_id("queue-count").inner_text() == "1"
    page.wait_for_timeout(2000)  # the code stays in front of the camera: still one visit
    assert page.get_by_test_id("queue-count").inner_text() == "1"
    assert checkins.my_checkins(app.ctx, green) == []

    page.context.set_offline(False)
    expect(page.get_by_test_id("queue-count")).to_have_text("0", timeout=SCAN_WAIT_MS)
    assert page.get_by_test_id("last-sync").inner_text() != "never"
    (visit,) = checkins.my_checkins(app.ctx, green)
    assert (visit.venue_id, visit.source) == (venue_id, CheckInSource.DEVICE_BATCH)
    assert checkins.my_checkins(app.ctx, red) == []


@pytest.mark.parametrize(
    ("locale", "button", "said"),
    [
        ("zh-CN", "开始扫码", "该码已于7分钟前过期：请出示刷新后的健康码。"),
        ("en", "Start scanning", "This code expired 7 min ago: ask for a fresh one."),
    ],
)
def test_an_expired_code_is_refused_and_says_how_long_ago(
    launch: Launch, live: Live, tmp_path: Path, locale: str, button: str, said: str
) -> None:
    """Expiry is expiry (SIG-9): a 5-minute code scanned 2 minutes after its end, well inside
    the 300 s clock-skew allowance, is not valid, and the guard reads how long ago it ended."""
    app = live.app
    venue_id = diner(app)
    code = codes.issue_health_code(app.ctx, resident(app, "张三", "E12345678", "13912345678"))
    assert code.expires_at - code.issued_at == 300
    page: Any = launch(video=qr_video(code.text, tmp_path / "code.y4m"), locale=locale)
    page.clock.install(time=code.expires_at + 7 * 60 - 30)
    sign_in_guard(page, app, venue_id)
    open_scanner(page)
    page.get_by_role("button", name=button).click()
    verdict = page.get_by_test_id("verdict")
    verdict.wait_for(state="visible", timeout=SCAN_WAIT_MS)
    assert verdict.get_attribute("data-decision") == "invalid"
    assert verdict.get_attribute("data-reason") == "expired"
    assert page.locator("#verdict-reason").inner_text() == said


def test_the_guard_admits_another_trusted_citys_code_offline_and_refuses_its_withdrawn_key(
    launch: Launch, live: Live, tmp_path: Path
) -> None:
    """The scanner keeps every trusted city's signed list (ours and those our authority
    imported, each checked against its pin): offline, a code of another city is admitted by the
    same rules; once that city has withdrawn the key and the scanner has seen its newer list,
    the same code is refused."""
    app = live.app
    venue_id = diner(app)
    other = build(
        make_settings(tmp_path / "other", f"sqlite:///{tmp_path / 'other.db'}", city="CN-OTHR")
    )
    initialise(other)
    try:
        visitor = resident(other, "赵六", "E55555555", "13912345670")
        code = codes.issue_health_code(other.ctx, visitor)
        assert code.colour == "green"
        exported = keys.our_trust_list(other.ctx)
        keys.import_trust_list(app.ctx, exported.document, exported.anchor_fingerprint, ADMIN)

        page: Any = launch(video=qr_video(code.text, tmp_path / "visitor.y4m"), locale="en")
        sign_in_guard(page, app, venue_id)
        open_scanner(page)
        page.wait_for_selector("#scanner[data-offline=ready]")
        assert page.locator("#scanner").get_attribute("data-cities") == "CN-TEST CN-OTHR"
        assert "CN-OTHR v1" in page.get_by_test_id("trust-status").inner_text()
        page.context.set_offline(True)
        page.reload()
        page.wait_for_selector("#scanner[data-trust=ready]")
        page.get_by_role("button", name="Start scanning").click()
        verdict = page.get_by_test_id("verdict")
        verdict.wait_for(state="visible", timeout=SCAN_WAIT_MS)
        assert verdict.get_attribute("data-decision") == "admit"
        assert page.get_by_test_id("verdict-name").inner_text() == "赵*"

        # The other city withdraws the key; our authority imports its newer list.
        keys.withdraw_key(other.ctx, code.kid, ADMIN, "key_compromise")
        newer = keys.our_trust_list(other.ctx)
        keys.import_trust_list(app.ctx, newer.document, newer.anchor_fingerprint, ADMIN)
        page.context.set_offline(False)
        open_scanner(page)
        assert f"CN-OTHR v{newer.version}" in page.get_by_test_id("trust-status").inner_text()
        page.context.set_offline(True)
        page.reload()
        page.wait_for_selector("#scanner[data-trust=ready]")
        page.get_by_role("button", name="Start scanning").click()
        verdict = page.get_by_test_id("verdict")
        expect(verdict).to_have_attribute("data-reason", "key_withdrawn", timeout=SCAN_WAIT_MS)
        assert verdict.get_attribute("data-decision") == "invalid"
    finally:
        other.close()
