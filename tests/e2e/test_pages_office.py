"""The health authority's pages over HTTP, on SQLite and PostgreSQL: the start page by role, lab
import, cases, assignment and tracing (with the graph), manual orders, appeals, and rule sets
(load, dry run, two-person activation). Bad input answers 4xx naming the field and stores
nothing; a tracer not assigned to a case gets a 404 page for it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.config import Settings
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.entrypoints.web.app import create_app
from healthcode.services import appeals, lab_registry, orders, rules, staff
from healthcode.services.labs import parse_csv
from tests.conftest import headers_of, make_settings, staff_principal
from tests.integration.office_city import City, build_city
from tests.integration.orders_city import entries
from tests.support.labs import import_results as lab_import
from tests.support.labs import new_key
from tests.support.staff import founders

REASON = "与确诊病例同场所停留，需居家健康观察"
EN = {"Accept-Language": "en"}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Orders naming more than two people are frozen until an auditor releases them."""
    return make_settings(tmp_path / "data", database_url, order_freeze_threshold=2)


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture
def city(app: App, clock: FixedClock) -> City:
    return build_city(app, clock)


def officer(app: App, role: str) -> tuple[Principal, dict[str, str]]:
    who = staff_principal(app, role)
    return who, {**headers_of(app, who), **EN}


def opened_case(app: App, city: City) -> str:
    (case_id,) = lab_import(app, parse_csv(city.csv)).cases_opened
    return case_id


def test_the_start_page_links_only_to_what_the_role_may_do(app: App, client: TestClient) -> None:
    expected = {
        "tracer": {"labs", "cases", "propose", "orders"},
        "health_officer": {"labs", "cases", "propose", "orders", "appeals", "rules"},
        "authority_admin": {"labs", "orders", "rules"},
    }
    for role, tasks in expected.items():
        page = client.get("/office", headers=officer(app, role)[1])
        assert page.status_code == 200
        assert set(re.findall(r'data-testid="task-(\w+)"', page.text)) == tasks
    zh = client.get("/office", headers={**officer(app, "tracer")[1], "Accept-Language": "zh-CN"})
    assert "流调员" in zh.text
    assert client.get("/office", follow_redirects=False).headers["location"].startswith("/sign-in")
    assert client.get("/office", headers=officer(app, "auditor")[1]).status_code == 403


