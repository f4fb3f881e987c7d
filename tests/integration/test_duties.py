"""Separation of duties (AUTHZ-7): staff changes take two independent people; appointees, fellow
appointees and new accounts are not second persons; auditors are appointed and removed by an
auditor and an admin together; the operator only bootstraps; every step is on the log and the
report. With the city's real cooling-off period of 72 hours."""

from __future__ import annotations

import json
from pathlib import Path

import pyotp
import pytest

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.config import Settings
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal
from healthcode.domain.documents import mod11_2_check_char
from healthcode.domain.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from healthcode.services import (
    audit,
    auth,
    enrolment,
    orders,
    report,
    rule_approval,
    rules,
    staff,
)
from tests.conftest import make_settings
from tests.e2e.test_rules_api import strict_v2
from tests.integration.orders_city import BASIS, REASON, resident
from tests.support.staff import PASSWORD, appoint, founders, principal_of

HOUR = 3600


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path / "data", database_url, staff_cooling_off_hours=72)


def entries(app: App, action: str) -> list[dict[str, object]]:
    found = [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]
    return [e for e in found if e["action"] == action]


def refusal(exc: pytest.ExceptionInfo[Forbidden]) -> str:
    assert exc.value.code == "two_person_rule"
    return exc.value.message


def test_an_account_needs_a_second_admin_and_cannot_sign_in_before(
    app: App, clock: FixedClock
) -> None:
    first, second = founders(app).admins
    made = staff.request_staff(app.ctx, first, "li.tracer", "tracer", PASSWORD)
    assert made.account.state == "pending"
    assert made.change is not None
    code = auth.sign_in_staff  # a pending account is refused like a wrong password
    secret = made.account.totp_secret
    with pytest.raises(Unauthenticated):
        code(app.ctx, "li.tracer", PASSWORD, _totp(secret, clock.now()))
    with pytest.raises(Forbidden) as own:
        staff.approve_change(app.ctx, first, made.change.change_id)
    assert "second person" in refusal(own)
    approved = staff.approve_change(app.ctx, second, made.change.change_id)
    assert (approved.state, approved.activated_at) == ("active", clock.now())
    clock.advance(30)
    assert code(app.ctx, "li.tracer", PASSWORD, _totp(secret, clock.now())).principal.role is (
        Role.TRACER
    )
    (asked,) = entries(app, "staff.change_requested")
    assert asked["actor"] == {"role": "authority_admin", "ref": f"staff:{first.ref}"}
    assert asked["details"] == {"change": "create", "role": "tracer",
                                "request": made.change.change_id}  # fmt: skip
    created = [e for e in entries(app, "staff.created") if e["object"]["ref"] ==  # type: ignore[index]
               f"staff:{made.account.staff_id}"]  # fmt: skip
    assert created[0]["actor"] == {"role": "authority_admin", "ref": f"staff:{second.ref}"}
    assert created[0]["details"]["requested_by"] == first.ref  # type: ignore[index]
    (refused,) = entries(app, "staff.change_approved")
    assert refused["outcome"] == "refused:same_person"


def _totp(secret: str, now: int) -> str:
    return pyotp.TOTP(secret).at(now)


