"""A resident's journey in a real browser: sign in with a one-time code, enrol, see my code (the
QR code the page draws is read back and verified), switch language, scan a venue's place code
with the (fake) camera to check in, find the visit in my check-ins, and still see my code with
the network off, thanks to the service worker."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import zxingcpp
from PIL import Image

from healthcode.adapters.otp_sender import ConsoleSender
from healthcode.domain.audit import SYSTEM
from healthcode.services import venues, verify
from tests.browser.conftest import Launch, Live, qr_video

PHONE = "13912345678"


def read_qr(png: bytes) -> str:
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return str(found.text)


def sign_up(page: Any, live: Live) -> None:
    page.goto("/sign-in")
    page.get_by_label("手机号码").fill(PHONE)
    page.get_by_role("button", name="发送验证码").click()
    sender = live.app.ctx.sender
    assert isinstance(sender, ConsoleSender)
    page.get_by_label("验证码").fill(sender.sent[-1][1])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/me/enrol")
    page.get_by_label("证件类型").select_option("passport")
    page.get_by_label("证件号码").fill("E12345678")
    page.get_by_label("姓名（与证件一致）").fill("李四")
    page.get_by_label("手机号码（即登录所用号码）").fill(PHONE)
    page.get_by_role("button", name="登记").click()
    page.wait_for_url("**/me/enrol/done")  # the same page whether or not the number was known
    page.get_by_test_id("enrolled").wait_for()  # ... and then the session says which it was
    page.get_by_role("link", name="显示我的健康码").click()
    page.wait_for_url("**/me")


def test_a_resident_enrols_sees_their_code_scans_a_place_and_goes_offline(
    launch: Launch, live: Live, tmp_path: Path
) -> None:
    made = venues.register_venue(
        live.app.ctx,
        venues.RegisterVenue(
            "老街餐厅", "Old Street Restaurant", "1 Road", "Tianhe", "restaurant", "Op Co"
        ),
        SYSTEM,
    )
    page: Any = launch(video=qr_video(made.poster.payload, tmp_path / "place.y4m"))
    sign_up(page, live)

    # My code: drawn in the page, read back from the screen, genuine and green.
    qr = page.get_by_test_id("qr").locator("canvas")
    qr.wait_for()
    assert page.get_by_test_id("colour").inner_text() == "绿码"
    text = read_qr(qr.screenshot())
    assert text.startswith("HCODE1:")
    verdict = verify.verify_text(live.app.ctx, text)
    assert verdict.decision.value == "admit"

    # The language switch, on my code and back.
    page.get_by_test_id("language-switch").click()
    page.wait_for_url("**/me")
    assert page.get_by_test_id("colour").inner_text() == "Green"
    assert page.get_by_role("heading", level=1, name="My health code").is_visible()
    page.get_by_test_id("language-switch").click()
    page.wait_for_url("**/me")
    assert page.get_by_test_id("colour").inner_text() == "绿码"

    # Scan the venue's poster with the camera: checked in, and the visit is in my check-ins.
    page.goto("/me/scan")
    page.get_by_test_id("pass").wait_for(timeout=15_000)  # the pass, full screen
    assert page.get_by_test_id("pass-venue").inner_text() == "老街餐厅"
    page.goto("/me/checkins")
    assert "老街餐厅" in page.get_by_test_id("visits").inner_text()

    # Offline: the service worker keeps the page, the phone keeps the last code.
    page.goto("/me")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.get_by_test_id("qr").locator("canvas").wait_for()
    page.context.set_offline(True)
    page.clock.install(time=time.time())  # to move this page's time past valid-until below
    assert page.reload().from_service_worker
    page.get_by_test_id("qr").locator("canvas").wait_for()
    card = page.get_by_test_id("code-card")
    assert card.get_attribute("data-state") == "offline"
    assert "离线" in page.get_by_test_id("code-state").inner_text()
    assert read_qr(page.get_by_test_id("qr").locator("canvas").screenshot()).startswith("HCODE1:")

    # Past valid-until, still offline: no stale QR code, but a page that says it has expired.
    page.clock.fast_forward("06:00")
    page.get_by_text("此健康码已过期。").wait_for()
    assert card.get_attribute("data-state") == "expired"
    assert page.get_by_test_id("qr").locator("canvas").count() == 0
