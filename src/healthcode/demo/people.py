"""Residents of the demo city and the dependants they hold codes for (children, elders).

Residents are adults with a phone; about one in five of those aged 28-50 holds codes for one
or two children, and some aged 40-65 for an elderly parent. Most working-age residents have a
workplace (a venue) near home, and the days of the week they work there.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from healthcode.demo import documents, names
from healthcode.demo.places import DISTRICT_WEIGHTS, DISTRICTS, Venue
from healthcode.domain.venues import VenueType

CHILD = "child"
ELDER = "elder"
# Where people work, and how many (relative) work in each kind of venue.
WORKPLACES: dict[VenueType, float] = {
    VenueType.OFFICE: 40, VenueType.FACTORY: 15, VenueType.SHOP: 6, VenueType.SUPERMARKET: 4,
    VenueType.RESTAURANT: 8, VenueType.SCHOOL: 5, VenueType.HOSPITAL: 5, VenueType.CLINIC: 3,
    VenueType.GOVERNMENT: 5, VenueType.TRANSPORT: 3, VenueType.MARKET: 3, VenueType.HOTEL: 2,
}  # fmt: skip
WEEKDAYS = frozenset(range(5))
SHIFT_WORK = {VenueType.SHOP, VenueType.SUPERMARKET, VenueType.RESTAURANT, VenueType.HOSPITAL,
              VenueType.TRANSPORT, VenueType.MARKET, VenueType.HOTEL}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Person:
    key: int  # index in City.people
    name: str
    sex: str  # "m" or "f"
    born: date
    doc_number: str  # PRC resident identity number
    district: str  # where they live
    phone: str | None = None  # residents only
    guardian: int | None = None  # a dependant's guardian (a Person key)
    relation: str | None = None  # a dependant's relation: "child" or "elder"
    workplace: int | None = None  # a Venue key
    workdays: frozenset[int] = frozenset()  # 0 = Monday

    @property
    def is_dependant(self) -> bool:
        return self.guardian is not None


def _born(rng: random.Random, today: date, low: int, high: int) -> date:
    """A birth date making someone `low` to `high` years old today."""
    return today - timedelta(days=rng.randrange(low * 365 + 1, high * 365 + 365))


def _workplace(
    rng: random.Random, venues: list[Venue], district: str
) -> tuple[int, frozenset[int]] | None:
    kind = rng.choices(list(WORKPLACES), weights=list(WORKPLACES.values()))[0]
    options = [v for v in venues if v.venue_type is kind]
    weights = [v.popularity**0.5 * (3 if v.district == district else 1) for v in options]
    venue = rng.choices(options, weights=weights)[0]
    if kind in SHIFT_WORK:
        days_off = rng.sample(range(7), 2)
        return venue.key, frozenset(d for d in range(7) if d not in days_off)
    return venue.key, WEEKDAYS


class _Registry:
    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng, self.today = rng, today
        self.people: list[Person] = []
        self.ids: set[str] = set()
        self.phones: set[str] = set()

    def add(
        self,
        born: date,
        family: str,
        district: str,
        *,
        phone: str | None = None,
        guardian: int | None = None,
        relation: str | None = None,
        job: tuple[int, frozenset[int]] | None = None,
    ) -> Person:
        sex = self.rng.choice("mf")
        person = Person(
            key=len(self.people),
            name=family + names.given_name(self.rng, sex, (self.today - born).days // 365),
            sex=sex,
            born=born,
            doc_number=documents.prc_id(self.rng, born, sex, self.ids),
            district=district,
            phone=phone,
            guardian=guardian,
            relation=relation,
            workplace=job[0] if job else None,
            workdays=job[1] if job else frozenset(),
        )
        self.people.append(person)
        return person


def make_people(
    rng: random.Random, residents: int, venues: list[Venue], today: date
) -> list[Person]:
    registry = _Registry(rng, today)
    for _ in range(residents):
        low, high = rng.choices(((18, 34), (35, 59), (60, 85)), weights=(0.34, 0.46, 0.20))[0]
        born = _born(rng, today, low, high)
        family = names.surname(rng)
        district = rng.choices(DISTRICTS, weights=DISTRICT_WEIGHTS)[0]
        years = (today - born).days // 365
        works = rng.random() < (0.8 if years < 60 else 0.08)
        job = _workplace(rng, venues, district) if works else None
        guardian = registry.add(
            born,
            family,
            district,
            phone=documents.mobile(rng, registry.phones),
            job=job,
        )
        if 28 <= years <= 50 and rng.random() < 0.22:
            for _ in range(rng.choice((1, 1, 2))):
                registry.add(
                    _born(rng, today, 2, min(14, years - 22)),
                    family,
                    district,
                    guardian=guardian.key,
                    relation=CHILD,
                )
        if 40 <= years <= 65 and rng.random() < 0.10:
            registry.add(
                _born(rng, today, years + 24, min(years + 38, 98)),
                names.surname(rng) if rng.random() < 0.5 else family,
                district,
                guardian=guardian.key,
                relation=ELDER,
            )
    return registry.people
