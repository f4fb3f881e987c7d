"""Writing a generated city into a database through the services, as its days happened.

A settable clock replays the city: keys, venues and people exist an hour before the first day;
each day's check-ins arrive as a bulk import when the day is over; each lab batch is imported
at the time the lab sent it (so a case's isolation is the time its result came in); and the
cases a day's results opened are traced that evening, once its check-ins are in, so that the
notices, colours and the transparency report follow the outbreak day by day (a case opened
on the last day is traced when the city reaches now). Nothing here bypasses a service.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from healthcode.bootstrap import App, initialise
from healthcode.demo.city import City
from healthcode.demo.outbreak import LabTest
from healthcode.demo.timeline import HOUR
from healthcode.domain.accounts import Principal
from healthcode.domain.audit import Actor
from healthcode.services import checkin_import, enrolment, lab_registry, labs, trace, venues
from healthcode.services.venues import VenueWithPoster

AUTHORITY = Actor("authority_admin", "demo")
TRACER = Actor("tracer", "demo")
DOC_TYPE = "prc_id"


class SettableClock(Protocol):
    def now(self) -> int: ...
    def set(self, now: int) -> None: ...


class Phases(Protocol):
    """Progress of the long phases: `phase(name, total)` returns `advance(n)`."""

    def phase(self, name: str, total: int) -> Callable[[int], None]: ...


class Quiet:
    def phase(self, name: str, total: int) -> Callable[[int], None]:
        return lambda n: None


@dataclass
class Seeded:
    """What went in: the ids the services gave, and what the imports and traces reported."""

    subjects: dict[int, str] = field(default_factory=dict)  # Person key -> subject id
    venues: dict[int, VenueWithPoster] = field(default_factory=dict)  # Venue key -> venue
    checkins: int = 0
    lab_results: int = 0
    cases: dict[str, int] = field(default_factory=dict)  # case id -> Person key
    traces: dict[str, trace.TraceResult] = field(default_factory=dict)  # case id -> result


def _register_venues(app: App, city: City, seeded: Seeded, phases: Phases) -> None:
    advance = phases.phase("registering venues", len(city.venues))
    for venue in city.venues:
        command = venues.RegisterVenue(
            venue.name_zh,
            venue.name_en,
            venue.address,
            venue.district,
            venue.venue_type.value,
            venue.operator,
        )
        seeded.venues[venue.key] = venues.register_venue(app.ctx, command, AUTHORITY)
        advance(1)


def _enrol(app: App, city: City, seeded: Seeded, phases: Phases) -> None:
    advance = phases.phase("enrolling residents and dependants", len(city.people))
    for person in city.people:
        if person.guardian is None:
            assert person.phone is not None  # noqa: S101 - every resident has a phone
            enrolled = enrolment.enrol_resident(
                app.ctx,
                enrolment.EnrolResident(person.name, DOC_TYPE, person.doc_number, person.phone),
            )
        else:
            enrolled = enrolment.add_dependant(
                app.ctx,
                enrolment.AddDependant(
                    seeded.subjects[person.guardian],
                    person.name,
                    person.relation or enrolment.Relation.CHILD.value,
                    DOC_TYPE,
                    person.doc_number,
                ),
            )
        seeded.subjects[person.key] = enrolled.subject_id
        advance(1)


def _lab_rows(city: City, batch: list[LabTest]) -> list[labs.LabRow]:
    return [
        labs.LabRow(
            line,
            test.test_id,
            DOC_TYPE,
            city.people[test.person].doc_number,
            str(test.sample_time),
            "positive" if test.positive else "negative",
            test.lab,
        )
        for line, test in enumerate(batch, start=1)
    ]


def _replay_days(
    app: App,
    clock: SettableClock,
    city: City,
    seeded: Seeded,
    phases: Phases,
    lab_of: dict[str, Principal],
) -> None:
    """Each day's check-ins at its end, each lab batch when it was sent, in time order."""
    timeline = city.timeline
    by_day: defaultdict[int, list[checkin_import.CheckInRow]] = defaultdict(list)
    for visit in city.visits:
        by_day[timeline.day_of(visit.time_in)].append(
            checkin_import.CheckInRow(
                seeded.venues[visit.venue].venue.venue_id,
                seeded.subjects[visit.person],
                visit.time_in,
                visit.time_out,
            )
        )
    batches: defaultdict[tuple[int, str], list[LabTest]] = defaultdict(list)
    for test in city.tests:
        batches[test.reported_at, test.lab].append(test)
    # (time, 0 = check-ins of a day / 1 = a lab batch, key): check-ins first at equal times
    events = sorted(
        [(timeline.day_end(day), 0, (day, "")) for day in by_day]
        + [(at, 1, (at, lab)) for at, lab in batches]
    )
    advance_checkins = phases.phase("importing check-ins, day by day", len(city.visits))
    advance_labs = phases.phase("importing lab results as labs sent them", len(city.tests))
    positives = sum(1 for t in city.tests if t.positive)
    advance_traces = phases.phase("tracing each day's new cases (depth 2)", positives)
    opened: list[str] = []  # cases the day's results opened, traced in the evening
    for at, kind, key in events:
        clock.set(at)
        if kind == 0:
            report = checkin_import.import_checkins(
                app.ctx, by_day[key[0]], AUTHORITY, advance_checkins
            )
            seeded.checkins += report.imported
            _trace(app, seeded, opened, advance_traces)
            opened = []
            continue
        batch = batches[key]
        imported = labs.import_results(app.ctx, _lab_rows(city, batch), lab_of[key[1]])
        seeded.lab_results += imported.imported
        opened += imported.cases_opened
        advance_labs(len(batch))
    clock.set(timeline.end)
    _trace(app, seeded, opened, advance_traces)


