"""AUTHZ-3, AUTHZ-5: the access gates. A resident reaches themselves and their dependants; an
officer reaches a person only through an open case assigned to them that involves the person,
and that read is logged with the case as purpose; everything else looks like a missing object
and goes on the log as a refused attempt."""

from __future__ import annotations

import json

import pytest

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.domain.errors import Forbidden, NotFound, Refused
from healthcode.services import access, audit, enrolment, staff
from healthcode.services.labs import parse_csv
from healthcode.services.ports import StoredExposure
from tests.support.labs import import_results as lab_import
from tests.support.staff import appoint, principal_of

PASSWORD = "correct horse battery staple"
READ = "resident.status.read"


def resident(app: App, doc: str, phone: str) -> str:
    cmd = enrolment.EnrolResident("冯三", "prc_id", doc, phone)
    return enrolment.enrol_resident(app.ctx, cmd).subject_id


def as_resident(subject_id: str) -> Principal:
    return Principal(PrincipalKind.RESIDENT, subject_id, Role.RESIDENT)


def officer(app: App, username: str, role: str) -> Principal:
    return principal_of(appoint(app, role, username=username))


def gate(app: App, principal: Principal, subject_id: str, action: str = READ) -> access.Grant:
    """Through the gate as a use case would, logging a refusal as the web layer does."""
    try:
        with app.ctx.uow() as uow:
            grant = access.access_subject(app.ctx, uow, principal, subject_id, action)
            uow.commit()
            return grant
    except Refused as refused:
        access.log_refusal(app.ctx, principal, refused)
        raise


def entries(app: App, action: str) -> list[dict[str, object]]:
    found = [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]
    return [e for e in found if e["action"] == action]


@pytest.fixture
def city(app: App, clock: FixedClock) -> dict[str, str]:
    case_person = resident(app, "11010519491231002X", "13812345678")
    contact = resident(app, "110105199002020034", "13812345679")
    stranger = resident(app, "110105198001010016", "13812345670")
    rows = parse_csv(
        "test_id,doc_type,doc_number,sample_time,result,lab\n"
        f"T-1,prc_id,11010519491231002X,{clock.now() - 3600},positive,LAB1\n"
    )
    (case_id,) = lab_import(app, rows).cases_opened
    with app.ctx.uow() as uow:
        exposure = StoredExposure(
            "x1", contact, case_id, "close", "v1", clock.now() - 7200, clock.now() - 3600,
            "c1", "c0", None, clock.now(),
        )  # fmt: skip
        uow.exposures.add_new([exposure])
        uow.commit()
    return {"case": case_id, "case_person": case_person, "contact": contact, "stranger": stranger}


def test_a_resident_reaches_themselves_and_their_dependants_only(
    app: App, city: dict[str, str]
) -> None:
    me = city["stranger"]
    child = enrolment.add_dependant(app.ctx, enrolment.AddDependant(me, "冯小", "child")).subject_id
    assert gate(app, as_resident(me), me).role is Role.RESIDENT
    assert gate(app, as_resident(me), child).role is Role.GUARDIAN
    with pytest.raises(NotFound) as refused:
        gate(app, as_resident(me), city["contact"])
    with pytest.raises(NotFound) as missing:
        gate(app, as_resident(me), "f" * 32)
    assert refused.value.as_dict() == missing.value.as_dict()  # forbidden looks like missing
    assert len(entries(app, "access.refused")) == 2


def test_an_officer_reaches_people_only_through_an_assigned_open_case(
    app: App, city: dict[str, str]
) -> None:
    tracer = officer(app, "li.tracer", "tracer")
    with pytest.raises(NotFound):  # not assigned yet
        gate(app, tracer, city["case_person"])
    boss = officer(app, "ma.officer", "health_officer")
    staff.assign_case(app.ctx, boss, city["case"], tracer.ref)
    for person in ("case_person", "contact"):
        grant = gate(app, tracer, city[person])
        assert (grant.role, grant.case_id) == (Role.TRACER, city["case"])
    with pytest.raises(NotFound):  # the case does not involve them
        gate(app, tracer, city["stranger"])
    reads = entries(app, "personal_data.read")
    assert [r["details"] for r in reads] == [{"action": READ, "case": city["case"]}] * 2
    assert all(r["purpose"] == "case_investigation" for r in reads)
    assert all(r["actor"] == {"role": "tracer", "ref": f"staff:{tracer.ref}"} for r in reads)
    refused = entries(app, "access.refused")
    assert len(refused) == 2
    assert all(city["stranger"] not in json.dumps(r) for r in refused)  # commitments only


def test_roles_outside_the_policy_are_forbidden_outright(app: App, city: dict[str, str]) -> None:
    auditor = officer(app, "yang.auditor", "auditor")
    with pytest.raises(Forbidden):
        gate(app, auditor, city["contact"])
    tracer = officer(app, "li.tracer", "tracer")
    with pytest.raises(Forbidden):  # no role may read where a person has been, but the trace
        gate(app, tracer, city["contact"], "resident.checkins.read")


def test_venue_side_principals_act_for_their_own_venue(app: App) -> None:
    device = Principal(PrincipalKind.DEVICE, "d1", Role.VENUE_DEVICE, "v1")
    access.access_venue(device, "v1", "venue.scan")
    with pytest.raises(Refused):
        access.access_venue(device, "v2", "venue.scan")
    with pytest.raises(Forbidden):
        access.access_venue(device, "v1", "venue.poster.rotate")
    admin = Principal(PrincipalKind.STAFF, "s1", Role.AUTHORITY_ADMIN)
    access.access_venue(admin, "v2", "venue.poster.rotate")


def test_a_resident_sees_who_read_their_record_and_who_was_refused(
    app: App, city: dict[str, str]
) -> None:
    """PRIV-4: every read of my record, and every refused attempt, in my own list."""
    tracer = officer(app, "li.tracer", "tracer")
    with pytest.raises(NotFound):
        gate(app, tracer, city["contact"])  # refused: not assigned yet
    boss = officer(app, "ma.officer", "health_officer")
    staff.assign_case(app.ctx, boss, city["case"], tracer.ref)
    gate(app, tracer, city["contact"])
    mine = audit.about_subject(app.ctx, city["contact"])
    seen = [(e.action, e.actor_role, e.actor_ref, e.outcome) for e in mine[:2]]
    assert seen == [
        ("personal_data.read", "tracer", f"staff:{tracer.ref}", "ok"),
        ("access.refused", "tracer", f"staff:{tracer.ref}", "refused:not_permitted"),
    ]
    assert mine[0].purpose == "case_investigation"
    assert mine[0].details == {"action": READ, "case": city["case"]}
    theirs = audit.about_subject(app.ctx, city["stranger"])
    assert [e.action for e in theirs] == ["resident.enrolled"]  # nobody read the stranger
