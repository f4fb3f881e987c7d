"""The demo accounts: a few people of the seeded city, each with their part in the story, and a
venue where it happened, picked from what the generator made and what tracing found; then the
staff who run the city (an authority admin, officers, an auditor, the venue's admin and staff)
and a scanner at the venue, made through the same services as real accounts.

Development only: the staff share one published password (`DEMO_STAFF_PASSWORD`), refused
outside the dev profile, and every session here is opened without a sign-in, as the operator on
the server may (`auth.open_session`, logged like a sign-in).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from healthcode.bootstrap import App
from healthcode.demo.city import City
from healthcode.demo.people import Person
from healthcode.demo.seed import Seeded
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.domain.identity import mask_name, validate_mobile
from healthcode.services import auth, staff
from healthcode.services.trace import TraceResult
from healthcode.services.venues import VenueWithPoster

# The demo city's staff password: published here and printed on screen, so dev profile only.
DEMO_STAFF_PASSWORD = "demo-city-dev-only"  # noqa: S105 - the dev-profile demo city only
DEVICE_LABEL = "demo gate"


@dataclass(frozen=True, slots=True)
class Account:
    role: str
    subject_id: str
    masked_name: str
    phone: str  # E.164; invented like everything else in the demo city
    story: str


@dataclass(frozen=True, slots=True)
class StaffLogin:
    role: str  # a staff role (domain/access.py)
    username: str
    staff_id: str
    venue_id: str | None
    totp_secret: str  # base32, for an authenticator app
    story: str

    @property
    def principal(self) -> Principal:
        return Principal(PrincipalKind.STAFF, self.staff_id, Role(self.role), self.venue_id)


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    venue_id: str
    label: str
    token: str  # shown once; the database keeps only its hash


@dataclass(frozen=True, slots=True)
class Cast:
    accounts: list[Account]
    venue: VenueWithPoster | None
    venue_story: str
    case_id: str | None  # the index case's case, to trace again
    staff: list[StaffLogin] = field(default_factory=list)
    device: Device | None = None


def _first(candidates: Iterable[Person], *preferences: set[int]) -> Person | None:
    """The first candidate in the most preferred set that has one, else the first at all."""
    people = list(candidates)
    for preferred in preferences:
        for person in people:
            if person.key in preferred:
                return person
    return people[0] if people else None


class _Casting:
    def __init__(self, city: City, seeded: Seeded) -> None:
        self.city, self.seeded = city, seeded
        self.person_of = {subject: key for key, subject in seeded.subjects.items()}
        self.infections = {i.person: i for i in city.infections}
        self.cases = {person: case for case, person in seeded.cases.items()}
        traces = seeded.traces.values()
        self.close = {self.person_of[c.subject_id] for t in traces for c in t.close}
        self.secondary = {self.person_of[c.subject_id] for t in traces for c in t.secondary}
        self.residents = [p for p in city.people if not p.is_dependant]
        self.guardians = {p.guardian for p in city.people if p.guardian is not None}
        touched = self.close | self.secondary | set(self.infections) | set(self.cases)
        self.unaffected = {p.key for p in self.residents} - touched
        self.accounts: list[Account] = []

    def account(self, role: str, person: Person, story: str) -> None:
        subject = self.seeded.subjects[person.key]
        assert person.phone is not None  # noqa: S101 - accounts are residents, with a phone
        phone = validate_mobile(person.phone)
        self.accounts.append(Account(role, subject, mask_name(person.name), phone, story))

    def people(self, subject_ids: Iterable[str]) -> list[Person]:
        """Residents (not dependants) among these subjects."""
        found = (self.city.people[self.person_of[s]] for s in subject_ids)
        return [p for p in found if not p.is_dependant]

    def index_case(self) -> int | None:
        """Infected elsewhere if possible, reported, with the most onward infections."""
        return max(
            (p for p in self.cases if p in self.infections),
            key=lambda p: (
                self.infections[p].source is None,
                sum(1 for i in self.infections.values() if i.source == p),
                -p,
            ),
            default=None,
        )

    def close_contacts(self, index: int, result: TraceResult) -> tuple[Person | None, int | None]:
        """One the index case infected (the chain), and one they did not; and a venue where
        they met: where the infection happened, if there was one."""
        infected = {p for p, i in self.infections.items() if i.source == index}
        close = self.people(c.subject_id for c in result.close)
        venue: int | None = None
        onward = _first((p for p in close if p.key in infected), set(self.cases))
        if onward is not None:
            now_a_case = " and is now a case too" if onward.key in self.cases else ""
            self.account("onward case", onward, f"met the index case, was infected{now_a_case}")
            venue = self.infections[onward.key].venue
        spared = self.close - set(self.infections) - set(self.cases)
        contact = _first((p for p in close if p.key not in infected), spared)
        if contact is not None:
            self.account("close contact", contact, "met the index case, was not infected")
            if venue is None:
                subject = self.seeded.subjects[contact.key]
                found = next(c for c in result.close if c.subject_id == subject)
                met = found.exposures[0].source.venue_id
                venue = next(k for k, v in self.seeded.venues.items() if v.venue.venue_id == met)
        return contact, venue

    def secondary_contact(self, result: TraceResult, contact: Person | None) -> None:
        via = self.seeded.subjects[contact.key] if contact else None
        followed = {self.person_of[c.subject_id] for c in result.secondary if c.via == via}
        only = self.secondary - self.close - set(self.infections) - set(self.cases)
        second = _first(
            self.people(c.subject_id for c in result.secondary), followed & only, only, followed
        )
        if second is not None:
            whom = "the close contact above" if second.key in followed else "a close contact"
            self.account("secondary contact", second, f"met {whom} after their exposure")

    def bystanders(self) -> None:
        calm = _first(p for p in self.residents if p.key in self.unaffected - self.guardians)
        if calm is not None:
            self.account("unaffected resident", calm, "no contact with any case")
        guardian = _first((p for p in self.residents if p.key in self.guardians), self.unaffected)
        if guardian is not None:
            held = [p for p in self.city.people if p.guardian == guardian.key]
            ids = ", ".join(f"{p.relation} {self.seeded.subjects[p.key]}" for p in held)
            self.account("guardian", guardian, f"holds codes for: {ids}")

    def cast(self) -> Cast:
        index = self.index_case()
        if index is None:
            self.bystanders()
            return Cast(self.accounts, self.seeded.venues.get(0), "no case yet", None)
        case_id = self.cases[index]
        result = self.seeded.traces[case_id]
        where = "came back infected from a trip" if self.infections[index].source is None else ""
        story = f"{where or 'was infected here'}; tested positive; case {case_id}"
        self.account("index case", self.city.people[index], story)
        contact, met = self.close_contacts(index, result)
        self.secondary_contact(result, contact)
        self.bystanders()
        if met is None:
            return Cast(self.accounts, self.seeded.venues.get(0), "a venue", case_id)
        story = "where the index case met their close contacts"
        return Cast(self.accounts, self.seeded.venues[met], story, case_id)


def cast(city: City, seeded: Seeded) -> Cast:
    return _Casting(city, seeded).cast()


@dataclass(frozen=True, slots=True)
class Founders:
    """The staff who run the demo city from its first day: two authority admins (the second
    person of every two-person step), a health officer, a tracer and an auditor."""

    admin: StaffLogin
    second_admin: StaffLogin
    officer: StaffLogin
    tracer: StaffLogin
    auditor: StaffLogin

    @property
    def everyone(self) -> list[StaffLogin]:
        return [self.admin, self.second_admin, self.officer, self.tracer, self.auditor]


def _login(made: staff.NewStaff, story: str) -> StaffLogin:
    a = made.account
    return StaffLogin(a.role, a.username, a.staff_id, a.venue_id, a.totp_secret, story)


def _founder(app: App, role: Role, username: str, story: str) -> StaffLogin:
    return _login(staff.bootstrap_staff(app.ctx, username, role.value, DEMO_STAFF_PASSWORD), story)


def _appointed(
    app: App,
    by: StaffLogin,
    approver: StaffLogin,
    role: Role,
    username: str,
    story: str,
    venue_id: str | None = None,
) -> StaffLogin:
    """An account asked for by one admin and approved by the other, as every account is."""
    made = staff.request_staff(
        app.ctx, by.principal, username, role.value, DEMO_STAFF_PASSWORD, venue_id
    )
    assert made.change is not None  # noqa: S101 - a request always has one
    staff.approve_change(app.ctx, approver.principal, made.change.change_id)
    return _login(made, story)


def found_staff(app: App) -> Founders:
    """The city's staff, made on its first day (so their cooling-off periods are long over by
    the demo's "now"): the operator makes the two admins and the auditor, and each officer is
    asked for by one admin and approved by the other (a different admin for each, so that the
    officer and the tracer are independent second persons for each other)."""
    if app.settings.profile != "dev":
        raise RuntimeError("demo staff share a published password: dev profile only")
    admin = _founder(app, Role.AUTHORITY_ADMIN, "demo.admin", "rules, keys, venues, labs, staff")
    second = _founder(app, Role.AUTHORITY_ADMIN, "demo.admin2", "approves what demo.admin asks")
    auditor = _founder(app, Role.AUDITOR, "demo.auditor", "frozen orders, anomalies, the log")
    officer = _appointed(app, admin, second, Role.HEALTH_OFFICER, "demo.officer",
                         "cases, assignments, appeals, approves tracers' orders")  # fmt: skip
    tracer = _appointed(app, second, admin, Role.TRACER, "demo.tracer", "no case to trace yet")
    return Founders(admin, second, officer, tracer, auditor)


def add_staff(app: App, who: Cast, founders: Founders) -> Cast:
    """After seeding: the tracer is assigned (by the health officer) to the index case's case;
    the venue's admin and staff are appointed for the cast's venue, with a scanner there."""
    tracer = founders.tracer
    if who.case_id:
        staff.assign_case(app.ctx, founders.officer.principal, who.case_id, tracer.staff_id)
        tracer = replace(tracer, story=f"assigned to case {who.case_id}")
    people = [founders.admin, founders.second_admin, founders.officer, tracer, founders.auditor]
    device = None
    if who.venue is not None:
        venue_id = who.venue.venue.venue_id
        venue_admin = _appointed(
            app, founders.admin, founders.second_admin, Role.VENUE_ADMIN, "demo.venue.admin",
            f"venue {venue_id}: devices", venue_id,
        )  # fmt: skip
        venue_staff = _appointed(
            app, founders.admin, founders.second_admin, Role.VENUE_STAFF, "demo.venue.staff",
            f"venue {venue_id}: poster", venue_id,
        )  # fmt: skip
        people += [venue_admin, venue_staff]
        made = staff.register_device(app.ctx, venue_admin.principal, venue_id, DEVICE_LABEL)
        device = Device(made.device.device_id, venue_id, made.device.label, made.token)
    return replace(who, staff=people, device=device)


def open_sessions(app: App, who: Cast) -> dict[str, auth.SignedIn]:
    """A fresh session for every demo account, by subject id or staff id. Open them with the app
    that will serve (its clock), just before serving: staff sessions idle out in minutes."""
    sessions = {
        a.subject_id: auth.open_session(
            app.ctx, Principal(PrincipalKind.RESIDENT, a.subject_id, Role.RESIDENT)
        )
        for a in who.accounts
    }
    for login in who.staff:
        sessions[login.staff_id] = auth.open_session(app.ctx, login.principal)
    return sessions
