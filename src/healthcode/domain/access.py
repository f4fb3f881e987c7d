"""Who may do what: the roles, the actions, and one table between them (AUTHZ-1, AUTHZ-2).

Deny by default: an action not in `POLICY` is allowed to nobody, and every HTTP route must name
its action (the app refuses to start otherwise). The table answers only "may this role attempt
this kind of action at all"; which *object* a principal may touch (their own record, their
dependant's, their venue's, a case they are assigned to) is decided by the `access_*` gates in
services/access.py, which log every read of personal data with its purpose.

There is deliberately no action that reads where a person has been except the trace of a
confirmed case (`case.trace`), and no action that sets a colour: colours are derived.
"""

from __future__ import annotations

from enum import StrEnum

from healthcode.domain.errors import N_


class Role(StrEnum):
    PUBLIC = "public"  # anyone, not signed in
    APPLICANT = "applicant"  # proved a phone number, not yet enrolled
    RESIDENT = "resident"
    GUARDIAN = "guardian"  # a resident acting for a dependant (decided per object)
    VENUE_DEVICE = "venue_device"  # a scanner with a device token, bound to one venue
    VENUE_STAFF = "venue_staff"
    VENUE_ADMIN = "venue_admin"
    TRACER = "tracer"
    HEALTH_OFFICER = "health_officer"
    AUTHORITY_ADMIN = "authority_admin"
    AUDITOR = "auditor"
    LAB = "lab"  # a registered lab, by the signature of its own key (domain/labs.py)


STAFF_ROLES = frozenset(
    {
        Role.VENUE_STAFF,
        Role.VENUE_ADMIN,
        Role.TRACER,
        Role.HEALTH_OFFICER,
        Role.AUTHORITY_ADMIN,
        Role.AUDITOR,
    }
)
OFFICERS = frozenset({Role.TRACER, Role.HEALTH_OFFICER})
VENUE_SIDE = frozenset({Role.VENUE_DEVICE, Role.VENUE_STAFF, Role.VENUE_ADMIN})
SIGNED_IN = frozenset(Role) - {Role.PUBLIC, Role.LAB}  # a lab signs each request: no session
EVERYONE = frozenset(Role)
SELF = frozenset({Role.RESIDENT})  # a resident, for themselves or a dependant (object gate)

# Each role as a message names it (translated on the pages with the message).
ROLE_NAMES = {
    Role.PUBLIC: N_("someone who is not signed in"),
    Role.APPLICANT: N_("someone not yet enrolled"),
    Role.RESIDENT: N_("a resident"),
    Role.GUARDIAN: N_("a guardian"),
    Role.VENUE_DEVICE: N_("a venue's scanner"),
    Role.VENUE_STAFF: N_("venue staff"),
    Role.VENUE_ADMIN: N_("a venue admin"),
    Role.TRACER: N_("a tracer"),
    Role.HEALTH_OFFICER: N_("a health officer"),
    Role.AUTHORITY_ADMIN: N_("an authority admin"),
    Role.AUDITOR: N_("an auditor"),
    Role.LAB: N_("a laboratory"),
}

