"""The public pages in a real browser, in Chinese and in English: the transparency report with its
SVG charts, the rules and the log (no request leaves the server: the fixture fails the test if
one does); then an auditor signs in and refuses a frozen manual order."""

from __future__ import annotations

import time
from typing import Any

from healthcode.domain.access import Role
from healthcode.services import orders
from tests.browser.conftest import Launch, Live
from tests.conftest import TEST_STAFF_PASSWORD, staff_login
from tests.integration.orders_city import officer
from tests.integration.test_anomalies import red, residents

CHARTS = 7


def test_report_rules_and_log_in_both_languages(launch: Launch) -> None:
    for locale, report, rules, log in (
        ("zh-CN", "透明度报告", "赋码规则", "自己动手核验"),
        ("en", "Transparency report", "The rules", "Verify it yourself"),
    ):
        page: Any = launch(locale=locale)
        page.goto("/public/report")
        assert page.locator("html").get_attribute("lang") == locale
        page.get_by_role("heading", name=report, level=1).wait_for()
        charts = page.locator("svg.chart[role=img]")
        assert charts.count() == CHARTS
        assert charts.first.bounding_box()["width"] > 200  # drawn, not just present
        page.locator("details summary").first.click()  # the numbers as a table
        assert page.locator("figure table").first.is_visible()
        page.goto("/public/rules")
        page.get_by_role("heading", name=rules, level=1).wait_for()
        assert page.locator("article.rule").count() == 5
        page.goto("/public/log")
        page.get_by_role("heading", name=log).wait_for()
        assert page.get_by_test_id("checkpoint-size").inner_text().isdigit()


def test_an_auditor_signs_in_and_refuses_a_frozen_order(launch: Launch, live: Live) -> None:
    app = live.app
    big = red(app, officer(app, "b.tracer", Role.TRACER), residents(app, 51))
    frozen = orders.approve_order(
        app.ctx, officer(app, "b.officer", Role.HEALTH_OFFICER), big.order_id
    )
    assert frozen.state == "frozen"
    auditor = staff_login(app, "auditor")
    page: Any = launch(locale="en")
    page.goto("/sign-in/staff")
    page.get_by_label("Username").fill(auditor.username)
    page.get_by_label("Password").fill(TEST_STAFF_PASSWORD)
    page.get_by_label("Authenticator code").fill(auditor.totp(int(time.time())))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/public/anomalies")
    order = page.locator(f'article[data-order="{big.order_id}"]')
    assert "51" in order.get_by_role("heading").inner_text()
    order.get_by_role("button", name="Refuse: it never applies").click()
    page.get_by_test_id("done").wait_for()
    assert big.order_id in page.get_by_test_id("done").inner_text()
    assert page.locator(f'article[data-order="{big.order_id}"]').count() == 0
    assert orders.get_order(app.ctx, auditor.principal, big.order_id).state == "rejected"


def test_the_api_docs_work_offline(launch: Launch) -> None:
    """Swagger UI (/docs) and ReDoc (/redoc) from the vendored copies: they draw the API's
    operations with no other host asked for anything (the fixture fails the test if one is)."""
    page: Any = launch(locale="en")
    page.goto("/docs")
    page.locator(".swagger-ui .opblock").first.wait_for(timeout=20_000)
    assert page.locator(".swagger-ui .opblock").count() > 50
    page.goto("/redoc")
    page.get_by_text("/residents/{subject_id}/code").first.wait_for(timeout=20_000)