def test_labs_are_listed_and_registered_by_two_admins_and_nobody_uploads_results(
    app: App, client: TestClient
) -> None:
    _, health = officer(app, "health_officer")
    page = client.get("/office/labs", headers=health)
    assert page.status_code == 200
    assert 'type="file"' not in page.text  # no member of staff enters a result
    assert 'id="lab-form"' not in page.text
    _, public = new_key()
    form = {"code": "GZLAB7", "name": "广州七号检测中心", "public_key": public}
    assert client.post("/office/labs", data=form, headers=health).status_code == 403
    first, second = ({**headers_of(app, p), **EN} for p in founders(app).admins)
    bad = client.post("/office/labs", data={**form, "public_key": "not base64"}, headers=first)
    assert bad.status_code == 422
    assert 'data-field="public_key"' in bad.text
    asked = client.post("/office/labs", data=form, headers=first, follow_redirects=False)
    assert asked.status_code == 303
    (lab,) = lab_registry.list_labs(app.ctx)
    mine = client.get("/office/labs", headers=first).text
    assert f'action="/office/labs/{lab.lab_id}/approve"' not in mine  # not for the one who asked
    assert client.post(f"/office/labs/{lab.lab_id}/approve", headers=first).status_code == 403
    theirs = client.get("/office/labs", headers=second).text
    assert f'action="/office/labs/{lab.lab_id}/approve"' in theirs
    done = client.post(f"/office/labs/{lab.lab_id}/approve", headers=second,
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert 'data-state="active"' in client.get("/office/labs", headers=health).text
    client.post(f"/office/labs/{lab.lab_id}/revoke", headers=first)
    assert lab_registry.list_labs(app.ctx)[0].state == "revoked"


def test_cases_are_assigned_then_traced_by_the_assigned_tracer_only(
    app: App, client: TestClient, city: City
) -> None:
    case_id = opened_case(app, city)
    tracer, tracer_h = officer(app, "tracer")
    _, other_h = officer(app, "tracer")
    _, health = officer(app, "health_officer")
    listed = client.get("/office/cases", headers=health)
    assert case_id in listed.text
    assert "nobody yet" in listed.text  # not assigned: the list says so
    assert "not traced yet" in listed.text
    assert "No open case is assigned to you" in client.get("/office/cases", headers=tracer_h).text
    assert client.get(f"/office/cases/{case_id}", headers=tracer_h).status_code == 404
    assert client.post(f"/office/cases/{case_id}/trace", headers=tracer_h).status_code == 404
    assert entries(app, "case.traced") == []

    empty = client.post(f"/office/cases/{case_id}/assign", data={"staff_id": ""}, headers=health)
    assert empty.status_code == 422
    assert 'id="staff_id-error"' in empty.text
    wrong = client.post(f"/office/cases/{case_id}/assign", data={"staff_id": "nobody"},
                        headers=health)  # fmt: skip
    assert wrong.status_code == 422
    assert staff.cases_of(app.ctx, tracer.ref) == []
    done = client.post(f"/office/cases/{case_id}/assign", data={"staff_id": tracer.ref},
                       headers=health, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert staff.cases_of(app.ctx, tracer.ref) == [case_id]
    assert case_id in client.get("/office/cases", headers=tracer_h).text

    page = client.get(f"/office/cases/{case_id}", headers=tracer_h)
    assert page.status_code == 200
    assert "Trace this case" in page.text
    bad = client.post(f"/office/cases/{case_id}/trace", data={"depth": "9"}, headers=tracer_h)
    assert bad.status_code == 422
    assert 'id="depth-error"' in bad.text
    assert entries(app, "case.traced") == []
    traced = client.post(f"/office/cases/{case_id}/trace", data={"depth": "2"}, headers=tracer_h,
                         follow_redirects=False)  # fmt: skip
    assert traced.status_code == 303  # the trace page is a GET: a reload does not trace again
    assert traced.headers["location"].startswith(f"/office/cases/{case_id}/trace?new=")
    assert len(entries(app, "case.traced")) == 1
    traced = client.get(traced.headers["location"], headers=tracer_h)
    assert traced.status_code == 200
    assert 'data-testid="trace-done"' in traced.text
    assert 'data-testid="trace-done"' not in client.get(
        f"/office/cases/{case_id}/trace", headers=tracer_h
    ).text  # the stored trace, without the news of the last one
    assert len(entries(app, "case.traced")) == 1  # viewing it traced nothing
    svg = traced.text[traced.text.index("<svg") : traced.text.index("</svg>")]
    assert svg.count('data-node="case"') == 1
    assert svg.count('data-node="close"') == 1
    assert svg.count('data-node="secondary"') == 1
    assert "<title" in svg
    assert "<desc" in svg
    assert "老街餐厅" in svg
    assert 'class="node-label">1 secondary<' in svg or ">次密切 1 人<" in svg  # aggregated
    assert f'href="/office/cases/{case_id}/contacts"' in traced.text  # no table of thousands
    assert 'data-testid="contacts"' not in traced.text
    workspace = client.get(f"/office/cases/{case_id}/contacts", headers=tracer_h)
    assert workspace.status_code == 200
    table = workspace.text[workspace.text.index('data-testid="visit-group"') :]
    assert city.contact in table
    assert city.secondary in table
    assert "街角小店" in table  # where the close contact met the secondary one
    assert city.bystander not in table
    assert len(entries(app, "case.contacts_read")) == 3  # each view is on the log
    only_close = client.get(f"/office/cases/{case_id}/contacts?level=close", headers=tracer_h)
    assert city.contact in only_close.text
    assert city.secondary not in only_close.text
    bad = client.get(f"/office/cases/{case_id}/contacts?level=everyone", headers=tracer_h)
    assert bad.status_code == 422
    assert client.get(f"/office/cases/{case_id}/contacts", headers=other_h).status_code == 404
    no_reason = client.get(f"/office/cases/{case_id}/contacts.csv?purpose=x", headers=tracer_h)
    assert no_reason.status_code == 422
    assert entries(app, "case.contacts_exported") == []
    exported = client.get(f"/office/cases/{case_id}/contacts.csv",
                          params={"purpose": "district_handover"},
                          headers=tracer_h)  # fmt: skip
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("subject_id,level,venue_id")
    assert any(city.contact in line and ",close," in line for line in lines[1:])
    (logged,) = entries(app, "case.contacts_exported")
    assert logged["details"]["purpose"] == "district_handover"
    assert logged["details"]["rows"] == len(lines) - 1
    assert entries(app, "case.traced")[0]["actor"]["ref"] == f"staff:{tracer.ref}"
    assert client.post(f"/office/cases/{case_id}/trace", headers=other_h).status_code == 404
    assert client.get(f"/office/cases/{case_id}/trace", headers=other_h).status_code == 404
    row = client.get("/office/cases", headers=health).text
    (who,) = [a.username for a in staff.list_staff(app.ctx) if a.staff_id == tracer.ref]
    assert who in row[row.index('data-testid="case-officers"') :]  # assigned, by name
    assert "traced: 1 close, 1 secondary contacts" in row
    # One time zone, the city's, named at the foot; one date format per language.
    for headers, moment, zone in (
        ({**health, **EN}, r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d", "time zone: Asia/Shanghai"),
        ({**health, "Accept-Language": "zh-CN"}, r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d",
         "本市时区：Asia/Shanghai"),
    ):  # fmt: skip
        listed = client.get("/office/cases", headers=headers).text
        assert f"{zone} (UTC+08:00)" in listed
        dates = re.findall(r"<td>([^<]*\d\d:\d\d[^<]*)</td>", listed)
        assert dates
        assert all(re.fullmatch(f"{moment}( – {moment})?", d) for d in dates), dates


def propose(client: TestClient, headers: dict[str, str], **form: str) -> object:
    data = {"subject_ids": "", "colour": "red", "legal_basis": "idcl2013_art41",
            "reason": REASON, "days": "7", **form}  # fmt: skip
    return client.post("/office/orders", data=data, headers=headers, follow_redirects=False)


def test_orders_are_proposed_approved_by_another_role_frozen_and_revoked(
    app: App, client: TestClient, city: City
) -> None:
    tracer, tracer_h = officer(app, "tracer")
    _, health = officer(app, "health_officer")
    form = client.get("/office/orders/new", params={"subject_ids": [city.contact, "x'<"]},
                      headers=tracer_h)  # fmt: skip
    assert form.status_code == 200
    assert city.contact in form.text
    assert "x'&lt;" not in form.text
    for field, bad in (("subject_ids", ""), ("subject_ids", "not-a-person"),
                       ("legal_basis", "because"), ("days", "many"), ("days", "99"),
                       ("reason", "short"), ("colour", "green")):  # fmt: skip
        values = {"subject_ids": city.contact, field: bad}
        refused = propose(client, tracer_h, **values)
        assert refused.status_code == 422, (field, bad)  # type: ignore[attr-defined]
        assert f'id="{field}-error"' in refused.text, (field, bad)  # type: ignore[attr-defined]
    assert orders.open_orders(app.ctx, tracer) == []

    made = propose(client, tracer_h, subject_ids=city.contact)
    assert made.status_code == 303  # type: ignore[attr-defined]
    order_id = made.headers["location"].rsplit("=", 1)[1]  # type: ignore[attr-defined]
    queue = client.get("/office/orders", headers=tracer_h)
    assert order_id in queue.text
    assert REASON in queue.text
    own = client.post(f"/office/orders/{order_id}/approve", headers=tracer_h)
    assert own.status_code == 403
    assert 'data-code="two_person_rule"' in own.text
    approved = client.post(f"/office/orders/{order_id}/approve", headers=health,
                           follow_redirects=False)  # fmt: skip
    assert approved.status_code == 303
    board = client.get("/office/orders", headers=health)
    assert re.search(rf"{order_id}.*?data-state=\"active\"", board.text, re.S)

    big = propose(client, tracer_h, subject_ids=" ".join(city.people[1:]))
    big_id = big.headers["location"].rsplit("=", 1)[1]  # type: ignore[attr-defined]
    client.post(f"/office/orders/{big_id}/approve", headers=health)
    frozen = client.get("/office/orders", headers=health)
    assert re.search(rf"{big_id}.*?data-state=\"frozen\"", frozen.text, re.S)
    assert "waits for an auditor" in frozen.text
    revoked = client.post(f"/office/orders/{order_id}/revoke", headers=health,
                          follow_redirects=False)  # fmt: skip
    assert revoked.status_code == 303
    assert orders.get_order(app.ctx, tracer, order_id).state == "revoked"
    again = client.post(f"/office/orders/{order_id}/revoke", headers=health)
    assert again.status_code == 409
    assert (
        client.get("/office/orders/new", headers=officer(app, "authority_admin")[1]).status_code
        == 403
    )


def test_the_appeals_queue_is_decided_by_a_health_officer(
    app: App, client: TestClient, city: City
) -> None:
    proposer, _ = officer(app, "tracer")
    approver, _ = officer(app, "health_officer")
    order = orders.propose_order(app.ctx, proposer, [city.bystander], "yellow", "idcl2013_art41",
                                 REASON, 5)  # fmt: skip
    orders.approve_order(app.ctx, approver, order.order_id)
    resident = Principal(PrincipalKind.RESIDENT, city.bystander, Role.RESIDENT)
    appeal = appeals.file_appeal(app.ctx, resident, city.bystander, order.order_id,
                                 "我当天不在该区域，请核实")  # fmt: skip
    _, health = officer(app, "health_officer")
    queue = client.get("/office/appeals", headers=health)
    assert appeal.appeal_id in queue.text
    assert "我当天不在该区域" in queue.text
    bad = client.post(f"/office/appeals/{appeal.appeal_id}/decide", data={"outcome": "maybe"},
                      headers=health)  # fmt: skip
    assert bad.status_code == 422
    assert "<strong>outcome</strong>" in bad.text
    assert entries(app, "appeal.decided") == []
    done = client.post(f"/office/appeals/{appeal.appeal_id}/decide", data={"outcome": "granted"},
                       headers=health, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert done.headers["location"] == "/office/appeals?done=granted"
    assert "No appeal is waiting" in client.get("/office/appeals", headers=health).text
    assert client.get("/office/appeals", headers=officer(app, "tracer")[1]).status_code == 403


def version_two() -> str:
    """The default rules, with close contacts yellow instead of red."""
    shipped = resources.files("healthcode").joinpath("rulesets", "default.json").read_text("utf-8")
    doc = json.loads(shipped)
    doc["version"] = 2
    for rule in doc["rules"]:
        if rule["id"] == "close":
            rule["colour"] = "yellow"
    return json.dumps(doc, ensure_ascii=False)


def test_rules_load_dry_run_and_activation_by_a_second_person(
    app: App, client: TestClient, city: City, clock: FixedClock
) -> None:
    case_id = opened_case(app, city)
    health, health_h = officer(app, "health_officer")
    staff.assign_case(app.ctx, staff_principal(app, "health_officer"), case_id, health.ref)
    client.post(f"/office/cases/{case_id}/trace", headers=health_h)
    listed = client.get("/office/rules", headers=health_h)
    assert "default@1" in listed.text
    for bad, field in (("{not json", "document"), ("", "document"),
                       ('{"ruleset": "default"}', "$")):  # fmt: skip
        refused = client.post("/office/rules", data={"document": bad}, headers=health_h)
        assert refused.status_code == 422, bad
        assert f"<strong>{field}" in refused.text, bad
    assert len(rules.list_rulesets(app.ctx)) == 1
    assert entries(app, "ruleset.loaded")[-1]["object"]["ref"] == "default@1"

    loaded = client.post("/office/rules", files={"file": ("v2.json", version_two().encode())},
                         headers=health_h, follow_redirects=False)  # fmt: skip
    assert loaded.status_code == 303
    assert loaded.headers["location"] == "/office/rules/default/2?loaded=1"
    run = client.post("/office/rules/default/2/dry-run", headers=health_h)
    assert run.status_code == 200
    result = run.text[run.text.index('data-testid="dry-run"') :]
    assert "1 of 3 people would change colour" in result
    assert re.search(r"colour-red.*?colour-yellow.*?default@2#close.*?<td>1</td>", result, re.S)
    (logged,) = entries(app, "ruleset.dry_run")
    assert logged["details"]["changed"] == 1
    assert logged["actor"]["ref"] == f"staff:{health.ref}"
    assert rules.get_ruleset(app.ctx, "active").ruleset.version == 1  # nothing changed

    clock.advance(60)
    asked = client.post("/office/rules/default/2/request", headers=health_h,
                        follow_redirects=False)  # fmt: skip
    assert asked.status_code == 303
    seq = asked.headers["location"].rsplit("=", 1)[1]
    assert client.post(f"/office/rules/requests/{seq}/approve", headers=health_h).status_code == 403
    admin, admin_h = officer(app, "authority_admin")
    page = client.get("/office/rules/default/2", headers=admin_h)
    assert f"/office/rules/requests/{seq}/approve" in page.text
    asker = page.text[page.text.index('data-testid="activation-requests"') :]
    assert "(health officer)" in asker  # the role in words, never its internal name
    zh = client.get("/office/rules/default/2", headers={**admin_h, "Accept-Language": "zh-CN"})
    assert "health_officer" not in zh.text[zh.text.index('data-testid="activation-requests"') :]
    assert client.post("/office/rules/requests/abc/approve", headers=admin_h).status_code == 422
    assert client.post("/office/rules/requests/0/approve", headers=admin_h).status_code == 404
    approved = client.post(f"/office/rules/requests/{seq}/approve", headers=admin_h,
                           follow_redirects=False)  # fmt: skip
    assert approved.status_code == 303
    assert approved.headers["location"] == "/office/rules/default/2?activated=3"  # rule refs too
    assert rules.get_ruleset(app.ctx, "active").ruleset.version == 2
    (activated,) = [
        e for e in entries(app, "ruleset.activated") if e["object"]["ref"] == "default@2"
    ]
    assert activated["details"]["request"] == int(seq)
    assert activated["details"]["requested_by"] == f"staff:{health.ref}"
    assert activated["actor"]["ref"] == f"staff:{admin.ref}"
    stale = client.post(
        f"/office/rules/requests/{seq}/approve", headers=officer(app, "authority_admin")[1]
    )
    assert stale.status_code == 409
