"""A tracer's desk at 2,000 contacts, in a real browser: a case met 2,000 people at one market over
80 visits (some 23,000 exposures); the tracer opens the stored trace (its graph drawn or counted,
no table of thousands), opens the workspace, pages through it 100 at a time, filters it to one
day's close contacts, and exports them as CSV for a stated purpose. Every page is at most 200 KB
(bench/workspace.py times them); every view and the export are on the log."""

from __future__ import annotations

import csv
import io
import re
import time

from healthcode.bootstrap import App
from healthcode.domain.audit import SYSTEM, Actor
from healthcode.domain.cases import Case
from healthcode.domain.checkins import CheckIn, CheckInSource
from healthcode.services import staff, trace, venues
from healthcode.services.ports import Subject
from tests.browser.conftest import Launch, Live
from tests.browser.test_officer_journey import sign_in
from tests.conftest import staff_login, staff_principal
from tests.integration.orders_city import entries

HOUR, DAY = 3600, 86400
CONTACTS, PER_VISIT = 2000, 25
KB200 = 200_000


def market_case(app: App) -> str:
    """The case and its 2,000 contacts at one market, two days ago, traced to depth 1 (their
    colour work left to the server's job)."""
    cmd = venues.RegisterVenue("菜市场", "Wet Market", "2 Road", "Tianhe", "market", "Op Co")
    venue_id = venues.register_venue(app.ctx, cmd, SYSTEM).venue.venue_id
    people = [f"{n + 1:032x}" for n in range(CONTACTS + 1)]
    case_subject, others = people[0], people[1:]
    now = int(time.time())
    first = now - 2 * DAY
    visits = CONTACTS // PER_VISIT
    with app.ctx.uow() as uow:
        for subject in people:
            uow.subjects.add(Subject(subject, "resident", 0))
        for v in range(visits):
            start = first + v * 600
            uow.checkins.add(CheckIn(venue_id, f"k{v:06d}", case_subject, start, start + HOUR,
                                     CheckInSource.PLACE_SCAN, start + HOUR))  # fmt: skip
        for i, who in enumerate(others):
            start = first + (i % visits) * 600 + 60
            uow.checkins.add(CheckIn(venue_id, f"c{i:06d}", who, start, start + HOUR,
                                     CheckInSource.PLACE_SCAN, start + HOUR))  # fmt: skip
        uow.cases.add_case(Case("kmarket", case_subject, "LAB/m", first - DAY, now, now))
        uow.commit()
    found = trace.trace_case(app.ctx, "kmarket", Actor("health_officer", "staff:h"), depth=1,
                             settle=False)  # fmt: skip
    assert len(found.close) == CONTACTS
    return "kmarket"


def test_a_tracer_pages_filters_and_exports_2000_contacts(launch: Launch, live: Live) -> None:
    app = live.app
    case_id = market_case(app)
    tracer = staff_login(app, "tracer")
    staff.assign_case(app.ctx, staff_principal(app, "health_officer"), case_id,
                      tracer.principal.ref)  # fmt: skip
    page = launch(locale="en")
    sign_in(page, tracer, ("Username", "Password", "Authenticator code", "Sign in"))

    answer = page.goto(f"/office/cases/{case_id}/trace")
    assert answer is not None
    assert answer.ok
    assert len(answer.body()) <= KB200
    summary = page.get_by_test_id("trace-summary").inner_text()
    assert "2000 close contacts" in summary.replace(",", "")
    graph = page.locator("main svg[role=img]")
    assert graph.locator("[data-node=close]").count() == 4  # four drawn, the rest counted
    assert "+1996" in graph.text_content()

    with page.expect_navigation() as opened:
        page.get_by_test_id("open-workspace").click()
    assert opened.value is not None
    assert len(opened.value.body()) <= KB200
    assert "page 1 of 20" in page.get_by_role("heading", name=re.compile("By venue")).inner_text()
    first_page = page.locator("[data-testid=contacts] tbody tr").all_inner_texts()
    assert len(first_page) == 100
    with page.expect_navigation() as paged:
        page.get_by_role("link", name="Next page").click()
    assert len(paged.value.body()) <= KB200
    second_page = page.locator("[data-testid=contacts] tbody tr").all_inner_texts()
    assert len(second_page) == 100
    assert not set(first_page) & set(second_page)  # each contact once

    days = page.locator("#f-day option").evaluate_all("os => os.map(o => o.value)")
    day = days[1]  # the first day that has contacts
    page.locator("#f-level").select_option("close")
    page.locator("#f-day").select_option(day)
    with page.expect_navigation() as filtered:
        page.get_by_role("button", name="Filter").click()
    assert len(filtered.value.body()) <= KB200
    assert f"day={day}" in page.url
    assert "level=close" in page.url
    matching = page.get_by_test_id("contacts-summary").inner_text()
    shown = int(re.search(r"([\d,]+) match the filters", matching).group(1).replace(",", ""))
    assert 0 < shown <= CONTACTS

    page.locator("#purpose").select_option("testing_campaign")
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Export").click()
    text = downloading.value.path().read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["level"] for r in rows} == {"close"}
    assert {r["day"] for r in rows} == {day}
    assert len({r["subject_id"] for r in rows}) == shown  # every matching contact, once or more
    (exported,) = entries(app, "case.contacts_exported")
    assert exported["details"] == {"rows": len(rows), "purpose": "testing_campaign"}
    assert len(entries(app, "case.contacts_read")) == 4  # the trace page and three views
