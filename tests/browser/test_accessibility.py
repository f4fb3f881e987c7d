"""Accessibility: the main pages pass axe-core's WCAG 2 A and AA rules (labels, names, contrast,
landmarks, language), in Chinese and English, as the person each page is for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.services import auth, enrolment, venues
from healthcode.services.staff import OPERATOR
from tests.browser.conftest import Launch, Live
from tests.conftest import staff_principal

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def violations(page: Any) -> list[dict[str, Any]]:
    page.evaluate(AXE.read_text())  # through the devtools protocol: the page's CSP stays as it is
    found: list[dict[str, Any]] = page.evaluate("options => axe.run(document, options)", RULES)[
        "violations"
    ]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in found
    ]


def sign_in(page: Any, live: Live, principal: Principal) -> None:
    token = auth.open_session(live.app.ctx, principal).token
    page.context.add_cookies([{"name": "hc_session", "value": token, "url": live.base_url}])


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_main_pages_pass_axe(launch: Launch, live: Live, locale: str) -> None:
    ctx = live.app.ctx
    cmd = enrolment.EnrolResident("冯三", "prc_id", "11010519491231002X", "13812345678")
    subject_id = enrolment.enrol_resident(ctx, cmd).subject_id
    venue = venues.RegisterVenue("一号店", "Shop One", "一号路1号", "天河区", "shop", "一号公司")
    venue_id = venues.register_venue(ctx, venue, OPERATOR).venue.venue_id
    resident = Principal(PrincipalKind.RESIDENT, subject_id, Role.RESIDENT)
    pages: list[tuple[Principal | None, str]] = [
        (None, "/"),
        (None, "/sign-in"),
        (None, "/sign-in/staff"),
        (None, "/public/report"),
        (None, "/public/rules"),
        (None, "/public/log"),
        (resident, "/me"),
        (resident, "/me/why"),
        (resident, "/me/checkins"),
        (resident, "/me/scan"),
        (resident, "/me/record"),
        (staff_principal(live.app, "venue_admin", venue_id), "/venue"),
        (staff_principal(live.app, "venue_staff", venue_id), "/venue/scan"),
        (staff_principal(live.app, "health_officer"), "/office"),
        (staff_principal(live.app, "health_officer"), "/office/labs"),
        (staff_principal(live.app, "health_officer"), "/office/orders"),
        (staff_principal(live.app, "authority_admin"), "/office/rules"),
        (staff_principal(live.app, "auditor"), "/public/anomalies"),
    ]
    page: Any = launch(locale=locale)
    found = {}
    for who, path in pages:
        page.context.clear_cookies()
        if who is not None:
            sign_in(page, live, who)
        page.goto(path)
        page.wait_for_load_state("networkidle")
        problems = violations(page)
        if problems:
            found[path] = problems
    assert found == {}
