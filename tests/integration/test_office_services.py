"""The services behind the health authority's pages, on SQLite and PostgreSQL: the city-wide dry
run of a rule set, activation by two people, a trace with its evidence in words, and the board of
open orders."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.domain.access import Role
from healthcode.domain.audit import Actor
from healthcode.domain.errors import Conflict, Forbidden, NotFound
from healthcode.services import orders, rule_approval, rules, staff
from healthcode.services.labs import parse_csv
from healthcode.services.rule_dry_run import Shift, dry_run_ruleset
from healthcode.services.status import status_of
from healthcode.services.trace import trace_case
from healthcode.services.trace_evidence import traced_case
from tests.conftest import staff_principal
from tests.integration.office_city import City, build_city, doc_number
from tests.integration.orders_city import REASON, entries
from tests.support.labs import import_results as lab_import

HEALTH = Actor("health_officer", "staff:h1")


@pytest.fixture
def city(app: App, clock: FixedClock) -> City:
    return build_city(app, clock)


def traced(app: App, city: City) -> str:
    (case_id,) = lab_import(app, parse_csv(city.csv)).cases_opened
    trace_case(app.ctx, case_id, HEALTH)
    return case_id


def load_version(app: App, version: int, **colours: str) -> None:
    doc = json.loads(
        resources.files("healthcode").joinpath("rulesets", "default.json").read_text("utf-8")
    )
    doc["version"] = version
    for rule in doc["rules"]:
        rule["colour"] = colours.get(rule["id"], rule["colour"])
    rules.load_ruleset(app.ctx, json.dumps(doc), HEALTH)


def test_a_trace_names_venues_rules_and_which_contacts_are_cases(app: App, city: City) -> None:
    (case_id,) = lab_import(app, parse_csv(city.csv)).cases_opened
    officer = staff_principal(app, "health_officer")
    staff.assign_case(app.ctx, staff_principal(app, "health_officer"), case_id, officer.ref)
    assert traced_case(app.ctx, officer, case_id).contacts == ()  # not traced yet
    assert entries(app, "case.contacts_read") == []  # nobody read: nothing logged
    trace_case(app.ctx, case_id, HEALTH)
    result = traced_case(app.ctx, officer, case_id)
    assert result.case.case_id == case_id
    close, secondary = result.contacts
    assert (close.subject_id, close.level, close.is_case) == (city.contact, "close", False)
    assert (close.venue_name, close.rule_ref, close.colour) == (
        "老街餐厅", "default@1#close", "red",
    )  # fmt: skip
    assert close.minutes >= 15
    assert (secondary.subject_id, secondary.via) == (city.secondary, city.contact)
    assert secondary.venue_name == "街角小店"
    assert secondary.rule_ref == "default@1#second"
    assert [e["action"] for e in entries(app, "case.traced")] == ["case.traced"]
    read = entries(app, "case.contacts_read")
    assert [(e["object"]["ref"], e["details"]) for e in read] == [(case_id, {"read": 2})]
    # The contact tests positive too: the trace page shows them as a case.
    now = app.ctx.clock.now()
    row = f"T-2,prc_id,{doc_number(1)},{now - 600},positive,LAB1\n"
    lab_import(app, parse_csv(city.csv.splitlines()[0] + "\n" + row))
    again = traced_case(app.ctx, officer, case_id)
    assert [(c.subject_id, c.is_case) for c in again.contacts] == [
        (city.contact, True), (city.secondary, False),
    ]  # fmt: skip
    with pytest.raises(NotFound):  # the case's gate: only whom it is assigned to
        traced_case(app.ctx, staff_principal(app, "health_officer"), case_id)


def test_the_dry_run_counts_changes_by_rule_and_changes_nothing(app: App, city: City) -> None:
    traced(app, city)
    load_version(app, 2, close="yellow", second="red")
    before = [status_of(app.ctx, s).status.colour for s in city.people]
    result = dry_run_ruleset(app.ctx, "default", 2, HEALTH)
    assert (result.candidate, result.active, result.people, result.changed) == (
        "default@2", "default@1", 3, 2,
    )  # fmt: skip
    assert set(result.shifts) == {
        Shift("red", "yellow", "default@2#close", 1),
        Shift("yellow", "red", "default@2#second", 1),
    }
    assert result.problems == ()
    assert [status_of(app.ctx, s).status.colour for s in city.people] == before
    assert rules.get_ruleset(app.ctx, "active").ruleset.version == 1
    (entry,) = entries(app, "ruleset.dry_run")
    assert entry["details"]["people"] == 3
    assert entry["details"]["changed"] == 2
    assert entry["object"]["ref"] == "default@2"
    for subject in city.people:
        assert subject not in json.dumps(entry)
    with pytest.raises(NotFound):
        dry_run_ruleset(app.ctx, "default", 9, HEALTH)


def test_activation_takes_a_second_person(app: App, city: City, clock: FixedClock) -> None:
    traced(app, city)
    load_version(app, 2, close="yellow")
    load_version(app, 3)
    health = staff_principal(app, "health_officer")
    admin, other_admin = (
        staff_principal(app, "authority_admin"),
        staff_principal(app, "authority_admin"),
    )
    with pytest.raises(Forbidden):
        rule_approval.request_activation(app.ctx, staff_principal(app, "tracer"), "default", 2)
    with pytest.raises(Conflict):
        rule_approval.request_activation(app.ctx, health, "default", 1)  # already active
    clock.advance(60)
    asked = rule_approval.request_activation(app.ctx, health, "default", 2)
    mine = rule_approval.request_activation(app.ctx, admin, "default", 3)
    assert [(r.seq, r.version) for r in rule_approval.pending(app.ctx)] == [
        (asked.seq, 2), (mine.seq, 3),
    ]  # fmt: skip
    with pytest.raises(Forbidden):
        rule_approval.approve_activation(app.ctx, health, asked.seq)  # not an admin
    with pytest.raises(Forbidden) as same:
        rule_approval.approve_activation(app.ctx, admin, mine.seq)
    assert same.value.code == "two_person_rule"
    (refusal,) = entries(app, "ruleset.activation_refused")
    assert refusal["outcome"] == "refused:same_person"
    with pytest.raises(NotFound):
        rule_approval.approve_activation(app.ctx, admin, 0)  # an entry, not a request
    assert rules.get_ruleset(app.ctx, "active").ruleset.version == 1

    clock.advance(60)
    done = rule_approval.approve_activation(app.ctx, admin, asked.seq)
    assert (done.info.ruleset.version, done.info.active) == (2, True)
    assert status_of(app.ctx, city.contact).status.colour == "yellow"
    activated = entries(app, "ruleset.activated")[-1]
    assert activated["details"]["request"] == asked.seq
    assert activated["details"]["requested_by"] == health.pseudonym
    # Anything asked before that activation can no longer be approved: no rolling back.
    assert rule_approval.pending(app.ctx) == []
    with pytest.raises(Conflict):
        rule_approval.approve_activation(app.ctx, other_admin, mine.seq)
    clock.advance(60)
    late = rule_approval.request_activation(app.ctx, health, "default", 3)
    clock.advance(rule_approval.REQUEST_SECONDS)
    assert rule_approval.pending(app.ctx) == []
    with pytest.raises(Conflict):
        rule_approval.approve_activation(app.ctx, other_admin, late.seq)
    assert rules.get_ruleset(app.ctx, "active").ruleset.version == 2


def test_the_board_lists_open_orders_newest_first(app: App, city: City, clock: FixedClock) -> None:
    tracer = staff_principal(app, "tracer")
    health = staff_principal(app, "health_officer")
    first = orders.propose_order(app.ctx, tracer, [city.bystander], "yellow", "idcl2013_art41",
                                 REASON, 3)  # fmt: skip
    clock.advance(10)
    second = orders.propose_order(app.ctx, tracer, [city.contact], "red", "idcl2013_art41",
                                  REASON, 3)  # fmt: skip
    orders.approve_order(app.ctx, health, first.order_id)
    board = orders.open_orders(app.ctx, health)
    assert [(o.order_id, o.state) for o in board] == [
        (second.order_id, "proposed"), (first.order_id, "active"),
    ]  # fmt: skip
    orders.reject_order(app.ctx, health, second.order_id)
    clock.advance(4 * 86400)  # the first has run out, marked or not
    assert orders.open_orders(app.ctx, tracer) == []
    with pytest.raises(Forbidden):
        orders.open_orders(app.ctx, staff_principal(app, Role.AUDITOR.value))