# action -> roles that may attempt it. Object gates narrow this further.
POLICY: dict[str, frozenset[Role]] = {
    # Public: the log, the trust lists, the published rules, verification.
    "ops.health": EVERYONE,
    "log.read": EVERYONE,
    "trust.read": EVERYONE,
    "rules.read": EVERYONE,
    "code.verify": EVERYONE,
    "place_code.check": EVERYONE,
    "report.read": EVERYONE,
    "venue.read": EVERYONE,  # name, type, district: what the poster shows anyway
    # Web pages: which audience may open them (what a page shows or does is then decided by the
    # same actions and gates as the API).
    "page.public": EVERYONE,
    "page.enrol": frozenset({Role.APPLICANT}),
    "page.resident": SELF,
    "page.venue": VENUE_SIDE,
    "page.office": OFFICERS | {Role.AUTHORITY_ADMIN},
    "page.auditor": frozenset({Role.AUDITOR}),
    # Signing in and out.
    "auth.login": EVERYONE,
    "auth.session": SIGNED_IN,
    "auth.logout": SIGNED_IN,
    # Residents (and guardians, for their dependants).
    "resident.enrol": frozenset({Role.APPLICANT, Role.HEALTH_OFFICER}),
    "resident.dependant.add": SELF,
    "resident.dependant.list": SELF,
    "resident.code.issue": SELF,
    "resident.status.read": SELF | OFFICERS,  # officers: only within an assigned open case
    "resident.status.what_if": SELF,
    "resident.notices.read": SELF,
    "resident.checkins.read": SELF,  # never officers: tracing is the only "where was this person"
    "resident.checkin": SELF,
    "resident.symptoms.report": SELF,
    "resident.log.read": SELF,  # who read my record, in which role, why
    # Venues.
    "venue.register": frozenset({Role.AUTHORITY_ADMIN}),
    "venue.poster.read": frozenset({Role.VENUE_STAFF, Role.VENUE_ADMIN, Role.AUTHORITY_ADMIN}),
    "venue.poster.rotate": frozenset({Role.VENUE_ADMIN, Role.AUTHORITY_ADMIN}),
    "venue.scan": VENUE_SIDE,
    "venue.upload": VENUE_SIDE,
    "venue.device.manage": frozenset({Role.VENUE_ADMIN}),
    # Labs: registered by two admins; only a lab submits results, never a member of staff.
    "lab.read": EVERYONE,  # the public list of labs, their codes and keys
    "lab.register": frozenset({Role.AUTHORITY_ADMIN}),  # ask for a lab, or revoke one
    "lab.approve": frozenset({Role.AUTHORITY_ADMIN}),  # a second, independent admin
    "lab.submit": frozenset({Role.LAB}),
    # Cases.
    "case.list": OFFICERS,
    "case.assign": frozenset({Role.HEALTH_OFFICER}),
    "case.trace": OFFICERS,  # only a case they are assigned to
    "case.trace_outbreak": frozenset({Role.HEALTH_OFFICER}),
    "fact.quarantine": OFFICERS,
    "fact.vaccination": frozenset({Role.HEALTH_OFFICER}),
    # Manual health orders: two officers of different roles; auditors release frozen ones.
    "order.propose": OFFICERS,
    "order.review": OFFICERS | {Role.AUTHORITY_ADMIN, Role.AUDITOR},
    "order.decide": OFFICERS | {Role.AUTHORITY_ADMIN},
    "order.revoke": OFFICERS | {Role.AUTHORITY_ADMIN},
    "order.release": frozenset({Role.AUDITOR}),
    "resident.orders.read": SELF,
    "resident.appeal.file": SELF,
    "resident.appeals.read": SELF,
    "appeal.queue": frozenset({Role.HEALTH_OFFICER}),
    "appeal.decide": frozenset({Role.HEALTH_OFFICER}),
    "anomaly.read": frozenset({Role.AUDITOR}),
    # Rules, colours, keys: the authority.
    "rules.load": frozenset({Role.HEALTH_OFFICER, Role.AUTHORITY_ADMIN}),
    # approves a request (a second person): an admin, or an auditor when the rule set's new
    # colours concentrate on one venue, district or hour (services/rule_approval.py)
    "rules.activate": frozenset({Role.AUTHORITY_ADMIN, Role.AUDITOR}),
    "rules.activation.request": frozenset({Role.HEALTH_OFFICER, Role.AUTHORITY_ADMIN}),
    "rules.dry_run": frozenset({Role.HEALTH_OFFICER, Role.AUTHORITY_ADMIN}),  # logged
    "status.sweep": frozenset({Role.AUTHORITY_ADMIN}),
    "keys.read": frozenset({Role.AUTHORITY_ADMIN, Role.AUDITOR}),
    "keys.manage": frozenset({Role.AUTHORITY_ADMIN}),
    "trust.import": frozenset({Role.AUTHORITY_ADMIN}),
    # Staff accounts: one person asks, a second independent one decides (domain/duties.py);
    # auditors take part only in changes to auditors' accounts (decided per request).
    "staff.read": frozenset({Role.AUTHORITY_ADMIN, Role.AUDITOR}),
    "staff.request": frozenset({Role.AUTHORITY_ADMIN, Role.AUDITOR}),
    "staff.decide": frozenset({Role.AUTHORITY_ADMIN, Role.AUDITOR}),
}


def allowed(action: str, role: Role) -> bool:
    """Deny by default: unknown actions are allowed to nobody."""
    return role in POLICY.get(action, frozenset())
