"""The anomaly detectors on hand-made log entries: what each flags, what it does not, windows,
no re-flagging, and that an alert holds tokens and counts only."""

from __future__ import annotations

from healthcode.domain.anomalies import (
    CLUSTER,
    ORDER_BURST,
    UNLINKED,
    Alert,
    OrderInfo,
    Thresholds,
    alert_of,
    detect,
    minute_of_day,
)
from healthcode.domain.audit import SYSTEM, LogEntry, canonical_entry
from healthcode.domain.published import PublicEntry, as_token, from_token, parse_entry

T0 = 1_795_000_000
RULES = {"default@1#close", "default@1#positive"}
SMALL = Thresholds(
    window_seconds=3600,
    officer_orders=2,
    officer_residents=10,
    city_orders=4,
    city_residents=20,
    order_residents=15,
    cluster_min_people=5,
    cluster_share_percent=50,
)


class Log:
    def __init__(self) -> None:
        self.entries: list[PublicEntry] = []

    def add(
        self,
        time: int,
        action: str,
        kind: str,
        ref: str,
        actor: tuple[str, str] = ("system", "system"),
        outcome: str = "ok",
        **details: str | int,
    ) -> None:
        entry = LogEntry(
            action, SYSTEM.__class__(*actor), kind, ref, "p", "b", outcome, details=details
        )
        seq = len(self.entries)
        self.entries.append(parse_entry(seq, canonical_entry(entry, seq, time)))

    def change(self, time: int, ref: str, to: str, rule: str, evidence: int, **kw: str) -> None:
        actor = (kw.get("role", "system"), kw.get("by", "system"))
        self.add(time, "status.changed", "subject", ref, actor, **{
            "from": "green", "to": to, "rule": rule, "evidence": evidence, "reason": "x"
        })  # fmt: skip

    def flagged(self, time: int, alerts: list[Alert]) -> None:
        for a in alerts:
            self.add(time, "anomaly.flagged", "anomaly", a.detector, **a.details())


def run(log: Log, since: int, orders: dict[str, OrderInfo] | None = None,
        districts: dict[str, str] | None = None) -> list[Alert]:  # fmt: skip
    return detect(log.entries, since, SMALL, RULES, orders or {}, districts or {})


def test_rule_changes_with_evidence_are_linked() -> None:
    log = Log()
    for i in range(30):
        log.change(T0 + i, f"c:{i:032x}", "red", "default@1#close", 1)
    log.change(T0 + 40, "c:x", "green", "default@1#none", 0)  # back to green: not a question
    assert run(log, T0) == []


def test_unlinked_changes() -> None:
    log = Log()
    log.change(T0, "c:a", "red", "default@1#close", 0)  # no evidence
    log.change(T0 + 1, "c:b", "red", "other@9#station", 2)  # no such published rule
    log.change(T0 + 2, "c:c", "yellow", "order:oghost0001", 1)  # no such order
    log.change(T0 + 3, "c:d", "red", "order:ofrozen001", 1)  # an order that never took effect
    log.change(T0 + 4, "c:e", "red", "order:oactive001", 1)  # fine
    orders = {
        "ofrozen001": OrderInfo("staff:s1", 1, None),
        "oactive001": OrderInfo("staff:s1", 1, T0),
    }
    (alert,) = run(log, T0, orders)
    assert alert.detector == UNLINKED
    assert alert.counts == {"changes": 4, "first_seq": 0, "last_seq": 3}
    log.flagged(T0 + 60, [alert])
    assert run(log, T0, orders) == []  # flagged once, by sequence number


def propose(log: Log, time: int, officer: str, order_id: str, n: int) -> None:
    log.add(time, "order.proposed", "order", order_id, ("tracer", officer), subjects=n)


def test_order_burst_per_officer_city_and_order() -> None:
    log = Log()
    propose(log, T0, "staff:a", "o1", 4)
    propose(log, T0 + 600, "staff:a", "o2", 4)
    assert run(log, T0) == []  # 2 orders, 8 residents: at the limits, not above
    propose(log, T0 + 1200, "staff:a", "o3", 4)  # a third within the hour
    found = run(log, T0)
    assert [(a.detector, a.scope, a.value) for a in found] == [
        (ORDER_BURST, "officer_proposals", "staff:a")
    ]
    assert found[0].counts["orders"] == 3
    assert found[0].counts["residents"] == 12
    assert (found[0].window_start, found[0].window_end) == (T0, T0 + 3600)
    log.flagged(T0 + 1300, found)
    propose(log, T0 + 1800, "staff:a", "o4", 1)  # the same burst goes on: no new alert ...
    assert run(log, T0) == []
    for i in range(3):  # ... until a window that does not overlap the flagged one
        propose(log, T0 + 3600 + i, "staff:a", f"o{5 + i}", 1)
    again = {a.scope: a for a in run(log, T0)}
    assert again["officer_proposals"].counts["orders"] == 3  # the three of the new window
    assert again["officer_proposals"].window_start == T0 + 3600
    # Spread out over the day: never more than 2 in an hour.
    calm = Log()
    for i in range(8):
        propose(calm, T0 + i * 3601, "staff:b", f"p{i}", 2)
    assert run(calm, T0) == []
    # One big order, and many officers at once.
    big = Log()
    propose(big, T0, "staff:c", "obig", 16)
    for i in range(4):
        propose(big, T0 + i, f"staff:d{i}", f"q{i}", 3)
    got = {(a.scope, a.value) for a in run(big, T0)}
    assert ("order", "obig") in got
    assert ("city_proposals", "city") in got  # 5 orders, 28 residents
    assert ("officer_proposals", "staff:c") in got  # 16 residents
    assert not any(v.startswith("staff:d") for _, v in got)


