"""The figures contact tracing is judged by, per day, for the health authority's dashboard:
cases opened, close contacts found per case, and the time from a case's sample to the exposure
notices its contacts received (median and 90th percentile), the measure of how fast tracing
reaches people (the days a contact spends unaware are the days they may pass it on).

Counts and durations only: no person, case or venue is named. Days are the city's calendar days
(`zone`, the display time zone), the same on every page."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from statistics import median

from healthcode.domain.calendar import day_in, day_start
from healthcode.domain.checkins import DAY
from healthcode.services.context import ServiceContext

HOUR = 3600


@dataclass(frozen=True, slots=True)
class DayFigures:
    day: date
    cases: int  # opened that day
    contacts_per_case: float | None  # mean close contacts found, of the cases opened that day
    notices: int  # sent that day
    sample_to_notice_median_h: float | None  # hours, over the notices sent that day
    sample_to_notice_p90_h: float | None


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (the value at rank ceil(share * n))."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def tracing_figures(ctx: ServiceContext, zone: str, days: int = 14) -> list[DayFigures]:
    """The last `days` days, the oldest first, today included."""
    now = ctx.clock.now()
    today = day_in(zone, now)
    first = date.fromordinal(today.toordinal() - days + 1)
    since = day_start(zone, first)

    def day_of(epoch: int) -> date:
        return day_in(zone, epoch)

    with ctx.uow(read_only=True) as uow:
        # Cases that may have sent notices in the window began up to a retention period before.
        cases = uow.cases.opened_since(since - ctx.retention.days * DAY)
        people = uow.exposures.people_of_cases([c.case_id for c in cases])
        contacts = {
            case_id: sum(1 for p in found if p.best.level == "close")
            for case_id, found in people.items()
        }
        results = uow.cases.results_of(sorted({c.subject_id for c in cases}))
        sampled: dict[str, int] = {}
        for case in cases:
            for r in results.get(case.subject_id, []):
                if f"{r.lab}/{r.test_id}" == case.index_test:
                    sampled[case.case_id] = r.sample_time
        sent = uow.notices.sent_since(since)
        case_of_exposure = uow.exposures.cases_of(sorted({e for _, e in sent}))

    opened: dict[date, list[int]] = {}
    for case in cases:
        if case.opened_at >= since:
            opened.setdefault(day_of(case.opened_at), []).append(contacts[case.case_id])
    delays: dict[date, list[float]] = {}
    count: dict[date, int] = {}
    for when, exposure_id in sent:
        day = day_of(when)
        count[day] = count.get(day, 0) + 1
        case_id = case_of_exposure.get(exposure_id)
        if case_id is not None and case_id in sampled:
            delays.setdefault(day, []).append(max(0, when - sampled[case_id]) / HOUR)
    out = []
    for n in range(days):
        day = date.fromordinal(first.toordinal() + n)
        found = opened.get(day, [])
        waits = delays.get(day, [])
        out.append(
            DayFigures(
                day,
                len(found),
                sum(found) / len(found) if found else None,
                count.get(day, 0),
                median(waits) if waits else None,
                percentile(waits, 0.9) if waits else None,
            )
        )
    return out
