"""The demo city generator: reproducible, valid people and venues, plausible movements, and an
outbreak whose chains are there in the check-ins for tracing to find."""

from __future__ import annotations

import collections
import itertools
from datetime import date

import pytest

from healthcode.demo.city import City, CityConfig, generate
from healthcode.demo.movements import Visit
from healthcode.demo.outbreak import DETECTABLE_AFTER
from healthcode.demo.timeline import DAY, Timeline
from healthcode.domain.checkins import MAX_DWELL_SECONDS
from healthcode.domain.identity import (
    prc_id_birth_date,
    validate_mobile,
    validate_name,
    validate_prc_id,
)
from healthcode.domain.venues import VenueType, validate_venue
from healthcode.services.enrolment import MAX_DEPENDANTS, Relation

END = 1_795_000_000  # 2026-11-18 ~ 06:26 in China: the last day has just begun
TODAY = date(2026, 11, 18)
CONFIG = CityConfig(residents=800, days=14)


@pytest.fixture(scope="module")
def city() -> City:
    return generate(CONFIG, END)


def test_the_same_seed_and_end_give_the_same_city(city: City) -> None:
    assert generate(CONFIG, END) == city


def test_different_seeds_give_different_cities(city: City) -> None:
    other = generate(CityConfig(seed=CONFIG.seed + 1, residents=800, days=14), END)
    assert {p.doc_number for p in other.people}.isdisjoint({p.doc_number for p in city.people})
    assert [v.time_in for v in other.visits[:50]] != [v.time_in for v in city.visits[:50]]


def test_the_days_are_local_days_ending_at_the_end() -> None:
    timeline = Timeline(END, 14)
    assert timeline.date_of(13) == TODAY
    assert timeline.day_start(13) <= END < timeline.day_start(13) + DAY
    assert timeline.minute_of_day(timeline.start) == 0  # local midnight
    assert timeline.date_of(0) == date(2026, 11, 5)


def test_people_have_valid_unique_documents_phones_and_names(city: City) -> None:
    assert len(city.residents) == CONFIG.residents
    assert len({p.doc_number for p in city.people}) == len(city.people)
    phones = [p.phone for p in city.residents]
    assert len(set(phones)) == len(phones)
    for person in city.people:
        assert validate_prc_id(person.doc_number, TODAY) == person.doc_number
        assert prc_id_birth_date(person.doc_number, TODAY) == person.born
        assert int(person.doc_number[16]) % 2 == (1 if person.sex == "m" else 0)
        assert validate_name(person.name) == person.name
        assert 2 <= len(person.name) <= 4
        if not person.is_dependant:
            assert person.phone is not None
            assert validate_mobile(person.phone) == "+86" + person.phone
            assert (TODAY - person.born).days >= 18 * 365


def test_dependants_are_children_and_elders_of_residents(city: City) -> None:
    held = collections.Counter(p.guardian for p in city.dependants)
    assert 0.05 * len(city.residents) < len(held) < 0.5 * len(city.residents)
    assert max(held.values()) <= MAX_DEPENDANTS
    relations = {p.relation for p in city.dependants}
    assert relations == {Relation.CHILD.value, Relation.ELDER.value}
    for dependant in city.dependants:
        assert dependant.guardian is not None
        guardian = city.people[dependant.guardian]
        assert not guardian.is_dependant
        assert dependant.phone is None
        assert dependant.district == guardian.district
        older = dependant.born < guardian.born
        assert older == (dependant.relation == Relation.ELDER.value)


def test_venues_pass_the_domain_validation_and_cover_every_type(city: City) -> None:
    for venue in city.venues:
        draft = validate_venue(
            name_zh=venue.name_zh,
            name_en=venue.name_en,
            address=venue.address,
            district=venue.district,
            venue_type=venue.venue_type.value,
            operator=venue.operator,
        )
        assert draft.name_zh == venue.name_zh
        assert 0 <= venue.opens < venue.closes <= 24 * 60
    kinds = {v.venue_type for v in city.venues}
    assert kinds == set(VenueType) - {VenueType.RESIDENTIAL, VenueType.OTHER}


