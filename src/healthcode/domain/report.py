"""The transparency report: per day of the city's calendar (its time zone, named in the report),
what the public log shows, counted and with small counts of people suppressed.

Every number but one comes from the log entries alone (domain/published.py), so anyone holding a
log export (`healthcode audit verify` checks it) can recompute the report and compare: the same
entries give the same numbers. The exception is the current number of yellow and red codes,
a snapshot of the remembered statuses on the latest day, which no log prefix holds.

Per day:
- colour changes (`status.changed`), by target colour and basis as logged: `to_green`,
  `yellow_rule`, `yellow_order`, `red_rule`, `red_order`, and their total;
- manual orders, by step (`order.*` with outcome ok) and refused attempts;
- appeals filed, granted, upheld and lapsed;
- trace runs (`case.traced`), reads of personal data (`personal_data.read`) and refused
  attempts (`access.refused`);
- anomaly alerts (`anomaly.flagged`) by detector;
- lab results by lab (`lab_results.imported`): results, positives, positives with no
  registered sample, positives for people with no epidemiological link.

Suppression. Counts of *people* (colour changes, appeals, current colours) from 1 to 9 are
published as null, with the cell's name listed as suppressed; 0 stays 0. A group that publishes
a total would give a single suppressed cell away by subtraction (and several, when they add up
to their own number), so a total is published only when no cell of its group is suppressed.
A cell of 10 or more is never hidden, by this or any other rule: hiding the 200 people turned
red next to 3 who turned green is what an abuser would want. The cells of a group never overlap
and no two groups count the same people, so no other sum reveals a cell. Counts of *official
acts* (orders, staff changes, trace runs, reads, refusals of every kind, lab results per lab,
alerts) are never suppressed: each is already a public entry of its own, they name no resident,
and hiding "3 manual orders" is what the report exists to prevent.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from healthcode.domain.anomalies import ACTION as ANOMALY_ACTION
from healthcode.domain.anomalies import DETECTORS, NON_GREEN, order_id_of
from healthcode.domain.calendar import day_start
from healthcode.domain.published import PublicEntry

THRESHOLD = 10  # counts of people from 1 to THRESHOLD - 1 are suppressed
CHANGE_CELLS = ("to_green", "yellow_rule", "yellow_order", "red_rule", "red_order")
APPEAL_CELLS = ("filed", "granted", "upheld", "lapsed")
ORDER_STEPS = (
    "proposed", "approved", "frozen", "released", "release_refused", "rejected", "revoked",
    "expired",
)  # fmt: skip
CURRENT_CELLS = ("yellow", "red")
STAFF_STEPS = ("change_requested", "created", "role_changed", "enabled", "disabled",
               "change_refused")  # fmt: skip
LAB_CELLS = ("imported", "positives", "unrequested", "unlinked")
LAB_ACTION = "lab_results.imported"


@dataclass(frozen=True, slots=True)
class Group:
    """Counts of people, suppressed: a cell is an int, or None for "1 to 9" (or hidden so that
    another could not be recovered); `suppressed` names the cells (and "total") that are None."""

    cells: dict[str, int | None]
    total: int | None = None
    has_total: bool = False
    suppressed: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = dict(self.cells)
        if self.has_total:
            out["total"] = self.total
        out["suppressed"] = list(self.suppressed)
        return out


def small(count: int) -> bool:
    return 0 < count < THRESHOLD


def suppress(counts: Mapping[str, int], *, with_total: bool = False) -> Group:
    """Counts of people from 1 to 9 become null; with a total, the total is published only if
    no cell is null (so no null follows by subtraction). Cells of 10 or more always show."""
    cells: dict[str, int | None] = {k: (None if small(v) else v) for k, v in counts.items()}
    hidden = tuple(k for k, v in cells.items() if v is None)
    if not with_total:
        return Group(cells, None, False, hidden)
    total = sum(counts.values())
    if hidden or small(total):
        return Group(cells, None, True, (*hidden, "total"))
    return Group(cells, total, True, hidden)


@dataclass(slots=True)
class DayCounts:
    """One day of the log, counted (nothing suppressed yet)."""

    start: int
    changes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANGE_CELLS, 0))
    appeals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(APPEAL_CELLS, 0))
    orders: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys((*ORDER_STEPS, "refused"), 0)
    )
    trace_runs: int = 0
    personal_data_reads: int = 0
    access_refused: int = 0
    anomaly_alerts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DETECTORS, 0))
    staff: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAFF_STEPS, 0))
    staff_created: dict[str, int] = field(default_factory=dict)  # by role
    refusals: dict[str, int] = field(default_factory=dict)  # every refused attempt, by kind
    labs: dict[str, dict[str, int]] = field(default_factory=dict)  # lab code -> LAB_CELLS


def _count_lab(day: DayCounts, e: PublicEntry) -> None:
    """A lab's results are its own acts, not people's: never suppressed."""
    lab = e.text("lab") or e.object_ref
    cells = day.labs.setdefault(lab, dict.fromkeys(LAB_CELLS, 0))
    for cell in LAB_CELLS:
        cells[cell] += e.number(cell) or 0


def _change_cell(e: PublicEntry) -> str | None:
    to = e.text("to")
    if to == "green":
        return "to_green"
    if to not in NON_GREEN:
        return None
    basis = "order" if order_id_of(e.text("rule")) is not None else "rule"
    return f"{to}_{basis}"


def _count_staff(day: DayCounts, e: PublicEntry) -> None:
    step = e.action.removeprefix("staff.")
    if e.ok and step in day.staff:
        day.staff[step] += 1
        if step == "created":
            role = e.text("role")
            day.staff_created[role] = day.staff_created.get(role, 0) + 1


def count_day(day: DayCounts, e: PublicEntry) -> None:
    action = e.action
    if not e.ok:  # every refusal, of any kind, is counted (and never hidden)
        family = action.partition(".")[0]
        day.refusals[family] = day.refusals.get(family, 0) + 1
    if action.startswith("staff."):
        _count_staff(day, e)
    elif action == "status.changed" and e.ok:
        cell = _change_cell(e)
        if cell is not None:
            day.changes[cell] += 1
    elif action.startswith("order.") and e.object_kind == "order":
        step = action.removeprefix("order.")
        if not e.ok:
            day.orders["refused"] += 1
        elif step in day.orders:
            day.orders[step] += 1
    elif action == "appeal.filed" and e.ok:
        day.appeals["filed"] += 1
    elif action == "appeal.decided" and e.ok:
        outcome = e.text("outcome")
        if outcome in day.appeals:
            day.appeals[outcome] += 1
    elif action == "appeal.lapsed" and e.ok:
        day.appeals["lapsed"] += 1
    elif action == "case.traced" and e.ok:
        day.trace_runs += 1
    elif action == "personal_data.read" and e.ok:
        day.personal_data_reads += 1
    elif action == "access.refused":
        day.access_refused += 1
    elif action == LAB_ACTION and e.ok:
        _count_lab(day, e)
    elif action == ANOMALY_ACTION:
        detector = e.text("detector")
        day.anomaly_alerts[detector] = day.anomaly_alerts.get(detector, 0) + 1


def count_days(entries: Iterable[PublicEntry], starts: Sequence[int], end: int) -> list[DayCounts]:
    """The entries of the days that begin at `starts` (ascending; the last ends at `end`),
    counted day by day."""
    out = [DayCounts(start) for start in starts]
    for e in entries:
        if starts and starts[0] <= e.time < end:
            count_day(out[bisect_right(starts, e.time) - 1], e)
    return out


@dataclass(frozen=True, slots=True)
class DayReport:
    day: str  # YYYY-MM-DD, the city's calendar
    start: int  # its first second
    colour_changes: Group
    appeals: Group
    orders: dict[str, int]
    trace_runs: int
    personal_data_reads: int
    access_refused: int
    anomaly_alerts: dict[str, int]
    staff: dict[str, int] = field(default_factory=dict)
    staff_created: dict[str, int] = field(default_factory=dict)
    refusals: dict[str, int] = field(default_factory=dict)
    labs: dict[str, dict[str, int]] = field(default_factory=dict)
    current_colours: Group | None = None  # the latest day only: a snapshot, not from the log
    current_staff: dict[str, int] | None = None  # the latest day only: active accounts by role

    def as_dict(self) -> dict[str, object]:
        return {
            "day": self.day,
            "start": self.start,
            "colour_changes": self.colour_changes.as_dict(),
            "appeals": self.appeals.as_dict(),
            "orders": dict(self.orders),
            "trace_runs": self.trace_runs,
            "personal_data_reads": self.personal_data_reads,
            "access_refused": self.access_refused,
            "anomaly_alerts": dict(self.anomaly_alerts),
            "staff": dict(self.staff),
            "staff_created_by_role": dict(self.staff_created),
            "refusals": dict(self.refusals),
            "lab_results": {lab: dict(cells) for lab, cells in self.labs.items()},
            "current_colours": self.current_colours.as_dict() if self.current_colours else None,
            "current_staff": dict(self.current_staff) if self.current_staff is not None else None,
        }


def day_report(
    counts: DayCounts,
    day: str,
    current: Mapping[str, int] | None = None,
    staff: Mapping[str, int] | None = None,
) -> DayReport:
    return DayReport(
        day,
        counts.start,
        suppress(counts.changes, with_total=True),
        suppress(counts.appeals),
        dict(counts.orders),
        counts.trace_runs,
        counts.personal_data_reads,
        counts.access_refused,
        dict(counts.anomaly_alerts),
        dict(counts.staff),
        dict(sorted(counts.staff_created.items())),
        dict(sorted(counts.refusals.items())),
        {lab: dict(cells) for lab, cells in sorted(counts.labs.items())},
        suppress({c: current.get(c, 0) for c in CURRENT_CELLS}) if current is not None else None,
        dict(sorted(staff.items())) if staff is not None else None,
    )


@dataclass(frozen=True, slots=True)
class Report:
    """The report over log entries [first_seq, log_size): recompute it from an export cut at
    `log_size` (all but `current_colours`)."""

    generated_at: int
    first_seq: int
    log_size: int
    threshold: int
    days: list[DayReport]
    timezone: str  # the city's: where its days begin and end

    def as_dict(self) -> dict[str, object]:
        return {
            "format": "healthcode-transparency-report/2",
            "timezone": self.timezone,
            "generated_at": self.generated_at,
            "first_seq": self.first_seq,
            "log_size": self.log_size,
            "suppression": {
                "threshold": self.threshold,
                "rule": "counts of people from 1 to threshold-1 are null; where a group has a "
                "total, the total is null whenever a cell is, so no cell follows by "
                "subtraction; a count of threshold or more is never null; counts of official "
                "acts are never null",
            },
            "days": [d.as_dict() for d in self.days],
        }


def build_report(
    entries: Iterable[PublicEntry],
    *,
    first_day: date,
    days: int,
    zone: str,
    generated_at: int,
    first_seq: int,
    log_size: int,
    current: Mapping[str, int] | None = None,
    staff: Mapping[str, int] | None = None,
) -> Report:
    """The report of `days` days of the city's calendar (time zone `zone`) from `first_day`; the
    snapshots (`current` colour counts, active `staff` by role) go on the last."""
    dates = [first_day + timedelta(days=i) for i in range(days)]
    starts = [day_start(zone, d) for d in dates]
    counted = count_days(entries, starts, day_start(zone, first_day + timedelta(days=days)))
    last = len(counted) - 1
    reports = [
        day_report(c, dates[i].isoformat(), current if i == last else None,
                   staff if i == last else None)
        for i, c in enumerate(counted)
    ]  # fmt: skip
    return Report(generated_at, first_seq, log_size, THRESHOLD, reports, zone)
