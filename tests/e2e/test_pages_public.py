"""The public and auditor pages over HTTP, on SQLite and PostgreSQL: the transparency report with
its SVG charts and its withheld counts, the rules in both languages with their history, the log's
signed checkpoint as the API publishes it, and the auditor's anomalies and frozen orders."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.config import Settings
from healthcode.domain.access import Role
from healthcode.domain.audit import Actor
from healthcode.domain.calendar import day_in
from healthcode.domain.orders import ManualOrder, OrderState
from healthcode.domain.published import DAY
from healthcode.entrypoints.web.app import create_app
from healthcode.services import anomalies, audit, orders, rule_approval, rules, trace
from tests.conftest import headers_of, make_settings, staff_principal
from tests.integration.orders_city import officer
from tests.integration.test_anomalies import red, residents
from tests.integration.test_outbreak import TRACER, seed_two_clusters

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
DEFAULT_RULESET = Path("src/healthcode/rulesets/default.json")


def city_day(clock: FixedClock, offset: int = 0) -> str:
    """The day `offset` days from today in the test city's calendar (Asia/Shanghai)."""
    return day_in("Asia/Shanghai", clock.now() + offset * DAY).isoformat()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path / "data",
        database_url,
        anomaly_cluster_min_people=10,
        order_freeze_threshold=15,
        order_subjects_per_officer_day=200,
    )


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app), base_url="http://127.0.0.1") as test_client:
        yield test_client


def section(html: str, start: str, end: str) -> str:
    found = html.split(start, 1)
    assert len(found) == 2, f"{start!r} is not on the page"
    return found[1].split(end, 1)[0]


def row(html: str, day: str) -> list[str]:
    """The cells of a table row headed by `day`, as text."""
    match = re.search(rf'<th scope="row">{day}</th>(.*?)</tr>', html, re.S)
    assert match, f"no row for {day}"
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", match[1])]


def outbreak_and_order(app: App, clock: FixedClock) -> int:
    """2 people red by the rules and 12 by one officer's order: a cluster alert."""
    seed_two_clusters(app)
    trace.trace_outbreak(app.ctx, None, TRACER, depth=1)
    order = red(app, officer(app, "p.tracer", Role.TRACER), residents(app, 12))
    orders.approve_order(app.ctx, officer(app, "p.officer", Role.HEALTH_OFFICER), order.order_id)
    clock.advance(60)
    flagged = anomalies.watch(app.ctx)
    assert {a.detector for a in flagged} == {"non_health_cluster"}
    return len(flagged)


def frozen_order(app: App, n: int = 16) -> ManualOrder:
    """An approved order naming more people than the freeze threshold: it waits for an auditor."""
    order = red(app, officer(app, f"f.tracer.{n}", Role.TRACER), residents(app, n))
    approved = orders.approve_order(
        app.ctx, officer(app, f"f.officer.{n}", Role.HEALTH_OFFICER), order.order_id
    )
    assert approved.state == OrderState.FROZEN.value
    return approved


def test_the_report_draws_charts_and_never_shows_a_withheld_count_as_zero(
    app: App, clock: FixedClock, client: TestClient
) -> None:
    alerts_today = outbreak_and_order(app, clock)
    page = client.get("/public/report?days=2", headers=EN)
    assert page.status_code == 200
    html = page.text
    charts = re.findall(r'<svg class="chart" id="([a-z-]+)"', html)
    assert charts == ["chart-colours", "chart-orders", "chart-appeals", "chart-tracing",
                      "chart-anomalies", "chart-staff", "chart-refusals"]  # fmt: skip
    for cid in charts:
        assert f'<title id="{cid}-title">' in html
        assert f'<desc id="{cid}-desc">' in html
        assert f'aria-labelledby="{cid}-title {cid}-desc"' in html
    assert "Day (Asia/Shanghai)" in html  # the city's calendar, named
    today = city_day(clock)
    colours = section(html, 'id="chart-colours"', "</figure>")
    # 2 red by the rules: withheld, drawn hatched, in the table as "fewer than 10" (never 0),
    # and the day's total with them, so that 14 − 12 does not give them away; the 12 people
    # one officer's order turned red are never hidden.
    assert colours.count("hidden-count") == 1
    assert f"{today} · Red by a rule: fewer than 10" in colours
    cells = row(colours, today)
    assert cells == [
        "0",
        "0",
        "0",
        "fewer than 10",
        "12",
        "withheld: a count in it is fewer than 10",
    ]
    assert row(colours, city_day(clock, -1)) == ["0"] * 6
    orders_table = section(html, 'id="chart-orders"', "</figure>")
    assert row(orders_table, today)[:2] == ["1", "1"]  # proposed, approved: never withheld
    alerts = section(html, 'id="chart-anomalies"', "</figure>")
    assert row(alerts, today) == ["0", "0", str(alerts_today), "0", "0"]  # by detector
    assert 'data-testid="current-red"' in html
    assert "14" in section(html, 'data-testid="current-red">', "</dd>")
    zh = client.get("/public/report?days=2", headers=ZH).text
    assert '<html lang="zh-CN">' in zh
    assert "少于10" in zh
    assert "Red by a rule" not in zh


