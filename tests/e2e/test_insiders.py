"""Insiders, replayed through the API on SQLite and PostgreSQL (issue: "no single insider, not even
an authority admin, can turn a code red, learn where someone was, or change the rules unseen").

Each abuse is tried the way an insider would, over HTTP, and is refused (403/409/422/429) or
frozen for an auditor and flagged; the refusal is on the public log and counted on the public
report. The city runs with its real cooling-off period (72 hours).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.otp_sender import ConsoleSender
from healthcode.bootstrap import App
from healthcode.config import Settings
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.domain.audit import SYSTEM
from healthcode.entrypoints.web.app import create_app
from healthcode.services import anomalies, audit, enrolment, status
from healthcode.services.ports import StoredExposure
from tests.conftest import headers_of, make_settings, officer_on_case, staff_headers
from tests.e2e.test_rules_api import strict_v2
from tests.integration.orders_city import doc_number, resident
from tests.integration.test_anomalies import residents
from tests.support import fhir
from tests.support.labs import post_rows
from tests.support.staff import PASSWORD, founders

HOUR = 3600
REASON = "聚集维权，影响社会稳定"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path / "data", database_url, staff_cooling_off_hours=72)


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app)) as test_client:
        yield test_client


def iso(instant: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(instant))


def log(app: App, action: str) -> list[dict[str, object]]:
    found = [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]
    return [e for e in found if e["action"] == action]


def sign_in(client: TestClient, app: App, account: dict[str, str]) -> dict[str, str]:
    """Whoever asked for the account knows its password and authenticator secret (shown to
    them once): they sign in as it, with a code of the current time step."""
    secret = parse_qs(urlparse(account["totp_uri"]).query)["secret"][0]
    body = {"username": account["username"], "password": PASSWORD,
            "totp": pyotp.TOTP(secret).at(app.ctx.clock.now())}  # fmt: skip
    signed = client.post("/auth/staff", json=body)
    assert signed.status_code == 200, signed.text
    return {"Authorization": f"Bearer {signed.json()['token']}"}


def appoint(
    client: TestClient, by: dict[str, str], second: dict[str, str], role: str, name: str
) -> dict[str, str]:
    """`by` asks for an account over HTTP and `second` approves it; what `by` was shown."""
    asked = client.post(
        "/staff", json={"username": name, "role": role, "password": PASSWORD}, headers=by
    )
    assert asked.status_code == 202, asked.text
    account = asked.json()["account"]
    assert account["state"] == "pending"
    request = asked.json()["request"]["request"]
    done = client.post(f"/staff/requests/{request}/approve", headers=second)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "active"
    return {"username": account["username"], "totp_uri": account["totp_uri"],
            "staff_id": account["staff_id"]}  # fmt: skip


def test_an_admins_puppet_cannot_be_the_second_person(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    """An admin makes a second 'authority admin' and two 'officers' (an honest colleague
    approves each), signs in as them, and tries to use them as second persons: for a rule set
    the admin asks to activate, and for an order one puppet proposes and the other approves."""
    maker_p, colleague_p = founders(app).admins
    maker, colleague = headers_of(app, maker_p), headers_of(app, colleague_p)
    # The maker cannot approve their own request for an account.
    asked = client.post(
        "/staff", json={"username": "p.admin", "role": "authority_admin", "password": PASSWORD},
        headers=maker,
    )  # fmt: skip
    own = client.post(f"/staff/requests/{asked.json()['request']['request']}/approve",
                      headers=maker)  # fmt: skip
    assert own.status_code == 403
    assert own.json()["error"]["code"] == "two_person_rule"
    assert (
        client.post(
            f"/staff/requests/{asked.json()['request']['request']}/approve", headers=colleague
        ).status_code
        == 200
    )
    puppet_admin = {k: asked.json()["account"][k] for k in ("username", "totp_uri", "staff_id")}
    tracer = appoint(client, maker, colleague, "tracer", "p.tracer")
    officer = appoint(client, maker, colleague, "health_officer", "p.officer")
    clock.advance(73 * HOUR)  # past every cooling-off period: only independence is left
    maker, colleague = headers_of(app, maker_p), headers_of(app, colleague_p)  # new sessions

    # A rule set the maker asks for, approved by the maker's own admin: refused.
    doc = strict_v2()
    assert client.post("/rulesets", json=doc, headers=maker).status_code == 201
    request = client.post("/rulesets/default/2/activation-requests", headers=maker).json()
    puppet = sign_in(client, app, puppet_admin)
    refused = client.post(f"/rulesets/activation-requests/{request['seq']}/approve",
                          headers=puppet)  # fmt: skip
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "two_person_rule"
    assert client.get("/rulesets/active").json()["version"] == 1

    # An order one puppet proposes and the other approves: refused (same admin behind both).
    people = residents(app, 5)
    order_id = propose_red(client, sign_in(client, app, tracer), people)
    approve = client.post(f"/orders/{order_id}/approve", headers=sign_in(client, app, officer))
    assert approve.status_code == 403
    assert approve.json()["error"]["code"] == "two_person_rule"
    for person in people:  # nobody's colour changed
        assert (
            client.get(
                f"/residents/{person}/status", headers=headers_of(app, _resident(person))
            ).json()["colour"]
            == "green"
        )

    # On the public log and the public report, with no person named.
    assert [e["outcome"] for e in log(app, "ruleset.activation_refused")] == [
        "refused:appointed_by_proposer"
    ]
    assert [e["outcome"] for e in log(app, "order.approved")] == ["refused:same_sponsor"]
    days = client.get("/report?days=4").json()["days"]
    refused = {k: sum(d["refusals"].get(k, 0) for d in days) for k in ("order", "ruleset", "staff")}
    assert refused == {"order": 1, "ruleset": 1, "staff": 1}
    created: dict[str, int] = {}
    for day in days:
        for role, n in day["staff_created_by_role"].items():
            created[role] = created.get(role, 0) + n
    # the founders (two admins, an auditor), then the puppets, each made by two people
    assert created == {"authority_admin": 3, "auditor": 1, "health_officer": 1, "tracer": 1}
    assert days[-1]["current_staff"]["authority_admin"] == 3


def propose_red(client: TestClient, officer: dict[str, str], people: list[str]) -> str:
    """`officer` proposes a 7-day red order naming `people` under the first published basis."""
    basis = client.get("/legal-bases").json()[0]["basis_id"]
    body = {"subject_ids": people, "colour": "red", "legal_basis": basis, "reason": REASON,
            "days": 7}  # fmt: skip
    made = client.post("/orders", json=body, headers=officer)
    assert made.status_code == 201, made.text
    return str(made.json()["order_id"])


def _resident(subject_id: str) -> Principal:
    return Principal(PrincipalKind.RESIDENT, subject_id, Role.RESIDENT)


def test_a_mass_order_split_over_puppet_accounts_freezes_and_is_flagged(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    """Eleven health officers each propose a slice under every per-order and per-officer
    limit; the city-wide limit freezes what goes beyond it until an auditor decides, and the
    anomaly watch flags the burst."""
    maker_p, colleague_p = founders(app).admins
    maker, colleague = headers_of(app, maker_p), headers_of(app, colleague_p)
    officers = [appoint(client, maker, colleague, "tracer", f"split.{i}") for i in range(11)]
    # The approver is independent of the maker's appointees: asked for by the colleague.
    approver = appoint(client, colleague, maker, "health_officer", "split.approver")
    clock.advance(73 * HOUR)  # past the cooling-off periods
    people = residents(app, 220)
    states = []
    second = sign_in(client, app, approver)
    for i, account in enumerate(officers):
        order_id = propose_red(client, sign_in(client, app, account), people[i * 20 : i * 20 + 20])
        done = client.post(f"/orders/{order_id}/approve", headers=second)
        states.append(done.json()["state"])
    assert states == ["active"] * 10 + ["frozen"]
    auditor = headers_of(app, founders(app).auditor)
    waiting = client.get("/orders/awaiting", headers=auditor).json()
    assert len(waiting) == 1
    clock.advance(60)
    flagged = anomalies.watch(app.ctx)
    assert any(a.detector == "order_burst" and a.scope.startswith("city") for a in flagged)
    today = client.get("/report?days=1").json()["days"][-1]
    assert today["orders"]["frozen"] == 1
    assert today["anomaly_alerts"]["order_burst"] >= 1


def test_rules_cannot_name_people_or_dates_and_a_rule_against_one_event_needs_an_auditor(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    """A rule on an identifier and a rule on one date and hour are refused on load; a rule set
    whose new colours would fall on the visitors of one venue in one hour is flagged by its dry
    run, refused to the admins, approved only by an auditor, and flagged in public."""
    asker, second = (headers_of(app, p) for p in founders(app).admins)
    targeted = strict_v2()
    targeted["rules"][0]["logic"] = {"in": [{"var": "fact.id"}, ["t1", "t2"]]}
    refused = client.post("/rulesets", json=targeted, headers=asker)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "unknown_variable"
    one_hour = strict_v2()
    hour = clock.now() - clock.now() % HOUR  # one hour of the test clock, as absolute times
    one_hour["rules"][1]["logic"] = {"and": [
        {"not-before": [{"var": "fact.time"}, iso(hour)]},
        {"before": [{"var": "fact.time"}, iso(hour + HOUR)]},
    ]}  # fmt: skip
    refused = client.post("/rulesets", json=one_hour, headers=asker)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "literal"
    titled = {**strict_v2(), "title": {"zh": "第1版", "en": "version 1"}}
    assert client.post("/rulesets", json=titled, headers=asker).status_code == 422

    # Twelve people met at one venue in one hour: secondary contacts, yellow under v1. A rule
    # set that turns secondary contacts red changes exactly them.
    people = residents(app, 12)
    now = clock.now()
    with app.ctx.uow() as uow:
        found = [StoredExposure(f"e{i:016x}", who, "k" + "0" * 16, "secondary", "v-event",
                                now - 3600 + i, now - 1800, f"c{i:015d}", "c" * 16, None, now)
                 for i, who in enumerate(people)]  # fmt: skip
        uow.exposures.add_new(found)
        status.refresh(app.ctx, uow, people, now, SYSTEM, "traced")
        uow.commit()
    assert client.post("/rulesets", json=strict_v2(), headers=asker).status_code == 201
    clock.advance(60)  # (a request made in the second v1 was activated counts as overtaken)
    run = client.post("/rulesets/default/2/dry-run", headers=asker).json()
    assert run["spread"]["coloured"] == 12
    assert run["spread"]["concentrated"] == {"value": "venue:v-event", "people": 12}
    request = client.post("/rulesets/default/2/activation-requests", headers=asker).json()
    admin = client.post(f"/rulesets/activation-requests/{request['seq']}/approve", headers=second)
    assert admin.status_code == 403
    assert admin.json()["error"]["code"] == "concentrated"
    auditor = headers_of(app, founders(app).auditor)
    done = client.post(f"/rulesets/activation-requests/{request['seq']}/approve", headers=auditor)
    assert done.status_code == 200, done.text
    (activated,) = log(app, "ruleset.activated")[-1:]
    assert activated["details"]["concentrated"] == "venue"
    clock.advance(60)
    flagged = anomalies.watch(app.ctx)
    assert [(a.detector, a.scope) for a in flagged if a.detector == "rule_cluster"] == [
        ("rule_cluster", "venue")
    ]
    today = client.get("/report?days=1").json()["days"][-1]
    assert today["anomaly_alerts"]["rule_cluster"] == 1
    assert today["refusals"]["ruleset"] >= 1


def test_an_unassigned_trace_is_refused_and_every_read_is_in_the_persons_record(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    """An officer tries to learn where X was by tracing a case they were not given; it is
    refused (and X sees the attempt). The tracer it was assigned to traces it: the case's
    subject and everyone whose visits the trace read see it in their own record, with the
    case, and a contact sees which visit made them one."""
    case_person, contact = (resident(app, i) for i in (1, 2))
    venue = client.post("/venues", headers=headers_of(app, founders(app).admins[0]), json={
        "name_zh": "老街餐厅", "address": "1 Old St", "district": "Tianhe",
        "venue_type": "restaurant", "operator": "Old St Co"}).json()  # fmt: skip
    for who in (case_person, contact):
        made = client.post(f"/residents/{who}/checkins", json={"place_code": venue["place_code"]},
                           headers=headers_of(app, _resident(who)))  # fmt: skip
        assert made.status_code == 201, made.text
    clock.advance(2 * HOUR)
    sample = str(clock.now() - HOUR)
    positive = {"test_id": "T-1", "doc_type": "prc_id", "doc_number": doc_number(1),
                "sample_time": sample, "result": "positive", "lab": "LAB1"}  # fmt: skip
    (case_id,) = post_rows(client, app, [positive]).json()["cases_opened"]
    nosy = staff_headers(app, "health_officer")
    assert client.post(f"/cases/{case_id}/trace", headers=nosy).status_code == 404
    venue_admin = staff_headers(app, "venue_admin", venue["venue_id"])
    assert client.get(f"/residents/{contact}/status", headers=venue_admin).status_code == 403
    tracer = officer_on_case(app, case_id)
    traced = client.post(f"/cases/{case_id}/trace", headers=tracer).json()
    assert [c["subject_id"] for c in traced["close"]] == [contact]

    theirs = client.get(f"/residents/{contact}/log", headers=headers_of(app, _resident(contact)))
    actions = [(e["action"], e["outcome"]) for e in theirs.json()]
    assert ("case.visits_read", "ok") in actions
    assert ("access.refused", "refused:role") in actions  # the venue admin's attempt
    read = next(e for e in theirs.json() if e["action"] == "case.visits_read")
    assert read["details"] == {"case": case_id, "visits": 1}
    mine = client.get(f"/residents/{case_person}/log",
                      headers=headers_of(app, _resident(case_person))).json()  # fmt: skip
    assert any(e["action"] == "case.traced" for e in mine)
    assert any(e["action"] == "access.refused" for e in mine)  # the nosy officer's attempt
    page = client.get("/me/record", headers={**headers_of(app, _resident(contact)),
                                              "Accept-Language": "en"})  # fmt: skip
    assert "老街餐厅" in page.text
    assert f"1 of your visits were read in tracing case {case_id}" in page.text


def applicant(client: TestClient, app: App, phone: str) -> dict[str, str]:
    """A new phone, proved with a one-time code: an applicant's session."""
    assert client.post("/auth/code", json={"phone": phone}).status_code in (200, 202)
    sender = app.ctx.sender
    assert isinstance(sender, ConsoleSender)
    signed = client.post("/auth/code/verify", json={"phone": phone, "code": sender.sent[-1][1]})
    assert signed.status_code == 200, signed.text
    return {"Authorization": f"Bearer {signed.json()['token']}"}