def test_a_puppet_admin_approves_nothing_its_maker_asks(app: App, clock: FixedClock) -> None:
    """An admin asks for a second 'authority admin' (an honest colleague approves it), then
    tries to use the new account as the second person for its own rule activation."""
    maker, colleague = founders(app).admins
    puppet = principal_of(appoint(app, "authority_admin", sponsor=maker, approver=colleague))
    v2 = rules_v2(app)
    request = rule_approval.request_activation(app.ctx, maker, "default", v2)
    with pytest.raises(Forbidden) as cooling:
        rule_approval.approve_activation(app.ctx, puppet, request.seq)
    assert "cooling-off" in refusal(cooling)
    clock.advance(73 * HOUR)  # long after the cooling-off period: still the maker's appointee
    request = rule_approval.request_activation(app.ctx, maker, "default", v2)
    with pytest.raises(Forbidden) as appointed:
        rule_approval.approve_activation(app.ctx, puppet, request.seq)
    assert "appointed" in refusal(appointed)
    assert rules.get_ruleset(app.ctx, "active").ruleset.version == 1
    outcomes = [e["outcome"] for e in entries(app, "ruleset.activation_refused")]
    assert outcomes == ["refused:cooling_off", "refused:appointed_by_proposer"]
    # ... nor anything it asks for itself with its maker as the second person
    helper = staff.request_staff(app.ctx, puppet, "zhao.officer", "health_officer", PASSWORD)
    assert helper.change is not None
    with pytest.raises(Forbidden):
        staff.approve_change(app.ctx, maker, helper.change.change_id)
    assert rule_approval.approve_activation(app.ctx, colleague, request.seq).info.active


def rules_v2(app: App) -> int:
    return rules.load_ruleset(app.ctx, json.dumps(strict_v2()), staff.OPERATOR).ruleset.version


def test_fellow_appointees_of_one_admin_are_not_each_others_second_person(
    app: App, clock: FixedClock
) -> None:
    maker, colleague = founders(app).admins
    tracer = principal_of(appoint(app, "tracer", sponsor=maker, approver=colleague))
    officer = principal_of(appoint(app, "health_officer", sponsor=maker, approver=colleague))
    clock.advance(73 * HOUR)
    people = [resident(app, i) for i in range(3)]
    order = orders.propose_order(app.ctx, tracer, people, "red", BASIS, REASON, 7)
    with pytest.raises(Forbidden) as same:
        orders.approve_order(app.ctx, officer, order.order_id)
    assert "same admin" in refusal(same)
    independent = principal_of(appoint(app, "health_officer", approver=colleague))
    with pytest.raises(Forbidden):  # independent, but new
        orders.approve_order(app.ctx, independent, order.order_id)
    clock.advance(73 * HOUR)
    assert orders.approve_order(app.ctx, independent, order.order_id).state == "active"
    outcomes = [e["outcome"] for e in entries(app, "order.approved")]
    assert outcomes == ["refused:same_sponsor", "refused:cooling_off", "ok"]


def test_roles_and_re_enabling_take_two_and_restart_the_cooling_off(
    app: App, clock: FixedClock
) -> None:
    first, second = founders(app).admins
    clock.advance(73 * HOUR)
    officer = appoint(app, "tracer", approver=second)
    clock.advance(73 * HOUR)
    signed = auth.open_session(app.ctx, principal_of(officer))
    change = staff.request_role(app.ctx, first, officer.account.staff_id, "health_officer")
    with pytest.raises(Forbidden):
        staff.approve_change(app.ctx, first, change.change_id)
    raised = staff.approve_change(app.ctx, second, change.change_id)
    assert raised.role == "health_officer"
    with pytest.raises(Unauthenticated):  # the session held the old role
        auth.authenticate(app.ctx, signed.token)
    now_officer = Principal(principal_of(officer).kind, raised.staff_id, Role.HEALTH_OFFICER)
    tracer = principal_of(appoint(app, "tracer", approver=second))
    clock.advance(HOUR)
    order = orders.propose_order(app.ctx, tracer, [resident(app, 1)], "red", BASIS, REASON, 7)
    with pytest.raises(Forbidden) as cooling:
        orders.approve_order(app.ctx, now_officer, order.order_id)  # re-roled an hour ago
    assert "cooling-off" in refusal(cooling)

    staff.disable_staff(app.ctx, first, raised.staff_id)
    enable = staff.request_enable(app.ctx, first, raised.staff_id)
    back = staff.approve_change(app.ctx, second, enable.change_id)
    assert back.state == "active"
    assert [e["details"]["role"] for e in entries(app, "staff.role_changed")] == [  # type: ignore[index]
        "health_officer"
    ]
    assert len(entries(app, "staff.enabled")) == 1


