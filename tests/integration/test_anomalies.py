"""The anomaly watch on SQLite and PostgreSQL: the Zhengzhou pattern (officers colouring hundreds
of residents red by manual order, with no case behind any of them) raises `order_burst` and
`non_health_cluster` alerts on the public log, with nobody's data in them; a normal outbreak
raises none; a forged colour change raises `unlinked_change`; nothing is flagged twice."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.config import Settings
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal
from healthcode.domain.anomalies import CLUSTER, ORDER_BURST, UNLINKED, Alert
from healthcode.domain.audit import Actor, LogEntry, commitment
from healthcode.services import anomalies, audit, orders, trace
from healthcode.services.ports import Identity, Subject
from tests.conftest import make_settings
from tests.integration.orders_city import BASIS, REASON, officer
from tests.integration.test_outbreak import TRACER, seed_two_clusters


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path / "data",
        database_url,
        order_quota_per_officer_day=10,
        order_subjects_per_officer_day=400,
        # The freezes stop bursts on their own (test_duties.py); here the watch must see them.
        order_freeze_per_officer_day=100_000,
        order_freeze_per_city_day=100_000,
    )


def residents(app: App, n: int) -> list[str]:
    """`n` enrolled residents (subject and vault record: the log names them by commitment)."""
    ids = [secrets.token_hex(16) for _ in range(n)]
    now = app.ctx.clock.now()
    with app.ctx.uow() as uow:
        for i, subject_id in enumerate(ids):
            uow.subjects.add(Subject(subject_id, "resident", now))
            uow.vault.add(
                Identity(subject_id, f"储户{i}", None, None, None, secrets.token_bytes(32), now)
            )
        uow.commit()
    return ids


def red(app: App, who: Principal, people: list[str]) -> orders.ManualOrder:
    return orders.propose_order(app.ctx, who, people, "red", BASIS, REASON, 7)


def flagged_entries(app: App) -> list[dict[str, object]]:
    found = [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]
    return [e for e in found if e["action"] == "anomaly.flagged"]


def commitments(app: App, people: list[str]) -> set[str]:
    with app.ctx.uow(read_only=True) as uow:
        keys = uow.vault.commit_keys(people)
    return {commitment(keys[p], p) for p in people}


def assert_no_resident(app: App, found: list[Alert], people: list[str]) -> None:
    secret = set(people) | commitments(app, people)
    for entry in flagged_entries(app):
        assert entry["actor"] == {"role": "system", "ref": "system"}
        assert entry["purpose"] == "anomaly_watch"
        text = json.dumps(entry, ensure_ascii=False)
        assert not any(s in text for s in secret)
        assert "储户" not in text
        assert REASON not in text
    for alert in found:
        assert alert.value not in secret
        assert not alert.value.startswith("c:")


def kinds(found: list[Alert]) -> set[tuple[str, str]]:
    return {(a.detector, a.scope) for a in found}


def test_one_large_order_frozen_then_released(app: App, clock: FixedClock) -> None:
    people = residents(app, 300)
    tracer = officer(app, "zz.tracer", Role.TRACER)
    health = officer(app, "zz.officer", Role.HEALTH_OFFICER)
    auditor = officer(app, "zz.auditor", Role.AUDITOR)
    order = red(app, tracer, people)
    clock.advance(120)
    assert orders.approve_order(app.ctx, health, order.order_id).state == "frozen"
    clock.advance(120)
    orders.release_order(app.ctx, auditor, order.order_id)
    clock.advance(60)

    found = anomalies.watch(app.ctx)
    assert {
        (ORDER_BURST, "order"),
        (ORDER_BURST, "officer_proposals"),
        (ORDER_BURST, "city_proposals"),
        (ORDER_BURST, "city_approvals"),
        (CLUSTER, "officer"),
        (CLUSTER, "minute"),
    } <= kinds(found)
    assert UNLINKED not in {a.detector for a in found}
    big = next(a for a in found if a.scope == "order")
    assert (big.value, big.counts["residents"]) == (order.order_id, 300)
    by_officer = next(a for a in found if a.detector == CLUSTER and a.scope == "officer")
    assert by_officer.value == f"staff:{tracer.ref}"  # the proposer: staff are named
    assert by_officer.counts["people"] == 300
    assert by_officer.counts["share_percent"] == 100
    assert all(a.seq is not None for a in found)
    assert_no_resident(app, found, people)
    # On the log, read back by the auditor, and never flagged twice.
    assert [a.key for a in anomalies.alerts(app.ctx)] == [a.key for a in found]
    assert anomalies.watch(app.ctx) == []
    clock.advance(3 * 3600)
    assert anomalies.watch(app.ctx) == []
    assert len(flagged_entries(app)) == len(found)


def test_many_small_orders_approved_in_a_burst(app: App, clock: FixedClock) -> None:
    people = residents(app, 240)
    tracers = [officer(app, f"zz.tracer{i}", Role.TRACER) for i in range(3)]
    health = officer(app, "zz.officer", Role.HEALTH_OFFICER)
    proposed = []
    for i, tracer in enumerate(tracers):
        for j in range(2):
            start = (2 * i + j) * 40
            proposed.append(red(app, tracer, people[start : start + 40]))  # under the freeze
            clock.advance(60)
    for order in proposed:
        assert orders.approve_order(app.ctx, health, order.order_id).state == "active"
    clock.advance(60)

    found = anomalies.watch(app.ctx)
    got = kinds(found)
    assert (ORDER_BURST, "officer_approvals") in got  # 6 orders approved by one officer
    assert (ORDER_BURST, "city_approvals") in got  # 240 residents
    assert (ORDER_BURST, "officer_proposals") in got  # 80 residents each, above 50
    assert (ORDER_BURST, "order") not in got
    assert (CLUSTER, "minute") in got  # all 240 coloured in the same minute
    approvals = next(a for a in found if a.scope == "officer_approvals")
    assert approvals.value == f"staff:{health.ref}"
    assert (approvals.counts["orders"], approvals.counts["residents"]) == (6, 240)
    assert_no_resident(app, found, people)
    assert anomalies.watch(app.ctx) == []


def test_a_normal_outbreak_raises_no_alert(app: App, clock: FixedClock) -> None:
    seed_two_clusters(app)
    report = trace.trace_outbreak(app.ctx, None, TRACER, depth=1)
    assert report.colour_changes == 2
    assert anomalies.watch(app.ctx) == []
    assert anomalies.alerts(app.ctx) == []


def test_a_forged_colour_change_is_flagged(app: App, clock: FixedClock) -> None:
    (person,) = residents(app, 1)
    (ref,) = commitments(app, [person])
    forged = [
        {"from": "green", "to": "red", "rule": "default@1#close", "evidence": 0},
        {"from": "green", "to": "red", "rule": "order:onosuchord", "evidence": 1},
        {"from": "green", "to": "yellow", "rule": "secret@1#station", "evidence": 3},
    ]
    with app.ctx.uow() as uow:
        for details in forged:
            entry = LogEntry(
                "status.changed", Actor("health_officer", "staff:s1"), "subject", ref,
                "colour_derivation", "published_rules",
                details={**details, "reason": "manual"},  # type: ignore[dict-item]
            )  # fmt: skip
            uow.log.append(entry, clock.now())
        uow.commit()
    (alert,) = anomalies.watch(app.ctx)
    assert (alert.detector, alert.counts["changes"]) == (UNLINKED, 3)
    assert ref not in json.dumps(flagged_entries(app))
    assert anomalies.watch(app.ctx) == []
    clock.advance(60)
    with app.ctx.uow() as uow:  # a later forgery is flagged on its own
        details = {**forged[0], "reason": "manual"}
        uow.log.append(
            LogEntry("status.changed", Actor("system", "system"), "subject", ref,
                     "colour_derivation", "published_rules", details=details),  # type: ignore[arg-type]
            clock.now(),
        )  # fmt: skip
        uow.commit()
    (again,) = anomalies.watch(app.ctx)
    assert again.counts["changes"] == 1
    assert again.counts["first_seq"] > alert.counts["last_seq"]
