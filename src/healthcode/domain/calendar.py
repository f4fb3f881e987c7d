"""The city's calendar: where its days begin and which day an instant falls on (days of 23 or
25 hours where the clocks change)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def day_start(zone: str, day: date) -> int:
    """The first second (epoch) of `day` in the city's calendar."""
    return int(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).timestamp())


def day_in(zone: str, time: int) -> date:
    """The day of the city's calendar that `time` (epoch seconds) falls on."""
    return datetime.fromtimestamp(time, ZoneInfo(zone)).date()
