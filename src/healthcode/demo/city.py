"""The demo city, generated from a seed: the same seed and end give the same city.

Pure: no database, no clock. `generate` returns plain dataclasses; `healthcode.demo.seed`
writes them through the services.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

from healthcode.demo.movements import Planner, Visit, plan_day
from healthcode.demo.outbreak import Infection, LabTest, Outbreak, Rules
from healthcode.demo.people import Person, make_people
from healthcode.demo.places import Venue, make_venues
from healthcode.demo.timeline import Timeline

DEFAULT_SEED = 11643  # after GB 11643, the standard of the ID numbers
RESIDENTS_PER_VENUE = 6
DAYS_BEFORE_END_OF_OUTBREAK = 11  # index cases arrive this many days before the last day
EARLIEST_RETURN_DAYS = 3  # in a shorter city, at most this many days before its first day
RESIDENTS_PER_INDEX_CASE = 400
OUTBREAK_ATTEMPTS = 20
ONWARD_CASES_PER = 250  # residents, for an outbreak worth tracing


@dataclass(frozen=True, slots=True)
class CityConfig:
    seed: int = DEFAULT_SEED
    residents: int = 2000
    days: int = 14
    venues: int | None = None  # default: one per RESIDENTS_PER_VENUE residents
    index_cases: int | None = None  # default: one per RESIDENTS_PER_INDEX_CASE, at least 3
    transmissibility: float = 1.0  # scales the chance of infection per hour together
    rules: Rules = field(default_factory=Rules)

    def __post_init__(self) -> None:
        if self.residents < 10 or self.days < 3:
            raise ValueError("a demo city needs at least 10 residents and 3 days")


@dataclass(frozen=True, slots=True)
class City:
    config: CityConfig
    timeline: Timeline
    people: tuple[Person, ...]
    venues: tuple[Venue, ...]
    visits: tuple[Visit, ...]  # in time order within each day
    infections: tuple[Infection, ...]  # in order of infection
    tests: tuple[LabTest, ...]  # in order of sampling within each day

    @property
    def residents(self) -> list[Person]:
        return [p for p in self.people if not p.is_dependant]

    @property
    def dependants(self) -> list[Person]:
        return [p for p in self.people if p.is_dependant]


@dataclass(frozen=True, slots=True)
class _Days:
    visits: tuple[Visit, ...]
    infections: tuple[Infection, ...]
    tests: tuple[LabTest, ...]

    def chains(self) -> tuple[int, int]:
        """(longest chain of infections in the city to a reported case, reported cases
        infected in the city): what tracing can find."""
        source = {i.person: i.source for i in self.infections}
        reported = {t.person for t in self.tests if t.positive}
        longest, onward = 0, 0
        for person in reported:
            links, at = 0, person
            while (parent := source.get(at)) is not None:
                links, at = links + 1, parent
            longest, onward = max(longest, links), onward + (links > 0)
        return min(longest, 2), onward


def _live(
    config: CityConfig,
    timeline: Timeline,
    venues: list[Venue],
    people: list[Person],
    rng: random.Random,
) -> _Days:
    """The days of the city: movements, the outbreak and the tests, day after day."""
    dependants: defaultdict[int, list[Person]] = defaultdict(list)
    for person in people:
        if person.guardian is not None:
            dependants[person.guardian].append(person)
    planner = Planner(venues, timeline)
    outbreak = Outbreak(rng, timeline, people, venues, config.rules, config.transmissibility)
    index_cases = config.index_cases or max(3, config.residents // RESIDENTS_PER_INDEX_CASE)
    first_day = max(0, config.days - DAYS_BEFORE_END_OF_OUTBREAK)
    # A city shorter than the outbreak's run-up gets its travellers back earlier, before its
    # first day, so that they fall ill, test positive and are traced within its days.
    earlier = min(EARLIEST_RETURN_DAYS, max(0, DAYS_BEFORE_END_OF_OUTBREAK - config.days))
    visits: list[Visit] = []
    for day in range(config.days):
        if day == first_day:
            outbreak.seed_index_cases(day, index_cases, earlier)
        outbreak.take_samples(day)
        today = plan_day(rng, planner, people, dependants, day, outbreak.away())
        today.sort(key=lambda v: (v.time_in, v.person))
        outbreak.spread(day, today)
        outbreak.find_contacts(day)
        visits += today
    return _Days(
        tuple(visits),
        tuple(sorted(outbreak.infections.values(), key=lambda i: (i.at, i.person))),
        tuple(outbreak.tests),
    )


def generate(config: CityConfig, end: int) -> City:
    """A city whose `config.days` local days end at `end` (epoch seconds).

    The people and venues depend on the seed only. Their days also depend on the calendar
    (weekends, the time of day it ends), and an outbreak may die out early: of up to
    OUTBREAK_ATTEMPTS runs of the days (seeded from the seed and the attempt), the first is
    kept in which a reported case was infected by someone infected in the city (a chain of
    two) and one reported case per ONWARD_CASES_PER residents (at least 2) was infected in the
    city; else the best. So a demo city has chains for tracing to find.
    """
    rng = random.Random(config.seed)  # noqa: S311 - invented data, reproducible by design
    timeline = Timeline(end, config.days)
    venue_count = config.venues or max(20, config.residents // RESIDENTS_PER_VENUE)
    venues = make_venues(rng, venue_count)
    people = make_people(rng, config.residents, venues, timeline.date_of(config.days - 1))
    wanted = (2, max(2, config.residents // ONWARD_CASES_PER))
    best: tuple[tuple[int, int], _Days] | None = None
    for attempt in range(OUTBREAK_ATTEMPTS):
        days_rng = random.Random(f"{config.seed}/{attempt}")  # noqa: S311 - as above
        days = _live(config, timeline, venues, people, days_rng)
        found = days.chains()
        if best is None or found > best[0]:
            best = found, days
        if found >= wanted:
            break
    assert best is not None  # noqa: S101 - OUTBREAK_ATTEMPTS > 0
    return City(
        config,
        timeline,
        tuple(people),
        tuple(venues),
        best[1].visits,
        best[1].infections,
        best[1].tests,
    )