def test_a_date_range_is_shown_and_a_bad_one_is_named(
    app: App, clock: FixedClock, client: TestClient
) -> None:
    clock.advance(3 * DAY)
    first, last = city_day(clock, -2), city_day(clock, -1)
    page = client.get(f"/public/report?from={first}&to={last}", headers=EN)
    assert page.status_code == 200
    colours = section(page.text, 'id="chart-colours"', "</figure>")
    assert re.findall(r'<th scope="row">([0-9-]+)</th>', colours) == [first, last]
    bad = {
        "from=2026-13-01": "from",
        f"from={city_day(clock, -40)}": "from",
        f"from={last}&to={first}": "from",
        f"to={city_day(clock, 1)}": "to",
    }
    for query, field in bad.items():
        answer = client.get(f"/public/report?{query}", headers=EN)
        assert answer.status_code == 422, query
        assert f'data-field="{field}"' in answer.text
        assert f'id="{field}-error"' in answer.text
        assert 'aria-invalid="true"' in answer.text
        assert '<svg class="chart"' not in answer.text
    too_many = client.get("/public/report?days=99", headers=EN)
    assert too_many.status_code == 422
    assert "<strong>days</strong>" in too_many.text


def test_the_rules_in_both_languages_with_their_history(
    app: App, clock: FixedClock, client: TestClient
) -> None:
    doc = json.loads(DEFAULT_RULESET.read_text(encoding="utf-8"))
    en = client.get("/public/rules", headers=EN)
    zh = client.get("/public/rules", headers=ZH)
    assert en.status_code == zh.status_code == 200
    for rule in doc["rules"]:
        assert escape(rule["description"]["en"]) in en.text
        assert escape(rule["advice"]["en"]) in en.text
        assert escape(rule["description"]["zh"]) in zh.text
        assert escape(rule["description"]["zh"]) not in en.text
        assert f'data-rule="{rule["id"]}"' in en.text
    assert "at most 14 days" in en.text
    assert "the system" in en.text  # default@1 was published and activated at first start
    for basis in orders.legal_bases(app.ctx):
        assert escape(basis.en) in en.text
        assert escape(basis.zh) in zh.text

    # A second version, published and activated by the authority: the history names them.
    doc["version"] = 2
    doc["rules"][0]["lasts_days"] = 10
    doc["rules"] = doc["rules"][:-1]
    asker, admin = staff_principal(app, "health_officer"), staff_principal(app, "authority_admin")
    loader = Actor("health_officer", asker.pseudonym)
    rules.load_ruleset(app.ctx, json.dumps(doc, ensure_ascii=False), loader)
    clock.advance(60)
    asked = rule_approval.request_activation(app.ctx, asker, "default", 2)
    rule_approval.approve_activation(app.ctx, admin, asked.seq)
    page = client.get("/public/rules", headers=EN).text
    history = section(page, 'id="history-heading"', "</section>")
    assert history.index("default@2") < history.index("default@1")
    assert "authority administrator" in history
    assert admin.pseudonym in history
    assert "From version 1:" in history
    assert "how long it lasts" in history
    assert "removed" in history
    assert "at most 10 days" in page
    old = client.get("/public/rules/default/1", headers=EN)
    assert old.status_code == 200
    assert "which is not the active rule set" in old.text
    assert client.get("/public/rules/default/7", headers=EN).status_code == 404


