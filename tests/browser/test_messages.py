"""Every message in the page's language, in a real browser: a bad ID number, a refused place code,
a page the role may not open (403) and an address with nothing at it (404) read in Chinese on the
Chinese pages and in English on the English ones, as web pages (never raw JSON), with no English
server text left on the Chinese page."""

from __future__ import annotations

from typing import Any

import pytest

from healthcode.adapters.otp_sender import ConsoleSender
from tests.browser.conftest import Launch, Live

EXPECTED = {
    "zh-CN": {
        "id": "身份证号码校验码为“1”，应为“X”",
        "place": "此场所码未通过验证",
        "forbidden": "居民无权执行此操作",
        "not_found": "此网址下没有内容。",
        "english": ("should be", "may not do this", "There is nothing"),
    },
    "en": {
        "id": "ID number check character is '1' but should be 'X'",
        "place": "This place code was refused",
        "forbidden": "a resident may not do this",
        "not_found": "There is nothing at this address.",
        "english": (),
    },
}


def sign_in(page: Any, live: Live, phone: str) -> None:
    page.goto("/sign-in")
    page.fill("#phone", phone)
    page.click("form[action='/sign-in/code'] button[type=submit]")
    sender = live.app.ctx.sender
    assert isinstance(sender, ConsoleSender)
    page.fill("#code", sender.sent[-1][1])
    page.click("form[action='/sign-in/code/verify'] button[type=submit]")
    page.wait_for_url("**/me/enrol")


def error_text(page: Any) -> str:
    return str(page.locator(".error").first.inner_text())


@pytest.mark.parametrize(("locale", "phone"), [("zh-CN", "13912345671"), ("en", "13912345672")])
def test_messages_read_in_the_pages_language(
    launch: Launch, live: Live, locale: str, phone: str
) -> None:
    want = EXPECTED[locale]
    page: Any = launch(locale=locale)
    sign_in(page, live, phone)

    # A bad ID number: the check character is wrong.
    page.select_option("#doc_type", "prc_id")
    page.fill("#doc_number", "110105194912310021")
    page.fill("#name", "李四")
    page.fill("#phone", phone)
    page.click("form[action='/me/enrol'] button[type=submit]")
    assert want["id"] in error_text(page)
    for english in want["english"]:
        assert english not in page.content()
    page.fill("#doc_number", "11010519491231002X")
    page.click("form[action='/me/enrol'] button[type=submit]")
    page.wait_for_url("**/me/enrol/done")
    page.get_by_test_id("enrolled").wait_for()

    # A refused place code, pasted in.
    page.goto("/me/scan")
    page.fill("#place_code", "PLACE1:NOT-A-CODE")
    page.click("form[data-role=checkin-form] button[type=submit]")
    page.wait_for_selector("#place_code-error")
    assert want["place"] in page.inner_text("#place_code-error")

    # A page this role may not open, and an address with nothing at it: pages, not JSON.
    answer = page.goto("/office")
    assert answer.status == 403
    assert "text/html" in answer.headers["content-type"]
    assert want["forbidden"] in error_text(page)
    answer = page.goto("/nowhere/at/all")
    assert answer.status == 404
    assert "text/html" in answer.headers["content-type"]
    assert want["not_found"] in error_text(page)
    for english in want["english"]:
        assert english not in page.content()
