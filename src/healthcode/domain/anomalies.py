"""The anomaly watch: patterns on the public log that suggest colours used against people rather
than against the epidemic (Zhengzhou, June 2022: 1,317 depositors' codes turned red to stop a
protest, with no exposure behind any of them).

Three detectors read log entries only (domain/published.py), plus three lookups the log points
at (which rule references were published, what an order is, which district a person's
exposures were in):

- `unlinked_change`: a `status.changed` to yellow or red whose basis is neither a published rule
  with evidence behind it nor an order that took effect. Nothing in the code writes one: it
  means an entry was forged or a colour was written around the services.
- `order_burst`: manual orders in a sliding window above a threshold, per proposing officer and
  city-wide (orders proposed, and orders approved), and any single order naming more residents
  than a threshold (frozen or not).
- `non_health_cluster`: yellow and red changes resting on a manual order (no exposure, no test)
  that concentrate on one officer, one minute of the day or one district: at least
  `cluster_min_people` people and at least `cluster_share_percent` % of all yellow and red
  changes of the window, or `cluster_absolute_people` of them whatever their share (timing mass
  orders inside a wave of rule-based changes dilutes the share, never the count).
- `rule_cluster`: a rule set activated although the colours it changed concentrate on one venue,
  district or hour (an auditor approved it), or that turned more than `rule_wave_people`
  people yellow or red at once: read from the `ruleset.activated` entry.
- `lab_surge`: one lab's positives in a window above `lab_positives`, or its positives that
  answer no registered sample above `lab_unrequested`, or those for people with no
  epidemiological link above `lab_unlinked`: read from its `lab_results.imported` entries.

An alert is explainable and carries no personal data: detector, window, scope, the attribute's
value only when it is not a person (a staff pseudonym, a district, a minute, an order id, "city")
and counts. Windows slide: a window is (end − window, end], ending at an event. The same
detector, scope and value are flagged again only for a window that does not overlap the one
already flagged, so a sustained burst gives one alert per window length and a rerun none.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from healthcode.domain.published import PublicEntry

ACTION = "anomaly.flagged"
OBJECT_KIND = "anomaly"
PURPOSE = "anomaly_watch"
BASIS = "public_oversight"

UNLINKED = "unlinked_change"
ORDER_BURST = "order_burst"
CLUSTER = "non_health_cluster"
RULE_CLUSTER = "rule_cluster"
LAB_SURGE = "lab_surge"
DETECTORS = (UNLINKED, ORDER_BURST, CLUSTER, RULE_CLUSTER, LAB_SURGE)

NON_GREEN = frozenset({"yellow", "red"})
ORDER_PREFIX = "order:"


@dataclass(frozen=True, slots=True)
class Thresholds:
    window_seconds: int = 3600
    officer_orders: int = 3  # one officer's orders (proposed, or approved) in a window, above:
    officer_residents: int = 50  # ... or the residents named in them
    city_orders: int = 10  # all officers' orders in a window, above:
    city_residents: int = 100  # ... or the residents named in them
    order_residents: int = 50  # one order naming more residents than this
    cluster_min_people: int = 20  # order-based yellow/red changes on one attribute, at least
    cluster_share_percent: int = 50  # ... and this share of all yellow/red changes of the window
    cluster_absolute_people: int = 100  # ... or this many, whatever their share
    rule_wave_people: int = 500  # one rule activation turning more yellow or red than this
    lab_positives: int = 200  # one lab's positives in a window, above:
    lab_unrequested: int = 20  # ... or its positives with no registered sample
    lab_unlinked: int = 100  # ... or its positives for people with no epidemiological link


@dataclass(frozen=True, slots=True)
class OrderInfo:
    """What the watch needs to know of an order the log names."""

    proposer: str  # the staff pseudonym, "staff:<id>"
    residents: int
    activated_at: int | None  # None: it never took effect


@dataclass(frozen=True, slots=True)
class Alert:
    detector: str
    scope: str  # change | officer_proposals | officer_approvals | city_proposals |
    #             city_approvals | order | officer | minute | district
    value: str  # a token: staff pseudonym, order id, "hh:mm", district (domain/published.as_token)
    window_start: int
    window_end: int
    counts: dict[str, int] = field(default_factory=dict)
    seq: int | None = None  # of its `anomaly.flagged` entry, once on the log
    time: int | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.detector, self.scope, self.value)

    def details(self) -> dict[str, str | int]:
        out: dict[str, str | int] = {
            "detector": self.detector,
            "scope": self.scope,
            "value": self.value,
            "window_start": self.window_start,
            "window_end": self.window_end,
        }
        out.update(self.counts)
        return out


_FIXED = frozenset({"detector", "scope", "value", "window_start", "window_end"})


def alert_of(entry: PublicEntry) -> Alert | None:
    """An alert read back from its log entry."""
    if entry.action != ACTION:
        return None
    counts = {
        k: v
        for k, v in entry.details.items()
        if k not in _FIXED and isinstance(v, int) and not isinstance(v, bool)
    }
    return Alert(
        entry.text("detector"),
        entry.text("scope"),
        entry.text("value"),
        entry.number("window_start"),
        entry.number("window_end"),
        counts,
        entry.seq,
        entry.time,
    )


# -- reading colour changes -----------------------------------------------------------------------


def order_id_of(rule_ref: str) -> str | None:
    return rule_ref[len(ORDER_PREFIX) :] if rule_ref.startswith(ORDER_PREFIX) else None


def basis_of(
    entry: PublicEntry, known_rules: Iterable[str] | None, orders: Mapping[str, OrderInfo]
) -> str:
    """'rule', 'order' or 'unlinked' for a change to yellow or red; 'rule' when `known_rules`
    is None (the report does not check rules); 'green' for a change to green."""
    if entry.text("to") not in NON_GREEN:
        return "green"
    ref = entry.text("rule")
    evidence = entry.number("evidence")
    order_id = order_id_of(ref)
    if order_id is not None:
        order = orders.get(order_id)
        took_effect = order is not None and order.activated_at is not None
        if known_rules is None or (took_effect and evidence > 0):
            return "order"
        return "unlinked"
    if known_rules is None:
        return "rule"
    known = known_rules if isinstance(known_rules, set | frozenset) else set(known_rules)
    return "rule" if ref in known and evidence > 0 else "unlinked"


def changes(entries: Iterable[PublicEntry]) -> list[PublicEntry]:
    return [e for e in entries if e.action == "status.changed" and e.ok]


def minute_of_day(time: int) -> str:
    minute = time % 86400 // 60
    return f"{minute // 60:02d}:{minute % 60:02d}"


# -- sliding windows ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Series:
    """Events of one key in time order, each with weights, for sums over (t − w, t]."""

    times: list[int] = field(default_factory=list)
    weights: list[dict[str, int]] = field(default_factory=list)

    def add(self, time: int, **weights: int) -> None:
        self.times.append(time)
        self.weights.append(weights)

    def ordered(self) -> _Series:
        order = sorted(range(len(self.times)), key=lambda i: self.times[i])
        return _Series([self.times[i] for i in order], [self.weights[i] for i in order])

    def sums(self, end: int, window: int) -> dict[str, int]:
        lo = bisect.bisect_right(self.times, end - window)
        hi = bisect.bisect_right(self.times, end)
        total: dict[str, int] = defaultdict(int)
        for w in self.weights[lo:hi]:
            for k, v in w.items():
                total[k] += v
        return dict(total)

    def first_in(self, end: int, window: int, after: int | None = None) -> int:
        """The time of the first event in (end − window, end] (there is one at `end`), and at
        or after `after` if given."""
        lo = bisect.bisect_right(self.times, end - window)
        if after is not None:
            lo = max(lo, bisect.bisect_left(self.times, after))
        return self.times[lo]

    def ends(self, since: int) -> list[int]:
        """The distinct event times at or after `since`: where windows are evaluated."""
        return sorted({t for t in self.times if t >= since})


class _Flagged:
    """What is already on the log, and what this run adds: no overlapping re-flag."""

    def __init__(self, previous: Iterable[Alert]) -> None:
        self.until: dict[tuple[str, str, str], int] = {}
        for a in previous:
            self.until[a.key] = max(self.until.get(a.key, a.window_end), a.window_end)
        self.new: list[Alert] = []

    def free(self, key: tuple[str, str, str], start: int) -> bool:
        last = self.until.get(key)
        return last is None or start >= last

    def after(self, key: tuple[str, str, str]) -> int | None:
        """Events before this time were already flagged under `key`."""
        return self.until.get(key)

    def flag(self, alert: Alert) -> None:
        self.until[alert.key] = alert.window_end
        self.new.append(alert)


def _burst(
    flagged: _Flagged,
    series: Mapping[str, _Series],
    scope: str,
    since: int,
    window: int,
    max_orders: int,
    max_residents: int,
) -> None:
    for value in sorted(series):
        events = series[value].ordered()
        for end in events.ends(since):
            key = (ORDER_BURST, scope, value)
            done = flagged.after(key)
            if done is not None and done > end:
                continue
            start = events.first_in(end, window, done)  # unflagged events only
            got = events.sums(end, end - start + 1)
            if got.get("orders", 0) <= max_orders and got.get("residents", 0) <= max_residents:
                continue
            if flagged.free(key, start):
                # The window from its first event: everything of it known so far is counted.
                got = events.sums(start + window - 1, window)
                orders, residents = got.get("orders", 0), got.get("residents", 0)
                counts = {
                    "orders": orders,
                    "residents": residents,
                    "limit_orders": max_orders,
                    "limit_residents": max_residents,
                }
                flagged.flag(Alert(ORDER_BURST, scope, value, start, start + window, counts))


# -- the detectors --------------------------------------------------------------------------------


def detect(
    entries: list[PublicEntry],
    since: int,
    t: Thresholds,
    known_rules: set[str],
    orders: Mapping[str, OrderInfo],
    districts: Mapping[str, str],
) -> list[Alert]:
    """The new alerts among `entries` (in log order), for events at or after `since`.
    `entries` should start a window before `since`, so that windows are full and earlier alerts
    are seen. `districts` maps a person's commitment to the district of their latest exposure
    (only needed for people coloured by an order)."""
    w = t.window_seconds
    flagged = _Flagged(a for a in (alert_of(e) for e in entries) if a is not None)
    found = changes(entries)

    # 1. unlinked_change: per entry, not windowed; an entry is flagged once (by its seq).
    last_seen = max(
        (a.counts.get("last_seq", -1) for a in _previous(entries, UNLINKED)), default=-1
    )
    unlinked = [
        e
        for e in found
        if e.time >= since and e.seq > last_seen and basis_of(e, known_rules, orders) == "unlinked"
    ]
    if unlinked:
        counts = {
            "changes": len(unlinked),
            "first_seq": unlinked[0].seq,
            "last_seq": unlinked[-1].seq,
        }
        start, end = unlinked[0].time, unlinked[-1].time
        flagged.flag(Alert(UNLINKED, "change", "status_changed", start, end, counts))

    # 2. order_burst
    proposals: dict[str, _Series] = defaultdict(_Series)
    approvals: dict[str, _Series] = defaultdict(_Series)
    big: dict[str, tuple[int, int]] = {}
    for e in entries:
        if not e.ok or e.object_kind != "order":
            continue
        if e.action == "order.proposed":
            residents = e.number("subjects")
            proposals[e.actor_ref].add(e.time, orders=1, residents=residents)
            proposals["city"].add(e.time, orders=1, residents=residents)
            if residents > t.order_residents:
                big.setdefault(e.object_ref, (e.time, residents))
        elif e.action == "order.approved":
            info = orders.get(e.object_ref)
            residents = info.residents if info else 0
            approvals[e.actor_ref].add(e.time, orders=1, residents=residents)
            approvals["city"].add(e.time, orders=1, residents=residents)
        elif e.action == "order.frozen" and e.number("subjects") > t.order_residents:
            big.setdefault(e.object_ref, (e.time, e.number("subjects")))
    for step, by_key in (("proposals", proposals), ("approvals", approvals)):
        city = {"city": by_key.pop("city")} if "city" in by_key else {}
        _burst(flagged, by_key, f"officer_{step}", since, w, t.officer_orders,
               t.officer_residents)  # fmt: skip
        _burst(flagged, city, f"city_{step}", since, w, t.city_orders, t.city_residents)
    for order_id, (time, residents) in sorted(big.items(), key=lambda kv: kv[1][0]):
        key = (ORDER_BURST, "order", order_id)
        if time >= since and key not in flagged.until:
            counts = {"residents": residents, "limit_residents": t.order_residents}
            flagged.flag(Alert(ORDER_BURST, "order", order_id, time, time, counts))

    # 3. non_health_cluster
    coloured = [e for e in found if e.text("to") in NON_GREEN]
    all_times = sorted(e.time for e in coloured)
    by_attr: dict[tuple[str, str], _Series] = defaultdict(_Series)
    order_based = _Series()
    for e in coloured:
        if basis_of(e, known_rules, orders) != "order":
            continue
        order_based.add(e.time, people=1)
        info = orders[order_id_of(e.text("rule")) or ""]  # "order" means it is known
        by_attr["officer", info.proposer].add(e.time, people=1)  # who chose the people
        by_attr["minute", minute_of_day(e.time)].add(e.time, people=1)
        district = districts.get(e.object_ref)
        if district:
            by_attr["district", district].add(e.time, people=1)
    order_based = order_based.ordered()
    for (scope, value), unordered in sorted(by_attr.items()):
        series = unordered.ordered()
        key = (CLUSTER, scope, value)
        for end in series.ends(since):
            done = flagged.after(key)
            if done is not None and done > end:
                continue
            start = series.first_in(end, w, done)  # unflagged events only
            people = series.sums(end, end - start + 1).get("people", 0)
            reds = _cluster(series, all_times, end, w)[1]  # all of the window
            diluted = people * 100 < t.cluster_share_percent * reds
            if people < t.cluster_min_people or (diluted and people < t.cluster_absolute_people):
                continue
            if flagged.free(key, start):
                later, later_reds = _cluster(series, all_times, start + w - 1, w)
                if later * 100 >= t.cluster_share_percent * later_reds:  # still concentrated
                    end, people, reds = start + w - 1, later, later_reds
                counts = {
                    "people": people,
                    "coloured": reds,
                    "by_order": order_based.sums(end, w).get("people", 0),
                    "share_percent": people * 100 // max(reds, 1),
                    "limit_people": t.cluster_min_people,
                    "limit_share_percent": t.cluster_share_percent,
                }
                flagged.flag(Alert(CLUSTER, scope, value, start, start + w, counts))
    _rule_clusters(flagged, entries, since, t)
    _lab_surges(flagged, entries, since, t)
    return flagged.new


def _rule_clusters(
    flagged: _Flagged, entries: list[PublicEntry], since: int, t: Thresholds
) -> None:
    """Activations whose new colours concentrate on one venue, district or hour, or come as a
    wave: one alert per activation entry."""
    for e in entries:
        if e.action != "ruleset.activated" or not e.ok or e.time < since:
            continue
        dimension = e.text("concentrated")
        coloured = e.number("coloured")
        scope = dimension if dimension else ("wave" if coloured > t.rule_wave_people else "")
        key = (RULE_CLUSTER, scope, e.object_ref)
        if scope and key not in flagged.until:
            counts = {"coloured": coloured, "people": e.number("concentrated_people") or coloured,
                      "limit_people": t.rule_wave_people, "seq_activated": e.seq}  # fmt: skip
            flagged.flag(Alert(RULE_CLUSTER, scope, e.object_ref, e.time, e.time, counts))


def _lab_surges(flagged: _Flagged, entries: list[PublicEntry], since: int, t: Thresholds) -> None:
    """A lab whose positives, unrequested positives or unlinked positives in a window are above
    their limits: flagged once per window, as order bursts are."""
    series: dict[str, _Series] = defaultdict(_Series)
    for e in entries:
        if e.action == "lab_results.imported" and e.ok and e.object_ref.startswith("lab:"):
            series[e.object_ref].add(e.time, positives=e.number("positives"),
                                     unrequested=e.number("unrequested"),
                                     unlinked=e.number("unlinked"))  # fmt: skip
    w = t.window_seconds
    limits = {"positives": t.lab_positives, "unrequested": t.lab_unrequested,
              "unlinked": t.lab_unlinked}  # fmt: skip
    for lab in sorted(series):
        events = series[lab].ordered()
        key = (LAB_SURGE, "lab", lab)
        for end in events.ends(since):
            done = flagged.after(key)
            if done is not None and done > end:
                continue
            start = events.first_in(end, w, done)
            got = events.sums(end, end - start + 1)
            if all(got.get(k, 0) <= limit for k, limit in limits.items()):
                continue
            if flagged.free(key, start):
                counts = {**{k: got.get(k, 0) for k in limits},
                          **{f"limit_{k}": v for k, v in limits.items()}}  # fmt: skip
                flagged.flag(Alert(LAB_SURGE, "lab", lab, start, start + w, counts))


def _cluster(series: _Series, all_times: list[int], end: int, window: int) -> tuple[int, int]:
    """(people of this attribute, all yellow and red changes) in (end − window, end]."""
    people = series.sums(end, window).get("people", 0)
    lo = bisect.bisect_right(all_times, end - window)
    return people, bisect.bisect_right(all_times, end) - lo


def _previous(entries: Iterable[PublicEntry], detector: str) -> list[Alert]:
    found = (alert_of(e) for e in entries)
    return [a for a in found if a is not None and a.detector == detector]
