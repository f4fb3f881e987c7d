"""Check-ins: who (a pseudonym) was at which venue, from when to when.

A visit without a check-out closes by itself after the venue type's maximum dwell time. That
bound is also what makes tracing a range scan: every visit overlapping [t0, t1] at a venue
started after t0 - max_dwell. Check-ins are personal data under retention, not log entries.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from healthcode.domain.errors import InvalidInput
from healthcode.domain.venues import VenueType

HOUR = 3600
DAY = 86400

# Upper bounds on a stay, by venue type: long enough for a real visit, short enough that a
# forgotten check-out does not make a person a contact for the rest of the day.
MAX_DWELL_SECONDS: dict[VenueType, int] = {
    VenueType.RESTAURANT: 3 * HOUR,
    VenueType.SHOP: 2 * HOUR,
    VenueType.SUPERMARKET: 2 * HOUR,
    VenueType.MARKET: 3 * HOUR,
    VenueType.OFFICE: 10 * HOUR,
    VenueType.FACTORY: 12 * HOUR,
    VenueType.SCHOOL: 10 * HOUR,
    VenueType.HOSPITAL: 12 * HOUR,
    VenueType.CLINIC: 4 * HOUR,
    VenueType.PHARMACY: 1 * HOUR,
    VenueType.TRANSPORT: 3 * HOUR,
    VenueType.HOTEL: 24 * HOUR,
    VenueType.WORSHIP: 3 * HOUR,
    VenueType.ENTERTAINMENT: 5 * HOUR,
    VenueType.GYM: 3 * HOUR,
    VenueType.RESIDENTIAL: 24 * HOUR,
    VenueType.GOVERNMENT: 4 * HOUR,
    VenueType.OTHER: 4 * HOUR,
}
LONGEST_DWELL = max(MAX_DWELL_SECONDS.values())

# A person visits a few dozen places on a very busy day; more than this is a flood or abuse.
DAILY_CAP = 60


class CheckInSource(StrEnum):
    PLACE_SCAN = "place_scan"  # the resident scanned the venue's poster
    CODE_SCAN = "code_scan"  # the venue's device scanned the resident's health code
    DEVICE_BATCH = "device_batch"  # an offline venue device uploaded it later


@dataclass(frozen=True, slots=True)
class CheckIn:
    venue_id: str
    checkin_id: str
    subject_id: str
    time_in: int
    closes_at: int  # time_in + the venue type's maximum dwell
    source: CheckInSource
    time_out: int | None = None
    client_id: str | None = None  # an offline device's id for the scan: uploads are idempotent

    @property
    def ends_at(self) -> int:
        """When the visit ended: the check-out, or the automatic close."""
        return self.time_out if self.time_out is not None else self.closes_at


@dataclass(frozen=True, slots=True)
class CheckInBatch:
    """Many check-ins of one source as columns: check-in i is the i-th value of every list. A
    bulk import holds millions of them, and an object per check-in costs more than storing it."""

    source: CheckInSource
    venue_ids: list[str]
    checkin_ids: list[str]
    subject_ids: list[str]
    times_in: list[int]
    closes_at: list[int]
    times_out: list[int | None]
    client_ids: list[str | None]

    def __post_init__(self) -> None:
        columns = (
            self.checkin_ids,
            self.subject_ids,
            self.times_in,
            self.closes_at,
            self.times_out,
            self.client_ids,
        )
        if any(len(column) != len(self.venue_ids) for column in columns):
            raise ValueError("every column of a batch has one value per check-in")

    def __len__(self) -> int:
        return len(self.venue_ids)

    @classmethod
    def of(cls, source: CheckInSource, checkins: Sequence[CheckIn]) -> CheckInBatch:
        """The batch of these check-ins, all of this source."""
        if any(c.source is not source for c in checkins):
            raise ValueError(f"every check-in of the batch is of source {source.value}")
        return cls(
            source,
            [c.venue_id for c in checkins],
            [c.checkin_id for c in checkins],
            [c.subject_id for c in checkins],
            [c.time_in for c in checkins],
            [c.closes_at for c in checkins],
            [c.time_out for c in checkins],
            [c.client_id for c in checkins],
        )

    def checkins(self) -> list[CheckIn]:
        """The check-ins of the batch, one object each."""
        return [
            CheckIn(venue_id, checkin_id, subject_id, time_in, closes_at, self.source, out, client)
            for venue_id, checkin_id, subject_id, time_in, closes_at, out, client in zip(
                self.venue_ids,
                self.checkin_ids,
                self.subject_ids,
                self.times_in,
                self.closes_at,
                self.times_out,
                self.client_ids,
                strict=True,
            )
        ]


def new_checkin(
    venue_id: str,
    venue_type: VenueType,
    subject_id: str,
    time_in: int,
    source: CheckInSource,
    client_id: str | None = None,
) -> CheckIn:
    return CheckIn(
        venue_id,
        "c" + secrets.token_hex(8),
        subject_id,
        time_in,
        time_in + MAX_DWELL_SECONDS[venue_type],
        source,
        None,
        client_id,
    )


def check_out(checkin: CheckIn, now: int) -> int:
    """The check-out time to record: never before the check-in, never after the auto-close."""
    if checkin.time_out is not None:
        raise InvalidInput(
            "this visit is already checked out", field="checkin_id", code="already_checked_out"
        )
    return max(checkin.time_in, min(now, checkin.closes_at))
