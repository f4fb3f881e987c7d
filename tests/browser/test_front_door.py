"""The front door in a real browser: the home page in Chinese, the switch to English, and a
resident signing in with a one-time code typed into the page."""

from __future__ import annotations

from typing import Any

from healthcode.adapters.otp_sender import ConsoleSender
from tests.browser.conftest import Launch, Live


def test_home_in_chinese_then_english(launch: Launch) -> None:
    page: Any = launch(locale="zh-CN")
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("link", name="登录").first.is_visible()
    page.get_by_test_id("language-switch").click()
    page.wait_for_url("**/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("link", name="Sign in").first.is_visible()


def test_sign_in_with_a_code_typed_into_the_page(launch: Launch, live: Live) -> None:
    page: Any = launch(locale="en")
    page.goto("/sign-in")
    page.get_by_label("Mobile number").fill("13912345678")
    page.get_by_role("button", name="Send code").click()
    sender = live.app.ctx.sender
    assert isinstance(sender, ConsoleSender)
    page.get_by_label("One-time code").fill(sender.sent[-1][1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/me/enrol")
