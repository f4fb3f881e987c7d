"""The transparency report's arithmetic: counts of people from 1 to 9 are suppressed, no
suppressed cell can be recovered by subtraction, official acts are counted in full, and the
report is a function of the log entries alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from healthcode.domain.audit import SYSTEM, LogEntry, canonical_entry
from healthcode.domain.calendar import day_in
from healthcode.domain.published import DAY, PublicEntry, parse_entry
from healthcode.domain.report import build_report, suppress

T0 = 1_794_960_000  # a UTC midnight
DAY0 = datetime.fromtimestamp(T0, UTC).date()  # its day
DAY1 = DAY0 + timedelta(days=1)
assert T0 % DAY == 0


def test_small_counts_are_suppressed_and_zero_stays_zero() -> None:
    g = suppress({"a": 0, "b": 1, "c": 9, "d": 10, "e": 250})
    assert g.cells == {"a": 0, "b": None, "c": None, "d": 10, "e": 250}
    assert g.suppressed == ("b", "c")
    assert not g.has_total


def test_a_suppressed_cell_takes_the_total_with_it_and_never_a_large_cell() -> None:
    """200 turned red next to 3 who turned green: the 200 stays in plain sight."""
    g = suppress({"yellow": 3, "red": 200, "green": 0, "none": 0}, with_total=True)
    assert g.total is None
    assert g.cells == {"yellow": None, "red": 200, "green": 0, "none": 0}
    assert g.suppressed == ("yellow", "total")
    whole = suppress({"yellow": 30, "red": 200}, with_total=True)
    assert (whole.total, whole.suppressed) == (230, ())


def test_small_totals_are_suppressed() -> None:
    g = suppress({"a": 4, "b": 0}, with_total=True)
    assert (g.cells, g.total) == ({"a": None, "b": 0}, None)
    assert g.suppressed == ("a", "total")


def _recoverable(counts: dict[str, int]) -> list[str]:
    """The suppressed cells a reader could compute exactly from the published numbers: each
    null is at least 1, and with a total the nulls add up to the total minus the published
    cells, so a null can be anything from 1 to that rest minus one for each other null."""
    g = suppress(counts, with_total=True)
    hidden = [k for k, v in g.cells.items() if v is None]
    if g.total is None or not hidden:
        return []
    rest = g.total - sum(v for v in g.cells.values() if v is not None)
    assert rest == sum(counts[k] for k in hidden)
    highest = rest - (len(hidden) - 1)
    return [k for k in hidden if highest == 1 or len(hidden) == 1]


@pytest.mark.parametrize(
    "counts",
    [
        {"a": 3, "b": 40, "c": 0},
        {"a": 1, "b": 1, "c": 12},
        {"a": 9, "b": 10, "c": 11},
        {"a": 2, "b": 0, "c": 0},
        {"a": 5, "b": 5, "c": 5},
        {"a": 0, "b": 7, "c": 30},
        {"a": 1, "b": 1, "c": 1, "d": 40},
        {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1, "f": 1, "g": 1, "h": 1, "i": 1, "j": 1},
    ],
)
def test_no_suppressed_cell_follows_by_subtraction(counts: dict[str, int]) -> None:
    assert _recoverable(counts) == []


class Log:
    def __init__(self) -> None:
        self.entries: list[PublicEntry] = []

    def add(self, time: int, action: str, kind: str = "x", result: str = "ok",
            **details: str | int) -> None:  # fmt: skip
        seq = len(self.entries)
        text = canonical_entry(LogEntry(action, SYSTEM, kind, "r", "p", "b", result,
                                        details=details), seq, time)  # fmt: skip
        self.entries.append(parse_entry(seq, text))


def test_a_report_from_log_entries() -> None:
    log = Log()
    for i in range(12):
        log.add(T0 + i, "status.changed", "subject", to="red", rule="default@1#close")
    for i in range(3):
        log.add(T0 + 50 + i, "status.changed", "subject", to="red", rule="order:oabc")
    log.add(T0 + 60, "status.changed", "subject", to="green", rule="default@1#none")
    for step in ("proposed", "approved", "frozen", "released"):
        log.add(T0 + 70, f"order.{step}", "order")
    log.add(T0 + 71, "order.approved", "order", result="refused:proposer")
    log.add(T0 + 80, "appeal.filed", "appeal")
    log.add(T0 + 81, "appeal.decided", "appeal", outcome="granted")
    log.add(T0 + 90, "case.traced", "case")
    log.add(T0 + 91, "personal_data.read", "subject")
    log.add(T0 + 92, "access.refused", "subject", result="refused:not_permitted")
    log.add(T0 + 93, "anomaly.flagged", "anomaly", detector="order_burst")
    log.add(T0 + DAY + 5, "status.changed", "subject", to="yellow", rule="default@1#symptoms")
    log.add(T0 - 5, "case.traced", "case")  # the day before: not in the report

    made = build_report(log.entries, first_day=DAY0, days=2, zone="UTC", generated_at=T0 + DAY + 10,
                        first_seq=0, log_size=len(log.entries),
                        current={"red": 15, "yellow": 2, "green": 40})  # fmt: skip
    first, second = made.days
    assert (first.day, first.start, second.day) == (DAY0.isoformat(), T0, DAY1.isoformat())
    changes = first.colour_changes
    assert changes.cells["red_rule"] == 12
    assert changes.total is None  # published only when no cell of it is suppressed
    assert changes.cells["red_order"] is None
    assert changes.cells["to_green"] is None
    assert first.orders == {
        "proposed": 1, "approved": 1, "frozen": 1, "released": 1, "release_refused": 0,
        "rejected": 0, "revoked": 0, "expired": 0, "refused": 1,
    }  # fmt: skip
    assert first.appeals.cells == {"filed": None, "granted": None, "upheld": 0, "lapsed": 0}
    assert (first.trace_runs, first.personal_data_reads, first.access_refused) == (1, 1, 1)
    assert first.anomaly_alerts["order_burst"] == 1
    assert first.current_colours is None
    assert second.colour_changes.cells["yellow_rule"] is None
    assert second.current_colours is not None
    assert second.current_colours.cells == {"yellow": None, "red": 15}
    # Anyone with the same entries gets the same report.
    again = build_report(list(log.entries), first_day=DAY0, days=2, zone="UTC",
                         generated_at=T0 + DAY + 10, first_seq=0, log_size=len(log.entries),
                         current={"red": 15, "yellow": 2})  # fmt: skip
    assert again.as_dict() == made.as_dict()
    as_json = made.as_dict()
    assert as_json["days"][0]["colour_changes"]["suppressed"] == ["to_green", "red_order", "total"]  # type: ignore[index]


def test_days_are_the_citys_calendar_named_in_the_report() -> None:
    """A day is the city's: its midnight in the city's time zone (UTC+8: 16:00 UTC), and where
    the clocks change, a day of 23 or 25 hours."""
    log = Log()
    log.add(T0 + 15 * 3600, "case.traced", "case")  # 23:00 in Shanghai, on DAY0
    log.add(T0 + 16 * 3600, "case.traced", "case")  # 00:00 in Shanghai, on DAY1
    log.add(T0 + 16 * 3600 + 1, "case.traced", "case")
    made = build_report(log.entries, first_day=DAY0, days=2, zone="Asia/Shanghai",
                        generated_at=T0 + DAY, first_seq=0, log_size=3)  # fmt: skip
    assert [(d.day, d.start, d.trace_runs) for d in made.days] == [
        (DAY0.isoformat(), T0 - 8 * 3600, 1), (DAY1.isoformat(), T0 + 16 * 3600, 2),
    ]  # fmt: skip
    assert made.as_dict()["timezone"] == "Asia/Shanghai"
    # Berlin, the last Sunday of March: the clocks go from 02:00 to 03:00, a day of 23 hours.
    spring = 1_774_738_800  # that Sunday, 00:00 in Berlin (23:00 UTC the day before)
    log = Log()
    log.add(spring + 23 * 3600 - 1, "case.traced", "case")  # its last second
    log.add(spring + 23 * 3600, "case.traced", "case")  # the next day's first
    made = build_report(log.entries, first_day=day_in("Europe/Berlin", spring), days=2,
                        zone="Europe/Berlin",
                        generated_at=spring + DAY, first_seq=0, log_size=2)  # fmt: skip
    assert [(d.start, d.trace_runs) for d in made.days] == [(spring, 1), (spring + 23 * 3600, 1)]
