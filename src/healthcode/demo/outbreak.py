"""The outbreak: index cases infected outside the city, spread between people who shared a
venue, and the lab tests that find them.

Spread follows the same notion of contact as the platform's tracing (overlap at one venue,
the infectious person's presence lingering `extension` seconds after they left), with a
chance per hour of shared presence that depends on the kind of venue. A person becomes
infectious a day or two after infection and has symptoms within about a day after that, so a
case's window (from two days before the sample) covers the time they could infect others.

Tests: people with symptoms are sampled that day or the next; contacts of a newly reported
case are tested the day after; a few people are screened at random. Labs report twice a day.
A positive report isolates the person: they check in nowhere after it. The close contacts of a
reported case go into quarantine a morning or two later (some are never reached), for
QUARANTINE_DAYS: the ones who slip through carry the outbreak on.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass

from healthcode.demo.movements import Visit
from healthcode.demo.people import Person
from healthcode.demo.places import Venue
from healthcode.demo.timeline import DAY, HOUR, MINUTE, Timeline
from healthcode.domain.venues import VenueType

T = VenueType
# Chance of infection per hour of shared presence, by venue type (before `transmissibility`).
PER_HOUR: dict[VenueType, float] = {
    T.RESTAURANT: 0.049, T.ENTERTAINMENT: 0.049, T.GYM: 0.038, T.WORSHIP: 0.038,
    T.TRANSPORT: 0.023, T.MARKET: 0.023, T.SUPERMARKET: 0.014, T.SHOP: 0.014,
    T.PHARMACY: 0.014, T.CLINIC: 0.020, T.HOSPITAL: 0.010, T.HOTEL: 0.014, T.GOVERNMENT: 0.014,
    T.OFFICE: 0.006, T.FACTORY: 0.005, T.SCHOOL: 0.008, T.RESIDENTIAL: 0.010, T.OTHER: 0.014,
}  # fmt: skip
LATENT_DAYS = (1.0, 2.0)  # infection -> infectious
PRESYMPTOMATIC_DAYS = (0.8, 1.6)  # infectious -> symptoms
ASYMPTOMATIC = 0.3  # never have symptoms: found only by testing contacts and screening
INFECTIOUS_DAYS = 10  # after infection, if never isolated
DETECTABLE_AFTER = DAY  # a sample taken this long after infection is positive
LAB_TURNAROUND = 4 * HOUR
REPORT_HOURS = (12, 22)  # local hours at which labs send their results
CONTACT_TESTED = 0.8
QUARANTINE_DAYS = 14
QUARANTINE_DELAY = {1: 0.55, 2: 0.3}  # days until a close contact is in quarantine; else never
SCREENED_PER_DAY = 0.01
SAMPLING_HOURS = (8, 17)
# Labs, the prefix of their test ids, and who sends which samples to which lab.
LABS = {"city-cdc": "CDC", "first-hospital": "FH", "huaxin-lab": "HX"}
LABS_FOR = {
    "symptoms": ("first-hospital", "huaxin-lab"),
    "contact": ("city-cdc",),
    "screening": ("city-cdc",),
}


@dataclass(frozen=True, slots=True)
class Rules:
    """What the platform counts as a contact (CityPolicy's defaults)."""

    min_overlap: int = 900
    extension: int = 1800
    infectious_days_before: int = 2


@dataclass(frozen=True, slots=True)
class Infection:
    person: int
    at: int
    source: int | None  # who passed it on; None: an index case, infected outside the city
    venue: int | None  # where
    infectious_from: int
    onset: int | None  # symptoms; None: asymptomatic


@dataclass(frozen=True, slots=True)
class LabTest:
    person: int
    lab: str
    test_id: str
    sample_time: int
    reported_at: int  # when the lab sends it: before the timeline's end
    positive: bool
    reason: str  # "symptoms", "contact" or "screening"


class Outbreak:
    def __init__(
        self,
        rng: random.Random,
        timeline: Timeline,
        people: list[Person],
        venues: list[Venue],
        rules: Rules,
        transmissibility: float,
    ) -> None:
        self.rng, self.timeline, self.people, self.venues = rng, timeline, people, venues
        self.rules, self.transmissibility = rules, transmissibility
        self.infections: dict[int, Infection] = {}
        self.isolated_from: dict[int, int] = {}  # person -> report of their first positive
        self.quarantined: dict[int, tuple[int, int]] = {}  # close contact -> (from, until)
        self.tests: list[LabTest] = []
        self._positive_sample: dict[int, int] = {}
        self._to_test: defaultdict[int, set[int]] = defaultdict(set)  # day -> contacts
        self._by_person: defaultdict[int, list[Visit]] = defaultdict(list)
        self._by_venue_day: defaultdict[tuple[int, int], list[Visit]] = defaultdict(list)
        self._test_numbers: defaultdict[str, int] = defaultdict(int)

    # --- infection ------------------------------------------------------------------------

    def infect(self, person: int, at: int, source: int | None, venue: int | None) -> None:
        """Infected at `at`; an index case (no `source`) is one because they had symptoms."""
        infectious_from = at + int(self.rng.uniform(*LATENT_DAYS) * DAY)
        onset: int | None = infectious_from + int(self.rng.uniform(*PRESYMPTOMATIC_DAYS) * DAY)
        if source is not None and self.rng.random() < ASYMPTOMATIC:
            onset = None
        self.infections[person] = Infection(person, at, source, venue, infectious_from, onset)

    def seed_index_cases(self, day: int, count: int, days_earlier: int = 0) -> None:
        """`count` working residents come back from a trip infected, shortly before `day` (and
        `days_earlier` days before that: a short city sees its first cases fall ill early)."""
        travellers = [p.key for p in self.people if p.workplace is not None] or [
            p.key for p in self.people if not p.is_dependant
        ]
        for person in self.rng.sample(travellers, min(count, len(travellers))):
            at = self.timeline.day_start(day) - days_earlier * DAY
            self.infect(person, at - int(self.rng.uniform(0, 12 * HOUR)), None, None)

    def _infectious_part(self, visit: Visit) -> tuple[int, int] | None:
        infection = self.infections.get(visit.person)
        if infection is None:
            return None
        start = max(visit.time_in, infection.infectious_from)
        end = min(
            visit.ends(self.timeline.end),
            self.isolated_from.get(visit.person, self.timeline.end),
            infection.at + INFECTIOUS_DAYS * DAY,
        )
        return (start, end) if start < end else None

    def spread(self, day: int, visits: list[Visit]) -> None:
        """Record the day's visits; infections among people who shared a venue with someone
        infectious (who was infected on an earlier day: nobody is infectious the same day)."""
        for visit in visits:
            self._by_person[visit.person].append(visit)
            self._by_venue_day[visit.venue, day].append(visit)
        for venue in sorted({v.venue for v in visits}):
            together = self._by_venue_day[venue, day]
            per_hour = PER_HOUR[self.venues[venue].venue_type] * self.transmissibility
            for source in together:
                part = self._infectious_part(source)
                if part is None:
                    continue
                for other in together:
                    if other.person in self.infections:
                        continue
                    shared = self._overlap(part, other)
                    chance = 1 - math.exp(-per_hour * shared / HOUR)
                    if shared >= self.rules.min_overlap and self.rng.random() < chance:
                        self.infect(other.person, max(part[0], other.time_in), source.person, venue)

    def _overlap(self, part: tuple[int, int], other: Visit) -> int:
        end = min(part[1] + self.rules.extension, other.ends(self.timeline.end))
        return end - max(part[0], other.time_in)

    # --- testing --------------------------------------------------------------------------

    def _report_time(self, sample_time: int) -> int:
        ready = sample_time + LAB_TURNAROUND
        day = self.timeline.day_of(ready)
        for offset in range(2):
            for hour in REPORT_HOURS:
                at = self.timeline.at(day + offset, hour * 60)
                if at >= ready:
                    return at
        raise AssertionError("a report is due within two days")  # pragma: no cover

    def _test(self, person: int, sample_time: int, reason: str) -> None:
        reported_at = self._report_time(sample_time)
        if reported_at > self.timeline.end:
            return  # still at the lab when the timeline ends
        infection = self.infections.get(person)
        positive = infection is not None and sample_time >= infection.at + DETECTABLE_AFTER
        lab = self.rng.choice(LABS_FOR[reason])
        self._test_numbers[lab] += 1
        number = self._test_numbers[lab]
        day = self.timeline.date_of(self.timeline.day_of(sample_time))
        test_id = f"{LABS[lab]}{day:%Y%m%d}-{number:05d}"
        self.tests.append(LabTest(person, lab, test_id, sample_time, reported_at, positive, reason))
        if positive and person not in self.isolated_from:
            self.isolated_from[person] = reported_at
            self._positive_sample[person] = sample_time

    def _sampling_time(self, day: int, not_before: int = 0) -> int | None:
        first, last = (self.timeline.at(day, h * 60) for h in SAMPLING_HOURS)
        at = max(not_before, first) + int(self.rng.uniform(0, 90 * MINUTE))
        return at if at <= min(last, self.timeline.end) else None

    def take_samples(self, day: int) -> None:
        """Samples taken on `day`: people with symptoms, contacts of yesterday's cases, and
        random screening. Nobody is sampled twice a day, nor after testing positive."""
        sampled: set[int] = set()

        def sample(person: int, reason: str, not_before: int = 0) -> None:
            if person in sampled or person in self.isolated_from:
                return
            at = self._sampling_time(day, not_before)
            if at is not None:
                sampled.add(person)
                self._test(person, at, reason)

        for infection in list(self.infections.values()):
            onset = infection.onset
            if onset is not None and self.timeline.day_of(onset) in (day, day - 1):
                sample(infection.person, "symptoms", onset)
        for contact in sorted(self._to_test.pop(day, set())):
            sample(contact, "contact")
        for someone in self.people:
            if self.rng.random() < SCREENED_PER_DAY:
                sample(someone.key, "screening")

    def _quarantine(self, person: int, day: int) -> None:
        chance = self.rng.random()
        for delay, share in QUARANTINE_DELAY.items():
            if chance < share:
                start = self.timeline.day_start(day + delay)
                self.quarantined[person] = (start, start + QUARANTINE_DAYS * DAY)
                return
            chance -= share

    def away(self) -> dict[int, tuple[int, int]]:
        """Who checks in nowhere, from when until when: quarantine, then isolation for good."""
        away = dict(self.quarantined)
        for person, at in self.isolated_from.items():
            leaves = min(at, away[person][0]) if person in away else at
            away[person] = (leaves, self.timeline.end + 1)
        return away

    def find_contacts(self, day: int) -> None:
        """Close contacts of the cases reported on `day` go into quarantine a morning or two
        later (some are never reached); most are tested the next day."""
        reported = [p for p, at in self.isolated_from.items() if self.timeline.day_of(at) == day]
        for case in reported:
            window_start = self._positive_sample[case] - self.rules.infectious_days_before * DAY
            window_end = self.isolated_from[case]
            for visit in self._by_person[case]:
                part = (max(visit.time_in, window_start), min(visit.ends(window_end), window_end))
                if part[0] >= part[1]:
                    continue
                others = self._by_venue_day[visit.venue, self.timeline.day_of(visit.time_in)]
                for other in others:
                    if other.person == case or self._overlap(part, other) < self.rules.min_overlap:
                        continue
                    if other.person not in self.quarantined:
                        self._quarantine(other.person, day)
                    if self.rng.random() < CONTACT_TESTED:
                        self._to_test[day + 1].add(other.person)