def test_enrolment_tells_nobody_whether_an_id_number_is_known(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    known = resident(app, 7)  # enrolled with doc_number(7)
    body = {"name": "冒名", "doc_type": "prc_id", "doc_number": doc_number(7)}
    probe = applicant(client, app, "13900000001")
    first = client.post("/residents", json={**body, "phone": "13900000001"}, headers=probe)
    fresh = applicant(client, app, "13900000002")
    second = client.post("/residents", json={**body, "doc_number": doc_number(8),
                                             "phone": "13900000002"}, headers=fresh)  # fmt: skip
    assert (first.status_code, first.json()) == (second.status_code, second.json())
    assert first.json() == {"state": "received"}
    # The holder sees the attempt in their own record.
    record = client.get(f"/residents/{known}/log", headers=headers_of(app, _resident(known)))
    attempts = [e for e in record.json() if e["action"] == "resident.enrolment_refused"]
    assert [e["outcome"] for e in attempts] == ["refused:document_known"]
    # Trying many known numbers from one phone meets a limit (an unknown one would enrol the
    # prober, and end their probing: the session is then a resident's).
    for i in range(6):
        name = "储户" + "甲乙丙丁戊己"[i]
        cmd = enrolment.EnrolResident(name, "prc_id", doc_number(20 + i), f"1370000{i:04d}")
        enrolment.enrol_resident(app.ctx, cmd)
    answers = [
        client.post("/residents", json={**body, "doc_number": doc_number(20 + i),
                                        "phone": "13900000001"}, headers=probe).status_code
        for i in range(6)
    ]  # fmt: skip
    assert answers[-1] == 429
    assert all(code in (202, 429) for code in answers)
    assert client.get("/auth/session", headers=probe).json()["role"] == "applicant"


def test_mass_orders_timed_inside_a_wave_of_rule_based_changes_are_still_flagged(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    """A lab reports 150 positives (150 people red by the published rules); in the same minute
    five officers' orders turn 100 more red. The orders are 40 % of the hour's yellow and red
    changes, under the 50 % share: counted in absolute terms, they are still a cluster."""
    maker_p, colleague_p = founders(app).admins
    maker, colleague = headers_of(app, maker_p), headers_of(app, colleague_p)
    officers = [appoint(client, maker, colleague, "tracer", f"wave.{i}") for i in range(5)]
    approver = appoint(client, colleague, maker, "health_officer", "wave.approver")
    clock.advance(73 * HOUR)  # past the cooling-off periods
    sick = [
        enrolment.enrol_resident(app.ctx, enrolment.EnrolResident(
            "患者" + "甲乙丙丁戊己庚辛壬癸"[i % 10], "prc_id", doc_number(i),
            f"1381234{i:04d}")).subject_id
        for i in range(150)
    ]  # fmt: skip
    sample = str(clock.now() - HOUR)
    rows = [{"test_id": f"W-{i}", "doc_type": "prc_id", "doc_number": doc_number(i),
             "sample_time": sample, "result": "positive", "lab": "LAB1"}
            for i in range(len(sick))]  # fmt: skip
    assert len(post_rows(client, app, rows).json()["cases_opened"]) == 150
    targets = residents(app, 100)
    second = sign_in(client, app, approver)
    for i, account in enumerate(officers):
        order_id = propose_red(client, sign_in(client, app, account), targets[i * 20 : i * 20 + 20])
        done = client.post(f"/orders/{order_id}/approve", headers=second)
        assert done.json()["state"] == "active", done.text
    clock.advance(60)
    flagged = [a for a in anomalies.watch(app.ctx) if a.detector == "non_health_cluster"]
    minute = [a for a in flagged if a.scope == "minute"]
    assert minute, flagged
    assert minute[0].counts["people"] == 100
    assert minute[0].counts["coloured"] == 250  # all yellow and red changes of the hour
    assert minute[0].counts["share_percent"] == 40  # under 50 %: the share alone would not fire
    today = client.get("/report?days=1").json()["days"][-1]
    assert today["anomaly_alerts"]["non_health_cluster"] >= 1
    # The lab's positives are on the report per lab, never withheld (official acts).
    assert today["lab_results"]["lab1"]["positives"] == 150
    assert today["lab_results"]["lab1"]["unrequested"] == 150  # no sample was registered first
    page = client.get("/public/report?days=1", headers={"Accept-Language": "en"}).text
    assert 'id="chart-labs"' in page


def test_one_officers_fake_positives_are_refused_and_counted_in_public(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    """A health officer posts 200 made-up positives, as JSON rows, as a lab's CSV and as a FHIR
    Bundle: every door is the lab's alone, so each attempt is refused before its body is read,
    is on the public log and counted on the report, and nobody's colour changes."""
    officer = staff_headers(app, "health_officer")
    people = [
        enrolment.enrol_resident(app.ctx, enrolment.EnrolResident(
            "储户" + "甲乙丙丁戊己庚辛壬癸"[i % 10], "prc_id", doc_number(i),
            f"1391234{i:04d}")).subject_id
        for i in range(200)
    ]  # fmt: skip
    sample = clock.now() - HOUR
    rows = [{"test_id": f"F-{i}", "doc_type": "prc_id", "doc_number": doc_number(i),
             "sample_time": str(sample), "result": "positive"} for i in range(200)]  # fmt: skip
    csv = "test_id,doc_type,doc_number,sample_time,result\n" + "".join(
        f"F-{i},prc_id,{doc_number(i)},{sample},positive\n" for i in range(200)
    )
    bundle = fhir.text(*(fhir.Test(f"F-{i}", "prc_id", doc_number(i), sample, "positive")
                         for i in range(200)))  # fmt: skip
    attempts = [
        client.post("/lab-results", json={"rows": rows}, headers=officer),
        client.post("/lab-results/csv", content=csv.encode(),
                    headers=officer | {"content-type": "text/csv"}),
        client.post("/lab-results/fhir", content=bundle,
                    headers=officer | {"content-type": "application/fhir+json"}),
    ]  # fmt: skip
    assert [a.status_code for a in attempts] == [403, 403, 403]
    refused = [
        e for e in log(app, "access.refused")
        if e["object"] == {"kind": "route", "ref": "lab.submit"}  # type: ignore[comparison-overlap]
    ]  # fmt: skip
    assert len(refused) == 3
    assert {e["actor"]["role"] for e in refused} == {"health_officer"}  # type: ignore[index]
    today = client.get("/report?days=1").json()["days"][-1]
    assert today["refusals"]["access"] >= 3
    assert today["colour_changes"]["red_rule"] == 0
    with app.ctx.uow(read_only=True) as uow:
        assert uow.cases.open_cases() == []
    for person in people[:5]:
        mine = client.get(f"/residents/{person}/status", headers=headers_of(app, _resident(person)))
        assert mine.json()["colour"] == "green"
