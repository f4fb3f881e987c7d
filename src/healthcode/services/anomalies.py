"""The anomaly watch: a periodic scan of the public log that flags colour changes without an
epidemiological link, bursts of manual orders, and yellow or red codes that cluster on an officer,
a minute or a district instead of on exposure (domain/anomalies.py).

Alerts are themselves entries on the public log (`anomaly.flagged`, actor system, purpose
`anomaly_watch`, details: detector, scope, value, window and counts; never a resident), so the
auditor reads them from the log (`alerts`) and the public sees them, and the transparency report
counts them. No table remembers anything: a run reads the entries of the last windows (found by
time), earlier alerts among them included, and does not flag again what they flagged.

`watch` is cheap enough to run every few minutes: it reads only the entries since
`since − window` (about log2(size) reads to find where that starts), and looks up only the
orders and rule sets those entries name.
"""

from __future__ import annotations

from healthcode.domain.anomalies import (
    ACTION,
    BASIS,
    OBJECT_KIND,
    PURPOSE,
    Alert,
    OrderInfo,
    alert_of,
    basis_of,
    changes,
    detect,
    order_id_of,
)
from healthcode.domain.audit import SYSTEM, LogEntry, commitment
from healthcode.domain.errors import InvalidInput
from healthcode.domain.orders import ManualOrder
from healthcode.domain.published import DAY, PublicEntry, as_token, parse_entry
from healthcode.services.context import ServiceContext
from healthcode.services.ports import UnitOfWork
from healthcode.services.rulebook import parsed

BATCH = 5000
ALERTS_MAX_DAYS = 31


def read_since(uow: UnitOfWork, start_time: int, end_time: int | None = None) -> list[PublicEntry]:
    """The log's entries from `start_time` (inclusive) to `end_time` (exclusive), in order."""
    start = uow.log.first_at(start_time)
    end = uow.log.size() if end_time is None else uow.log.first_at(end_time)
    out: list[PublicEntry] = []
    for lo in range(start, end, BATCH):
        out += [
            parse_entry(seq, text) for seq, text, _ in uow.log.entries(lo, min(end, lo + BATCH))
        ]
    return out


def _order_info(order: ManualOrder) -> OrderInfo:
    return OrderInfo(f"staff:{order.proposed_by}", order.subject_count, order.starts_at)


def _orders(uow: UnitOfWork, entries: list[PublicEntry]) -> dict[str, OrderInfo]:
    """The orders the entries name (as objects, or as the rule of a colour change)."""
    ids = {e.object_ref for e in entries if e.object_kind == "order"}
    ids |= {i for e in changes(entries) if (i := order_id_of(e.text("rule"))) is not None}
    found: dict[str, OrderInfo] = {}
    for order_id in sorted(ids):
        order = uow.orders.get(order_id)
        if order is not None:
            found[order_id] = _order_info(order)
    return found


def _known_rules(uow: UnitOfWork) -> set[str]:
    """Every rule reference of every published rule set (a change logged under a rule set
    that was active then stays linked after a newer one is activated)."""
    refs: set[str] = set()
    for stored in uow.rulesets.all():
        ruleset = parsed(stored)
        refs |= {ruleset.ref(rule.rule_id) for rule in ruleset.rules}
    return refs


def _districts(
    uow: UnitOfWork, entries: list[PublicEntry], orders: dict[str, OrderInfo]
) -> dict[str, str]:
    """For the people coloured by an order among `entries`: commitment → the district of the
    venue of their latest exposure, if they have one (as a token). Found through the orders'
    own lists of people, so no one else is looked at."""
    wanted: dict[str, set[str]] = {}
    for e in changes(entries):
        order_id = order_id_of(e.text("rule"))
        if order_id in orders and basis_of(e, None, orders) == "order":
            wanted.setdefault(order_id, set()).add(e.object_ref)
    out: dict[str, str] = {}
    venues: dict[str, str | None] = {}
    for order_id, refs in wanted.items():
        people = [s.subject_id for s in uow.orders.subjects_of(order_id)]
        keys = uow.vault.commit_keys(people)
        mine = {s: c for s in people if s in keys and (c := commitment(keys[s], s)) in refs}
        for subject_id, found in uow.exposures.of_subjects(list(mine)).items():
            if not found:
                continue
            latest = max(found, key=lambda x: x.start)
            if latest.venue_id not in venues:
                venue = uow.venues.get(latest.venue_id)
                venues[latest.venue_id] = venue.draft.district if venue else None
            district = venues[latest.venue_id]
            if district:
                out[mine[subject_id]] = as_token(district)
    return out


def watch(ctx: ServiceContext, since: int | None = None) -> list[Alert]:
    """Scan the log for events at or after `since` (default: two windows ago, so a watch run
    every few minutes, or one that missed a window, sees every event) and append an
    `anomaly.flagged` entry per new alert, all in one transaction. Returns the new alerts with
    their sequence numbers. Rerunning flags nothing twice."""
    now = ctx.clock.now()
    t = ctx.anomalies
    start = now - 2 * t.window_seconds if since is None else since
    with ctx.uow() as uow:
        uow.log.lock()  # no second watch (or append) between reading and flagging
        entries = read_since(uow, start - t.window_seconds)
        orders = _orders(uow, entries)
        alerts = detect(
            entries, start, t, _known_rules(uow), orders, _districts(uow, entries, orders)
        )
        if not alerts:
            return []
        flagged = [
            LogEntry(ACTION, SYSTEM, OBJECT_KIND, a.detector, PURPOSE, BASIS, details=a.details())
            for a in alerts
        ]
        seqs = uow.log.append_many_sequenced(flagged, now)
        uow.commit()
    return [
        Alert(a.detector, a.scope, a.value, a.window_start, a.window_end, a.counts, seq, now)
        for a, seq in zip(alerts, seqs, strict=True)
    ]


def alerts(ctx: ServiceContext, since: int | None = None) -> list[Alert]:
    """The alerts on the log flagged at or after `since` (default: the last 24 hours; at most
    31 days back), oldest first, read from their `anomaly.flagged` entries. Public data: the
    same entries are in every log export."""
    now = ctx.clock.now()
    start = now - DAY if since is None else since
    if start < now - ALERTS_MAX_DAYS * DAY:
        raise InvalidInput(
            "alerts go back at most %(alerts_max_days)s days",
            field="since",
            params={"alerts_max_days": ALERTS_MAX_DAYS},
        )
    with ctx.uow(read_only=True) as uow:
        entries = read_since(uow, start)
    return [a for a in (alert_of(e) for e in entries if e.action == ACTION) if a is not None]
