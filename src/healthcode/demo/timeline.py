"""Days of the demo city: local calendar days (China Standard Time, UTC+8, no daylight saving)
that end at a given instant, usually now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

HOUR = 3600
DAY = 86400
MINUTE = 60
UTC_OFFSET = 8 * HOUR  # China Standard Time


def local_midnight(epoch: int) -> int:
    """The UTC epoch second of the local midnight that starts the day holding `epoch`."""
    return (epoch + UTC_OFFSET) // DAY * DAY - UTC_OFFSET


@dataclass(frozen=True, slots=True)
class Timeline:
    """`days` local days; the last one is the day holding `end`, and stops at `end`."""

    end: int
    days: int

    @property
    def start(self) -> int:
        return local_midnight(self.end) - (self.days - 1) * DAY

    def day_start(self, day: int) -> int:
        return self.start + day * DAY

    def day_end(self, day: int) -> int:
        """The end of a day, or `end` for the last (unfinished) one."""
        return min(self.day_start(day) + DAY, self.end)

    def at(self, day: int, minutes: float) -> int:
        """The instant `minutes` after local midnight of `day`."""
        return self.day_start(day) + int(minutes * MINUTE)

    def day_of(self, epoch: int) -> int:
        return (epoch - self.start) // DAY

    def date_of(self, day: int) -> date:
        return datetime.fromtimestamp(self.day_start(day) + UTC_OFFSET, UTC).date()

    def is_weekend(self, day: int) -> bool:
        return self.date_of(day).weekday() >= 5

    def minute_of_day(self, epoch: int) -> float:
        return ((epoch + UTC_OFFSET) % DAY) / MINUTE
