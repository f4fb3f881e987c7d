"""Contact tracing as interval overlap: who shared a venue with a case, when, for how long.

A contact's visit overlaps one of the case's visits inside the case's infectious window, at the
same venue, for at least `min_overlap` seconds. For airborne spread the case's visit counts as
lasting `extension` seconds longer (the air stays infectious after they leave). Every exposure
carries its evidence: both visits, the venue and the overlapping interval.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Visit:
    venue_id: str
    checkin_id: str
    subject_id: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class TraceRules:
    min_overlap: int  # seconds of shared presence that make a contact
    extension: int  # seconds a case's presence lingers after they leave


@dataclass(frozen=True, slots=True)
class Exposure:
    """Evidence: `contact` overlapped `source` at `source.venue_id` during [start, end)."""

    contact: Visit
    source: Visit
    start: int
    end: int

    @property
    def seconds(self) -> int:
        return self.end - self.start


def clip(visit: Visit, window_start: int, window_end: int) -> Visit | None:
    """The part of a visit inside [window_start, window_end], or None."""
    start, end = max(visit.start, window_start), min(visit.end, window_end)
    if end <= start:
        return None
    return Visit(visit.venue_id, visit.checkin_id, visit.subject_id, start, end)


def exposure(source: Visit, other: Visit, rules: TraceRules) -> Exposure | None:
    if other.venue_id != source.venue_id or other.subject_id == source.subject_id:
        return None
    start = max(source.start, other.start)
    end = min(source.end + rules.extension, other.end)
    if end - start < max(rules.min_overlap, 1):
        return None
    return Exposure(other, source, start, end)


def exposures(
    sources: Iterable[Visit], others: Iterable[Visit], rules: TraceRules
) -> list[Exposure]:
    """Every (source visit, other visit) pair that makes an exposure."""
    by_venue: dict[str, list[Visit]] = {}
    for other in others:
        by_venue.setdefault(other.venue_id, []).append(other)
    found = []
    for source in sources:
        for other in by_venue.get(source.venue_id, ()):
            hit = exposure(source, other, rules)
            if hit is not None:
                found.append(hit)
    return found


def search_range(source: Visit, rules: TraceRules, longest_dwell: int) -> tuple[int, int]:
    """Check-ins that can overlap `source` started in this range: a visit lasts at most
    `longest_dwell`, which turns tracing into a range scan on (venue_id, time_in)."""
    return source.start - longest_dwell, source.end + rules.extension


@dataclass(frozen=True, slots=True)
class Overlapping:
    """The visits that overlap `source` enough to be exposed by it, as bounds a database or a
    columnar file can apply to a visit's venue, start and end before anyone's check-in is
    decrypted: exactly the visits `exposure(source, visit)` accepts (same venue, other person
    aside), so a trace opens only the check-ins of the people it finds."""

    venue_id: str
    first_start: int  # a visit lasts at most the longest dwell: it began after this
    last_start: int  # it began early enough to share `shortest` seconds with the source
    earliest_end: int  # it ended late enough to share them
    shortest: int  # and lasted at least that long


def overlapping(source: Visit, rules: TraceRules, longest_dwell: int) -> Overlapping | None:
    """What `exposure(source, other)` asks of `other`, as bounds; None if no visit can meet
    them (the source's stay, with the airborne extension, is shorter than the minimum)."""
    need = max(rules.min_overlap, 1)
    reach = source.end + rules.extension  # how long the source's air lingers
    if reach - source.start < need:
        return None
    first, _ = search_range(source, rules, longest_dwell)
    return Overlapping(source.venue_id, first, reach - need, source.start + need, need)