def test_auditors_are_appointed_and_removed_by_an_auditor_and_an_admin(app: App) -> None:
    city = founders(app)
    first, second = city.admins
    two_admins = staff.request_staff(app.ctx, first, "qin.auditor", "auditor", PASSWORD)
    assert two_admins.change is not None
    with pytest.raises(Forbidden) as pair:
        staff.approve_change(app.ctx, second, two_admins.change.change_id)
    assert "one auditor and one authority admin" in refusal(pair)
    made = staff.approve_change(app.ctx, city.auditor, two_admins.change.change_id)
    assert (made.role, made.state) == ("auditor", "active")
    # An admin cannot remove an auditor alone: it is a request, until an auditor agrees.
    removal = staff.disable_staff(app.ctx, first, made.staff_id)
    assert removal is not None
    assert {a.staff_id: a.state for a in staff.list_staff(app.ctx)}[made.staff_id] == "active"
    with pytest.raises(Forbidden):
        staff.approve_change(app.ctx, second, removal.change_id)
    staff.approve_change(app.ctx, city.auditor, removal.change_id)
    assert {a.staff_id: a.state for a in staff.list_staff(app.ctx)}[made.staff_id] == "disabled"
    with pytest.raises(Conflict) as operator:
        staff.operator_disable(app.ctx, city.auditor.ref)
    assert operator.value.code == "two_person_rule"
    with pytest.raises(InvalidInput):  # an auditor asks only for auditors' changes
        staff.request_staff(app.ctx, city.auditor, "sun.tracer", "tracer", PASSWORD)


def test_the_operator_only_bootstraps(app: App) -> None:
    founders(app)  # two admins and an auditor, made by the operator
    staff.bootstrap_staff(app.ctx, "second.auditor", "auditor", PASSWORD)
    for role in ("authority_admin", "auditor", "tracer"):
        with pytest.raises(Conflict) as refused:
            staff.bootstrap_staff(app.ctx, f"third.{role.replace('_', '.')}", role, PASSWORD)
        assert refused.value.code == "two_person_rule"
    by = {e["details"]["requested_by"] for e in entries(app, "staff.created")}  # type: ignore[index]
    assert by == {"operator"}


def test_a_mass_order_split_over_puppet_accounts_freezes_for_the_auditor(
    app: App, clock: FixedClock
) -> None:
    """Eleven officers, each naming 20 people (under every per-order and per-officer limit):
    the city's limit of 200 people a day in force freezes the eleventh for an auditor."""
    clock.advance(73 * HOUR)
    officers = [principal_of(appoint(app, "tracer")) for _ in range(11)]
    approver = principal_of(appoint(app, "health_officer"))
    clock.advance(73 * HOUR)
    people = _many(app, 220)
    states = []
    for i, officer in enumerate(officers):
        chunk = people[i * 20 : (i + 1) * 20]
        order = orders.propose_order(app.ctx, officer, chunk, "red", BASIS, REASON, 7)
        states.append(orders.approve_order(app.ctx, approver, order.order_id).state)
    assert states == ["active"] * 10 + ["frozen"]
    (frozen,) = entries(app, "order.frozen")
    assert frozen["details"]["why"] == "city_day"  # type: ignore[index]
    made = report.report(app.ctx, days=1).days[-1]
    assert made.orders["frozen"] == 1
    assert made.current_staff is not None
    assert made.current_staff["tracer"] == 11


def _many(app: App, n: int) -> list[str]:
    found = []
    for i in range(n):
        body = f"44010119900101{i:03d}"
        name = "民" + "甲乙丙丁戊己庚辛壬癸"[i % 10] * (1 + i // 10)  # names have no digits
        document = body + mod11_2_check_char(body)
        cmd = enrolment.EnrolResident(name, "prc_id", document, f"139{i:08d}")
        found.append(enrolment.enrol_resident(app.ctx, cmd).subject_id)
    return found