def test_popularity_is_heavy_tailed(city: City) -> None:
    restaurants = [v for v in city.venues if v.venue_type is VenueType.RESTAURANT]
    weights = sorted((v.popularity for v in restaurants), reverse=True)
    assert weights[0] / weights[len(weights) // 2] > 10  # Zipf: 1/rank^s
    visits = collections.Counter(v.venue for v in city.visits)
    counts = sorted((visits[v.key] for v in restaurants), reverse=True)
    assert counts[0] >= 4 * counts[len(counts) // 2]
    assert sum(counts[: len(counts) // 5]) >= 0.4 * sum(counts)  # top 20% draw 40%+


def test_everyone_moves_a_few_times_a_day(city: City) -> None:
    per_resident = len([v for v in city.visits if not city.people[v.person].is_dependant])
    average = per_resident / len(city.residents) / CONFIG.days
    assert 1.0 < average < 4.0
    assert any(city.people[v.person].is_dependant for v in city.visits)  # some come along


def test_visits_respect_opening_hours_and_the_longest_stay(city: City) -> None:
    timeline = city.timeline
    ongoing = 0
    for visit in city.visits:
        venue = city.venues[visit.venue]
        assert timeline.start <= visit.time_in < timeline.end
        assert timeline.minute_of_day(visit.time_in) >= venue.opens
        if visit.time_out is None:
            ongoing += 1
            assert timeline.day_of(visit.time_in) == CONFIG.days - 1
            continue
        assert visit.time_in < visit.time_out <= timeline.end
        assert visit.time_out - visit.time_in <= MAX_DWELL_SECONDS[venue.venue_type]
        assert timeline.day_of(visit.time_out - 1) == timeline.day_of(visit.time_in)
        assert timeline.minute_of_day(visit.time_out - 1) < venue.closes


def test_nobody_is_in_two_places_at_once(city: City) -> None:
    by_person: dict[int, list[Visit]] = collections.defaultdict(list)
    for visit in city.visits:
        by_person[visit.person].append(visit)
    for visits in by_person.values():
        visits.sort(key=lambda v: v.time_in)
        for before, after in itertools.pairwise(visits):
            assert before.ends(city.timeline.end) <= after.time_in


def test_the_outbreak_spreads_in_chains_through_shared_visits(city: City) -> None:
    infections = {i.person: i for i in city.infections}
    index_cases = [i for i in city.infections if i.source is None]
    assert len(index_cases) == 3
    onward = [i for i in city.infections if i.source is not None]
    assert any(infections[i.source].source is not None for i in onward if i.source is not None)
    rules = CONFIG.rules
    end = city.timeline.end
    for infection in onward:
        assert infection.source is not None
        source = infections[infection.source]
        assert source.infectious_from <= infection.at
        # they really were at that venue together, long enough to count as a contact
        theirs = [
            v for v in city.visits if v.person == infection.source and v.venue == infection.venue
        ]
        mine = [
            v for v in city.visits if v.person == infection.person and v.venue == infection.venue
        ]
        assert any(
            min(s.ends(end) + rules.extension, m.ends(end)) - max(s.time_in, m.time_in)
            >= rules.min_overlap
            for s in theirs
            for m in mine
        )


def test_lab_results_match_the_infections_and_isolate(city: City) -> None:
    infections = {i.person: i for i in city.infections}
    positives = [t for t in city.tests if t.positive]
    assert positives
    assert len(city.tests) > 3 * len(positives)  # contacts and screening mostly test negative
    assert len({(t.lab, t.test_id) for t in city.tests}) == len(city.tests)
    first_report: dict[int, int] = {}
    for test in city.tests:
        assert test.sample_time < test.reported_at <= city.timeline.end
        infected = infections.get(test.person)
        if test.positive:
            assert infected is not None
            assert test.sample_time >= infected.at + DETECTABLE_AFTER
            first_report.setdefault(test.person, test.reported_at)
        elif infected is not None:
            assert test.sample_time < infected.at + DETECTABLE_AFTER
    for visit in city.visits:  # isolated: no check-in after the positive report
        assert visit.time_in < first_report.get(visit.person, city.timeline.end + 1)


def test_the_people_and_venues_depend_on_the_seed_only(city: City) -> None:
    later = generate(CONFIG, END + 3 * DAY + 5 * 3600)
    assert [p.name for p in later.people] == [p.name for p in city.people]
    assert later.venues == city.venues
    assert later.visits != city.visits  # their days follow the calendar


@pytest.mark.parametrize("days", [3, 4, 7, 14])
@pytest.mark.parametrize("residents", [10, 300])
def test_any_length_of_city_has_a_case_to_trace(days: int, residents: int) -> None:
    """However short the city and however few its people, a traveller falls ill, tests positive
    and is reported before its end: the demo always has a case to trace."""
    made = generate(CityConfig(seed=CONFIG.seed, residents=residents, days=days), END)
    reported = [t for t in made.tests if t.positive and t.reported_at <= made.timeline.end]
    assert reported