def _trace(app: App, seeded: Seeded, case_ids: list[str], advance: Callable[[int], None]) -> None:
    if case_ids:
        report = trace.trace_outbreak(app.ctx, case_ids, TRACER, 2, advance)
        seeded.traces.update((result.case_id, result) for result in report.traced)


def _cases(app: App, seeded: Seeded) -> None:
    person_of = {subject: key for key, subject in seeded.subjects.items()}
    seeded.cases = {case.case_id: person_of[case.subject_id] for case in labs.open_cases(app.ctx)}


def _register_labs(
    app: App, city: City, admins: tuple[Principal, Principal]
) -> dict[str, Principal]:
    """The city's labs, each with a key of its own, asked for by one admin and approved by the
    other (as every lab is); the demo keeps no private key: it sends the labs' results itself,
    through the same service a lab's signed request reaches."""
    found: dict[str, Principal] = {}
    for code in sorted({test.lab for test in city.tests}):
        key = ec.generate_private_key(ec.SECP256R1())
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        asked = lab_registry.request_lab(
            app.ctx, admins[0], code, f"{code} 检测中心", base64.b64encode(public).decode()
        )
        found[code] = labs.lab_principal(lab_registry.approve_lab(app.ctx, admins[1],
                                                                  asked.lab_id))  # fmt: skip
    return found


def seed(
    app: App,
    clock: SettableClock,
    city: City,
    admins: tuple[Principal, Principal],
    phases: Phases | None = None,
) -> Seeded:
    """Write `city` into a database initialised with its founding staff (`admins`: the two
    authority admins who register its labs). `app` must run on `clock`."""
    phases = phases or Quiet()
    seeded = Seeded()
    clock.set(city.timeline.start - HOUR)
    initialise(app)
    lab_of = _register_labs(app, city, admins)
    _register_venues(app, city, seeded, phases)
    _enrol(app, city, seeded, phases)
    _replay_days(app, clock, city, seeded, phases, lab_of)
    _cases(app, seeded)
    return seeded
