"""Where people go each day: work on their workdays, and a few errands at open venues.

Errands favour the home district (lunch: the work district) and popular venues; every visit
lies inside the venue's opening hours and within the venue type's maximum dwell time. A
dependant goes with their guardian on some errands (never to the guardian's work).
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from healthcode.demo.people import Person
from healthcode.demo.places import DISTRICTS, Venue
from healthcode.demo.timeline import Timeline
from healthcode.domain.checkins import MAX_DWELL_SECONDS
from healthcode.domain.venues import VenueType

T = VenueType
# Errand slots: local minutes (earliest start, latest start) and what people do then.
SLOTS: dict[str, tuple[int, int, dict[VenueType, float]]] = {
    "morning": (7 * 60, 11 * 60, {
        T.MARKET: 25, T.SUPERMARKET: 14, T.RESTAURANT: 6, T.PHARMACY: 8, T.CLINIC: 6, T.SHOP: 10,
        T.WORSHIP: 3, T.TRANSPORT: 8, T.GOVERNMENT: 6, T.GYM: 6, T.HOSPITAL: 3,
    }),
    "lunch": (11 * 60 + 40, 12 * 60 + 20, {T.RESTAURANT: 1}),
    "afternoon": (13 * 60 + 30, 17 * 60, {
        T.SHOP: 25, T.SUPERMARKET: 14, T.ENTERTAINMENT: 10, T.GYM: 8, T.PHARMACY: 6, T.CLINIC: 5,
        T.TRANSPORT: 8, T.WORSHIP: 3, T.HOTEL: 2, T.RESTAURANT: 10, T.GOVERNMENT: 4,
        T.HOSPITAL: 3,
    }),
    "evening": (18 * 60, 21 * 60, {
        T.RESTAURANT: 45, T.SUPERMARKET: 15, T.GYM: 12, T.ENTERTAINMENT: 15, T.SHOP: 10,
        T.PHARMACY: 3,
    }),
}  # fmt: skip
# Typical stay in minutes (mean, spread) by venue type.
STAY: dict[VenueType, tuple[float, float]] = {
    T.RESTAURANT: (55, 20), T.SHOP: (25, 12), T.SUPERMARKET: (35, 12), T.MARKET: (40, 15),
    T.PHARMACY: (12, 5), T.CLINIC: (60, 25), T.HOSPITAL: (120, 50), T.TRANSPORT: (35, 15),
    T.HOTEL: (90, 40), T.WORSHIP: (70, 25), T.ENTERTAINMENT: (120, 40), T.GYM: (75, 20),
    T.GOVERNMENT: (45, 20), T.OFFICE: (60, 30), T.FACTORY: (60, 30), T.SCHOOL: (60, 30),
    T.RESIDENTIAL: (60, 30), T.OTHER: (45, 20),
}  # fmt: skip
SHORTEST_STAY = 8  # minutes: a check-in and straight out again
TRAVEL = (10, 35)  # minutes between two places
CHANCE = {  # of an errand in a slot: (workday, day off)
    "morning": (0.0, 0.6),
    "afternoon": (0.0, 0.55),
    "evening": (0.5, 0.45),
}
LUNCH_OUT = 0.45  # share of workers who check out for lunch at a restaurant
COMES_ALONG = {"child": 0.35, "elder": 0.25}


@dataclass(frozen=True, slots=True)
class Visit:
    person: int
    venue: int
    time_in: int
    time_out: int | None  # None: still there when the city's timeline ends

    def ends(self, end: int) -> int:
        return self.time_out if self.time_out is not None else end


class Stop(NamedTuple):
    """A planned visit in local minutes of its day."""

    venue: Venue
    start: float
    end: float
    errand: bool  # dependants may come along on errands (not to work, nor to a work lunch)


class _Chooser:
    """Weighted choice of a venue of a type: popularity, three times more in one district."""

    def __init__(self, venues: list[Venue], kind: VenueType, district: str) -> None:
        self.venues = [v for v in venues if v.venue_type is kind]
        weights = [v.popularity * (3 if v.district == district else 1) for v in self.venues]
        self.cumulative = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random) -> Venue:
        return self.venues[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


class Planner:
    def __init__(self, venues: list[Venue], timeline: Timeline) -> None:
        self.venues = venues
        self.timeline = timeline
        kinds = {v.venue_type for v in venues}
        self.choosers = {(k, d): _Chooser(venues, k, d) for k in kinds for d in DISTRICTS}

    def _stay(self, rng: random.Random, kind: VenueType) -> float:
        mean, spread = STAY[kind]
        return min(max(SHORTEST_STAY, rng.gauss(mean, spread)), MAX_DWELL_SECONDS[kind] / 60)

    def _errand(
        self, rng: random.Random, slot: str, earliest: float, district: str, errand: bool = True
    ) -> Stop | None:
        """A visit in `slot` starting no earlier than `earliest` (local minutes), or None."""
        first, last, kinds = SLOTS[slot]
        if earliest > last:
            return None
        kind = rng.choices(list(kinds), weights=list(kinds.values()))[0]
        start = rng.uniform(max(first, earliest), last)
        stay = self._stay(rng, kind)
        for _ in range(3):
            venue = self.choosers[kind, district].pick(rng)
            begin, end = max(start, venue.opens), min(start + stay, venue.closes)
            if end - begin >= SHORTEST_STAY and begin <= last:
                return Stop(venue, begin, end, errand)
        return None

    def _work(self, rng: random.Random, person: Person) -> list[Stop]:
        assert person.workplace is not None  # noqa: S101 - only called for workers
        venue = self.venues[person.workplace]
        start = max(venue.opens, rng.gauss(8.75 * 60, 30))
        longest = min(venue.closes - start, MAX_DWELL_SECONDS[venue.venue_type] / 60)
        if longest < 60:
            return []
        end = start + min(rng.gauss(8.5 * 60, 40), longest)
        whole = [Stop(venue, start, end, False)]
        if rng.random() >= LUNCH_OUT or not start < 11 * 60 < 14 * 60 < end:
            return whole
        lunch = self._errand(rng, "lunch", start, venue.district, errand=False)
        if lunch is None:
            return whole
        back = lunch.end + rng.uniform(*TRAVEL)
        if back >= end:
            return whole
        left = lunch.start - rng.uniform(*TRAVEL)
        return [Stop(venue, start, left, False), lunch, Stop(venue, back, end, False)]

    def day(self, rng: random.Random, person: Person, day: int) -> list[Stop]:
        """Where `person` goes on `day`, in time order."""
        working = (
            person.workplace is not None and self.timeline.date_of(day).weekday() in person.workdays
        )
        stops = self._work(rng, person) if working else []
        free_from = stops[-1].end + rng.uniform(*TRAVEL) if stops else 0.0
        for slot, (on_workday, off_day) in CHANCE.items():
            if rng.random() < (on_workday if stops else off_day):
                found = self._errand(rng, slot, free_from, person.district)
                if found is not None:
                    stops.append(found)
                    free_from = found.end + rng.uniform(*TRAVEL)
        return stops


def plan_day(
    rng: random.Random,
    planner: Planner,
    people: list[Person],
    dependants: dict[int, list[Person]],
    day: int,
    away: Mapping[int, tuple[int, int]],
) -> list[Visit]:
    """Everyone's check-ins on `day`. Nobody checks in while `away` (isolated or in
    quarantine: a visit under way then ends there), nor after the timeline's end."""
    timeline = planner.timeline
    visits: list[Visit] = []

    def add(person: int, stop: Stop) -> bool:
        time_in = timeline.at(day, stop.start)
        time_out = min(
            timeline.at(day, stop.end), time_in + MAX_DWELL_SECONDS[stop.venue.venue_type]
        )
        leaves, returns = away.get(person, (time_out, time_out))
        if leaves <= time_in < returns:
            return False
        time_out = min(time_out, leaves) if time_in < leaves else time_out
        if time_in >= min(time_out, timeline.end):
            return False
        ended = time_out if time_out <= timeline.end else None
        visits.append(Visit(person, stop.venue.key, time_in, ended))
        return True

    for person in people:
        if person.is_dependant:
            continue
        for stop in planner.day(rng, person, day):
            if not add(person.key, stop) or not stop.errand:
                continue
            for dependant in dependants.get(person.key, ()):
                if rng.random() < COMES_ALONG[dependant.relation or "child"]:
                    add(dependant.key, stop)
    return visits
