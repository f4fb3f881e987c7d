"""The public transparency report: per day of the city's calendar (its time zone, named in the
report), colour changes by colour and basis, manual orders, appeals and their outcomes, trace
runs, reads of personal data and refused attempts, and anomaly alerts, with counts of people from
1 to 9 suppressed (domain/report.py).

It is computed from the public log alone: anyone holding a log export can recompute every number
(with `domain.report.build_report` over the parsed entries from `first_seq` to `log_size`, in the
report's `timezone`) and check it against what the city publishes. The only figure that is not
on the log is the current number of yellow and red codes on the latest day, a snapshot of the
remembered statuses.
"""

from __future__ import annotations

from datetime import timedelta

from healthcode.domain.calendar import day_in, day_start
from healthcode.domain.errors import InvalidInput
from healthcode.domain.report import Report, build_report
from healthcode.services.anomalies import read_since
from healthcode.services.context import ServiceContext
from healthcode.services.public import public_read

MAX_DAYS = 31


def report(ctx: ServiceContext, days: int = 7) -> Report:
    """The last `days` days (1 to 31) of the city's calendar (its time zone,
    `CityPolicy.timezone`), today (so far) the last of them."""
    if type(days) is not int or not 1 <= days <= MAX_DAYS:
        raise InvalidInput("days is 1 to %(max_days)s", field="days", params={"max_days": MAX_DAYS})
    now = ctx.clock.now()
    zone = ctx.policy.timezone
    first_day = day_in(zone, now) - timedelta(days=days - 1)
    since = day_start(zone, first_day)
    with public_read(ctx) as uow:
        size = uow.log.size()
        first_seq = uow.log.first_at(since)
        entries = read_since(uow, since)
        entries = [e for e in entries if e.seq < size]
        current = uow.statuses.counts()
        staff: dict[str, int] = {}
        for account in uow.staff.all():
            if account.is_active:
                staff[account.role] = staff.get(account.role, 0) + 1
    return build_report(
        entries,
        first_day=first_day,
        days=days,
        zone=zone,
        generated_at=now,
        first_seq=first_seq,
        log_size=size,
        current=current,
        staff=staff,
    )
