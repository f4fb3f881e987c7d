"""The public transparency report: per UTC day, colour changes by colour and basis, manual orders,
appeals and their outcomes, trace runs, reads of personal data and refused attempts, and anomaly
alerts, with counts of people from 1 to 9 suppressed (domain/report.py).

It is computed from the public log alone: anyone holding a log export can recompute every number
(with `domain.report.build_report` over the parsed entries from `first_seq` to `log_size`) and
check it against what the city publishes. The only figure that is not on the log is the current
number of yellow and red codes on the latest day, a snapshot of the remembered statuses.
"""

from __future__ import annotations

from healthcode.domain.errors import InvalidInput
from healthcode.domain.published import DAY, day_of
from healthcode.domain.report import Report, build_report
from healthcode.services.anomalies import read_since
from healthcode.services.context import ServiceContext
from healthcode.services.public import public_read

MAX_DAYS = 31


def report(ctx: ServiceContext, days: int = 7) -> Report:
    """The last `days` UTC days (1 to 31), today (so far) the last of them."""
    if type(days) is not int or not 1 <= days <= MAX_DAYS:
        raise InvalidInput("days is 1 to %(max_days)s", field="days", params={"max_days": MAX_DAYS})
    now = ctx.clock.now()
    first_day = day_of(now) - (days - 1) * DAY
    with public_read(ctx) as uow:
        size = uow.log.size()
        first_seq = uow.log.first_at(first_day)
        entries = read_since(uow, first_day)
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
        generated_at=now,
        first_seq=first_seq,
        log_size=size,
        current=current,
        staff=staff,
    )