def test_approvals_burst_and_frozen_order() -> None:
    log = Log()
    orders = {f"o{i}": OrderInfo("staff:p", 6, T0) for i in range(4)}
    for i in range(4):
        log.add(T0 + i, "order.approved", "order", f"o{i}", ("health_officer", "staff:h"),
                state="active")  # fmt: skip
    log.add(T0 + 9, "order.frozen", "order", "ofz", subjects=40, threshold=30)
    got = {(a.scope, a.value): a for a in run(log, T0, orders)}
    assert got["officer_approvals", "staff:h"].counts["residents"] == 24
    assert got["city_approvals", "city"].counts["orders"] == 4
    assert got["order", "ofz"].counts["residents"] == 40
    refused = Log()  # refused attempts are not orders
    for i in range(10):
        refused.add(T0 + i, "order.proposed", "order", "none", ("tracer", "staff:x"),
                    outcome="refused:quota")  # fmt: skip
    assert run(refused, T0) == []


def test_order_based_reds_clustering_on_an_officer_a_minute_a_district() -> None:
    log = Log()
    orders = {"oz": OrderInfo("staff:zz", 8, T0), "ok": OrderInfo("staff:other", 1, T0)}
    for i in range(6):
        log.change(T0 + 5, f"c:z{i}", "red", "order:oz", 1, role="health_officer", by="staff:h")
    log.change(T0 + 5, "c:k0", "red", "order:ok", 1, role="health_officer", by="staff:h")
    for i in range(3):  # a few exposure-based reds in the same hour
        log.change(T0 + 100 + i, f"c:r{i}", "red", "default@1#close", 1)
    districts = {f"c:z{i}": as_token("金水区") for i in range(5)}
    found = run(log, T0, orders, districts)
    got = {(a.scope, a.value): a for a in found if a.detector == CLUSTER}
    assert set(got) == {
        ("officer", "staff:zz"),  # the proposer of the order
        ("minute", minute_of_day(T0 + 5)),
        ("district", as_token("金水区")),
    }
    by_officer = got["officer", "staff:zz"]
    assert by_officer.counts["people"] == 6
    assert by_officer.counts["by_order"] == 7
    district = next(a for a in found if a.scope == "district")
    assert from_token(district.value) == "金水区"


def test_exposure_based_reds_never_cluster() -> None:
    log = Log()
    for i in range(50):  # an outbreak at one venue: all in one minute, all rule-based
        log.change(T0, f"c:{i}", "red", "default@1#close", 2, role="tracer", by="staff:t")
    assert run(log, T0) == []


def test_a_cluster_below_the_share_is_not_flagged() -> None:
    log = Log()
    orders = {"oz": OrderInfo("staff:zz", 5, T0)}
    for i in range(6):  # an outbreak is under way ...
        log.change(T0 - 1000 + i, f"c:r{i}", "red", "default@1#close", 1)
    for i in range(5):  # ... and a few orders fall in the same hour
        log.change(T0 + i * 60, f"c:z{i}", "red", "order:oz", 1, role="health_officer", by="s")
    assert [a for a in run(log, T0, orders) if a.scope == "officer"] == []  # 5 of 11 < 50 %


def test_events_before_since_are_context_only() -> None:
    log = Log()
    for i in range(3):
        propose(log, T0 + i, "staff:a", f"o{i}", 1)
    assert run(log, T0 + 10) == []  # the burst ended before `since`: an earlier run saw it
    propose(log, T0 + 20, "staff:a", "o9", 1)  # a fourth within the window: flagged now
    assert [a.scope for a in run(log, T0 + 10)] == ["officer_proposals"]


def test_alert_round_trip_and_tokens() -> None:
    alert = Alert(CLUSTER, "district", as_token("郑州东站片区"), T0, T0 + 60, {"people": 9})
    log = Log()
    log.flagged(T0 + 60, [alert])
    back = alert_of(log.entries[0])
    assert back is not None
    assert back.key == alert.key
    assert back.counts == {"people": 9}
    assert from_token(back.value) == "郑州东站片区"
    assert as_token("jinshui") == "jinshui"
    assert len(as_token("区" * 100)) <= 96