def test_the_log_page_shows_the_checkpoint_the_api_publishes(
    app: App, clock: FixedClock, client: TestClient
) -> None:
    outbreak_and_order(app, clock)
    audit.checkpoint_now(app.ctx, force=True)
    published = client.get("/log/checkpoint").json()
    page = client.get("/public/log", headers=EN)
    assert page.status_code == 200
    shown = section(page.text, 'data-testid="checkpoint"', "</dl>")
    assert f'data-testid="checkpoint-size">{published["size"]}<' in shown
    assert published["root"] in shown
    assert "the signature verifies with the key below" in shown
    assert client.get("/log/vkey").text in page.text
    assert "healthcode-verifier audit verify" in page.text
    for endpoint in ("/log/export", "/log/checkpoints", "/log/proof/inclusion",
                     "/log/proof/consistency"):  # fmt: skip
        assert endpoint in page.text

    entry = client.get("/public/log/entry?index=5", headers=EN)
    assert entry.status_code == 200
    assert 'data-testid="included"' in entry.text
    published_entry = client.get("/log/entries?start=5&end=6").json()[0]
    assert published_entry["leaf_hash"] in entry.text
    beyond = client.get(f"/public/log/entry?index={published['size'] + 1000}", headers=EN)
    assert beyond.status_code == 422
    assert 'aria-invalid="true"' in beyond.text
    negative = client.get("/public/log/entry?index=-1", headers=EN)
    assert negative.status_code == 422
    assert "<strong>index</strong>" in negative.text


def test_anomalies_are_for_auditors_only(app: App, clock: FixedClock, client: TestClient) -> None:
    outbreak_and_order(app, clock)
    public = client.get("/public/anomalies", follow_redirects=False)
    assert public.status_code == 303
    assert public.headers["location"] == "/sign-in?next=%2Fpublic%2Fanomalies"
    tracer = client.get(
        "/public/anomalies", headers={**EN, **headers_of(app, staff_principal(app, "tracer"))}
    )
    assert tracer.status_code == 403
    auditor = headers_of(app, staff_principal(app, "auditor"))
    page = client.get("/public/anomalies", headers={**EN, **auditor})
    assert page.status_code == 200
    assert 'data-detector="non_health_cluster"' in page.text
    assert "Colours clustered on a non-health attribute" in page.text
    assert "No order is waiting." in page.text
    zh = client.get("/public/anomalies", headers={**ZH, **auditor})
    assert "异常" in zh.text


def test_an_auditor_refuses_one_frozen_order_and_releases_another(
    app: App, client: TestClient
) -> None:
    refused, released = frozen_order(app, 16), frozen_order(app, 17)
    auditor = {**EN, **headers_of(app, staff_principal(app, "auditor"))}
    page = client.get("/public/anomalies", headers=auditor)
    assert f'data-order="{refused.order_id}"' in page.text
    assert f'data-order="{released.order_id}"' in page.text

    tracer = {**EN, **headers_of(app, staff_principal(app, "tracer"))}
    denied = client.post(f"/public/orders/{refused.order_id}/refuse", headers=tracer,
                         follow_redirects=False)  # fmt: skip
    assert denied.status_code == 403

    done = client.post(f"/public/orders/{refused.order_id}/refuse", headers=auditor,
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert done.headers["location"] == f"/public/anomalies?done=refused&order={refused.order_id}"
    shown = client.get(done.headers["location"], headers=auditor).text
    assert "was refused: it never applies" in shown
    assert f'data-order="{refused.order_id}"' not in shown
    client.post(f"/public/orders/{released.order_id}/release", headers=auditor)
    reader = staff_principal(app, "auditor")
    assert orders.get_order(app.ctx, reader, refused.order_id).state == "rejected"
    assert orders.get_order(app.ctx, reader, released.order_id).state == "active"
    log = [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]
    steps = [(e["action"], e["object"]["ref"]) for e in log if e["object"]["kind"] == "order"]
    assert ("order.release_refused", refused.order_id) in steps
    assert ("order.released", released.order_id) in steps

    again = client.post(f"/public/orders/{refused.order_id}/release", headers=auditor)
    assert again.status_code == 409
    assert "only a frozen order" in again.text
    unknown = client.post("/public/orders/nosuchorder/release", headers=auditor)
    assert unknown.status_code == 404
