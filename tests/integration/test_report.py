"""The transparency report on SQLite and PostgreSQL: computed from the public log (and the
current colour counts), with small counts of people suppressed; an export recomputes it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.config import Settings
from healthcode.domain.access import Role
from healthcode.domain.calendar import day_in, day_start
from healthcode.domain.errors import InvalidInput
from healthcode.domain.published import DAY, parse_entry
from healthcode.domain.report import build_report
from healthcode.services import anomalies, audit, orders, report, trace
from tests.conftest import make_settings
from tests.integration.orders_city import officer
from tests.integration.test_anomalies import red, residents
from tests.integration.test_outbreak import TRACER, seed_two_clusters


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path / "data", database_url, anomaly_cluster_min_people=10)


def test_a_day_with_an_outbreak_and_orders(app: App, clock: FixedClock) -> None:
    seed_two_clusters(app)
    trace.trace_outbreak(app.ctx, None, TRACER, depth=1)  # 2 people red by the rules
    people = residents(app, 12)
    tracer = officer(app, "r.tracer", Role.TRACER)
    health = officer(app, "r.officer", Role.HEALTH_OFFICER)
    order = red(app, tracer, people)
    orders.approve_order(app.ctx, health, order.order_id)  # 12 people red by an order
    clock.advance(60)
    flagged = anomalies.watch(app.ctx)  # 12 of 14 reds by one officer's order: a cluster
    assert {a.detector for a in flagged} == {"non_health_cluster"}
    made = report.report(app.ctx, days=2)
    today = made.days[-1]
    assert made.timezone == "Asia/Shanghai"  # the city's calendar
    assert today.start == day_start("Asia/Shanghai", day_in("Asia/Shanghai", clock.now()))
    assert today.day == day_in("Asia/Shanghai", clock.now()).isoformat()
    changes = today.colour_changes
    # 2 people red by the rules: suppressed, and the total with them, or else 14 − 12 would
    # give the 2 away; the 12 people an order turned red are never hidden.
    assert (changes.cells["red_rule"], changes.cells["red_order"]) == (None, 12)
    assert (changes.total, changes.suppressed) == (None, ("red_rule", "total"))
    assert today.orders["proposed"] == 1
    assert today.orders["approved"] == 1
    assert today.trace_runs == 2
    assert sum(today.anomaly_alerts.values()) == len(flagged)
    assert today.current_colours is not None
    assert today.current_colours.cells == {"yellow": 0, "red": 14}
    assert made.days[0].current_colours is None
    assert made.days[0].colour_changes.total == 0
    json.dumps(made.as_dict())  # plain JSON

    # Anyone with the export recomputes it (all but the snapshots of the latest day: current
    # colours and staff, which are not on the log).
    lines = [json.loads(line) for line in audit.export_lines(app.ctx)]
    entries = [parse_entry(x["seq"], x["entry"]) for x in lines if x["seq"] < made.log_size]
    again = build_report(entries, first_day=date.fromisoformat(made.days[0].day), days=2,
                         zone=made.timezone,
                         generated_at=made.generated_at, first_seq=made.first_seq,
                         log_size=made.log_size, current=app_counts(app),
                         staff=made.days[-1].current_staff)  # fmt: skip
    assert again.as_dict() == made.as_dict()


def app_counts(app: App) -> dict[str, int]:
    with app.ctx.uow(read_only=True) as uow:
        return uow.statuses.counts()


def test_days_are_bounded(app: App, clock: FixedClock) -> None:
    for days in (0, 32):
        with pytest.raises(InvalidInput):
            report.report(app.ctx, days=days)
    clock.advance(3 * DAY)
    made = report.report(app.ctx, days=3)
    assert len(made.days) == 3
    assert all(d.colour_changes.total == 0 for d in made.days)
