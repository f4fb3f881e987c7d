"""An officer's journey in a real browser: a registered lab sends a positive result (a CSV file,
signed with the lab's key: no officer enters results); a health officer signs in with password
and TOTP, sees the lab on the labs page and the case it opened, and assigns the case to a tracer;
the tracer signs in (in Chinese), traces the case, sees the contacts and the transmission graph,
and proposes an order for the close contact; the health officer approves it."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from healthcode.bootstrap import App
from healthcode.domain.audit import SYSTEM
from healthcode.domain.checkins import CheckIn, CheckInSource
from healthcode.domain.documents import mod11_2_check_char
from healthcode.services import enrolment, venues
from tests.browser.conftest import Launch, Live
from tests.conftest import TEST_STAFF_PASSWORD, StaffLogin, staff_login
from tests.support.labs import registered_lab

HOUR, MIN = 3600, 60


def doc_number(i: int) -> str:
    body = f"44010619850101{i:03d}"
    return body + mod11_2_check_char(body)


def seed(app: App) -> tuple[str, str, str]:
    """A case and a contact who shared a restaurant for 50 minutes two hours ago: (the lab's
    CSV file, the contact's pseudonym, the venue's name)."""
    case, contact = (
        enrolment.enrol_resident(
            app.ctx, enrolment.EnrolResident(name, "prc_id", doc_number(i), f"1371234{i:04d}")
        ).subject_id
        for i, name in enumerate(("陈一", "陈二"))
    )
    cmd = venues.RegisterVenue("老街餐厅", "Old Street Diner", "1 Road", "Tianhe", "restaurant",
                               "Op Co")  # fmt: skip
    venue_id = venues.register_venue(app.ctx, cmd, SYSTEM).venue.venue_id
    now = int(time.time())
    visits = [(case, now - 3 * HOUR, now - 2 * HOUR), (contact, now - 170 * MIN, now - 110 * MIN)]
    with app.ctx.uow() as uow:
        for n, (who, start, end) in enumerate(visits):
            uow.checkins.add(CheckIn(venue_id, f"c{n:04d}", who, start, start + 4 * HOUR,
                                     CheckInSource.PLACE_SCAN, end))  # fmt: skip
        uow.commit()
    csv = (
        "test_id,doc_type,doc_number,sample_time,result,lab\n"
        f"T-1,prc_id,{doc_number(0)},{now - HOUR},positive,LAB1\n"
    )
    return csv, contact, "老街餐厅"


def sign_in(page: Any, who: StaffLogin, labels: tuple[str, str, str, str]) -> None:
    user, password, code, button = labels
    page.goto("/sign-in/staff")
    page.get_by_label(user).fill(who.username)
    page.get_by_label(password).fill(TEST_STAFF_PASSWORD)
    page.get_by_label(code).fill(who.totp(int(time.time())))
    page.get_by_role("button", name=button).click()
    page.wait_for_url("**/office")


def test_import_assign_trace_propose_and_approve(launch: Launch, live: Live) -> None:
    csv, contact, venue = seed(live.app)
    health = staff_login(live.app, "health_officer")
    tracer = staff_login(live.app, "tracer")

    lab = registered_lab(live.app, "LAB1")
    body = csv.encode()
    sent = urllib.request.Request(  # noqa: S310 - the test server, over http
        f"{live.base_url}/lab-results/csv",
        data=body,
        headers=lab.headers("/lab-results/csv", body) | {"content-type": "text/csv"},
    )
    with urllib.request.urlopen(sent, timeout=10) as answer:  # noqa: S310 - the test server
        assert len(json.loads(answer.read())["cases_opened"]) == 1

    officer: Any = launch(locale="en")
    sign_in(officer, health, ("Username", "Password", "Authenticator code", "Sign in"))
    officer.get_by_test_id("task-labs").click()
    assert "LAB1" in officer.get_by_test_id("labs").inner_text()
    assert officer.locator("input[type=file]").count() == 0  # no officer enters a result
    officer.goto("/office/cases")
    officer.locator("select[name=staff_id]").select_option(tracer.principal.ref)
    officer.get_by_role("button", name="Assign").click()
    officer.wait_for_url("**/office/cases?assigned=*")
    case_id = officer.url.rsplit("=", 1)[1]

    field: Any = launch(locale="zh-CN")
    sign_in(field, tracer, ("用户名", "密码", "身份验证器动态码", "登录"))
    field.get_by_test_id("task-cases").click()
    field.get_by_role("link", name=case_id).click()
    field.get_by_role("button", name="对此病例开展流调").click()
    graph = field.get_by_test_id("transmission-graph")
    graph.wait_for()
    assert graph.locator("[data-node=case]").count() == 1
    assert graph.locator("[data-node=close]").count() == 1
    assert venue in graph.inner_html()
    field.get_by_test_id("open-workspace").click()  # the contacts: by venue and visit, paged
    field.wait_for_url(f"**/office/cases/{case_id}/contacts")
    contacts = field.get_by_test_id("contacts")
    assert contact in contacts.inner_text()
    assert venue in field.get_by_test_id("visit-group").inner_text()
    contacts.get_by_role("checkbox").check()
    field.get_by_role("button", name="为选中的接触者提出赋码令").click()
    field.wait_for_url("**/office/orders/new?*")
    assert field.get_by_label("居民（假名编号，每行一个）").input_value() == contact
    field.get_by_label("法律依据").select_option(index=1)
    field.get_by_label("理由（会展示给每位当事人；10 至 500 个字符）").fill(
        "与确诊病例同场所停留超过15分钟，需居家健康观察"
    )
    field.get_by_label("天数（1 至 14）").fill("7")
    field.get_by_role("button", name="提交赋码令").click()
    field.wait_for_url("**/office/orders?done=proposed*")
    order_id = field.url.rsplit("=", 1)[1]

    officer.goto("/office/orders")
    officer.locator(f"#order-{order_id}").get_by_role("button", name="Approve").click()
    officer.wait_for_url("**/office/orders?done=approved*")
    assert officer.locator("[data-state=active]").count() == 1
