"""The resident's pages over HTTP, on SQLite and on PostgreSQL: enrolling after signing in with
a one-time code, my code (a signed code the page draws, and fresh ones on request), why this
colour, checking in with a place code and out again, exposure notices, health orders and an
appeal, who read my record, and my dependants' codes. Bad input is answered with the form again,
naming the field, and nothing is stored."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from healthcode.adapters.otp_sender import ConsoleSender
from healthcode.bootstrap import App
from healthcode.domain.audit import SYSTEM
from healthcode.entrypoints.web.app import create_app
from healthcode.services import appeals, audit, checkins, enrolment, orders, trace, venues
from healthcode.services.labs import parse_csv
from healthcode.verifier.place_link import place_code_of, place_link
from tests.conftest import officer_on_case, staff_principal
from tests.support.labs import import_results as lab_import

PHONE = "13912345678"
DOC = "11010519491231002X"
ME = {"name": "陈五", "doc_type": "prc_id", "doc_number": DOC, "phone": PHONE}
REASON = "在封控区内多次聚集，需居家观察"
BASIS = "idcl2013_art41"


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app), base_url="http://127.0.0.1") as test_client:
        yield test_client


def sign_in(client: TestClient, app: App, phone: str = PHONE) -> None:
    assert client.post("/sign-in/code", data={"phone": phone, "next": ""}).status_code == 200
    sender = app.ctx.sender
    assert isinstance(sender, ConsoleSender)
    done = client.post("/sign-in/code/verify", data={"phone": phone, "code": sender.sent[-1][1]},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303


def enrolled(client: TestClient, app: App, body: dict[str, str] = ME) -> str:
    """A resident who signed in with a code and enrolled through the page; their subject id."""
    sign_in(client, app, body["phone"])
    done = client.post("/me/enrol", data=body, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/me/enrol/done"
    session = client.get("/auth/session").json()
    assert session["role"] == "resident"
    return str(session["ref"])


def en(client: TestClient) -> None:
    client.cookies.set("hc_lang", "en")


def venue(app: App, name: str = "老街餐厅") -> tuple[str, str]:
    """A registered venue: (its id, the text of its place code)."""
    cmd = venues.RegisterVenue(name, "Old Street Restaurant", "1 Road", "Tianhe", "restaurant",
                               "Op Co")  # fmt: skip
    made = venues.register_venue(app.ctx, cmd, SYSTEM)
    return made.venue.venue_id, made.poster.payload


def data_attr(page: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', page)
    assert found, name
    return html.unescape(found.group(1))


def positive(app: App, doc: str = DOC) -> str:
    """The lab reports the person with this document positive; the case opened."""
    now = app.ctx.clock.now()
    rows = parse_csv("test_id,doc_type,doc_number,sample_time,result,lab\n"
                     f"T-1,prc_id,{doc},{now - 3600},positive,LAB1\n")  # fmt: skip
    (case_id,) = lab_import(app, rows).cases_opened
    return case_id


def test_enrol_names_the_bad_field_and_stores_nothing(app: App, client: TestClient) -> None:
    sign_in(client, app)
    page = client.get("/me/enrol")
    assert page.status_code == 200
    assert '<label for="doc_number">' in page.text
    assert 'value="prc_id" selected' in page.text
    bad = client.post("/me/enrol", data={**ME, "doc_number": "110105194912310021"})
    assert bad.status_code == 422
    assert 'id="doc_number" name="doc_number"' in bad.text
    assert 'aria-invalid="true" aria-describedby="doc_number-error"' in bad.text
    assert 'id="doc_number-error" role="alert"' in bad.text
    other_phone = client.post("/me/enrol", data={**ME, "phone": "13900000000"})
    assert other_phone.status_code == 422
    assert 'id="phone-error"' in other_phone.text
    assert client.get("/auth/session").json()["role"] == "applicant"
    assert not [e for e in audit.read_entries(app.ctx, 0, audit.log_size(app.ctx))
                if '"resident.enrolled"' in e.entry]  # fmt: skip
    assert client.get("/me").status_code == 403  # an applicant has no code yet


def test_my_code_is_a_signed_code_that_verifies_and_refreshes(app: App, client: TestClient) -> None:
    enrolled(client, app)
    page = client.get("/me")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert 'data-testid="qr"' in page.text
    assert "绿码" in page.text
    assert "陈*" in page.text  # the masked name the code carries, never the full name
    code = data_attr(page.text, "data-code")
    assert code.startswith("HCODE1:")
    assert int(data_attr(page.text, "data-expires")) > app.ctx.clock.now()
    assert '/static/js/resident-code.js" data-service-worker="/me/sw.js"' in page.text
    assert client.post("/verify", json={"code": code}).json()["decision"] == "admit"
    fresh = client.post("/me/code")
    assert fresh.status_code == 200
    body = fresh.json()
    assert body["code"].startswith("HCODE1:")
    assert (body["colour"], body["rule_ref"]) == ("green", "default@1#none")
    assert body["expires_at"] - body["issued_at"] == 300
    en(client)
    assert "Green" in client.get("/me").text


def test_the_service_worker_may_keep_the_code_page(app: App, client: TestClient) -> None:
    enrolled(client, app)
    worker = client.get("/me/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/me"
    assert "'/me'" in worker.text


def test_public_and_other_people_are_kept_out(app: App, client: TestClient) -> None:
    out = client.get("/me", follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/sign-in?next=%2Fme"
    assert client.post("/me/code", follow_redirects=False).status_code == 303
    enrolled(client, app)
    stranger = enrolment.enrol_resident(
        app.ctx, enrolment.EnrolResident("王六", "passport", "E87654321", "13912345670")
    ).subject_id
    assert client.post("/me/code", data={"subject_id": stranger}).status_code == 404
    assert client.get(f"/me/dependants/{stranger}").status_code == 404
    assert client.get(f"/me/why?dependant={stranger}").status_code == 404


def test_check_in_with_a_place_code_and_out_again(app: App, client: TestClient) -> None:
    me = enrolled(client, app)
    venue_id, place_code = venue(app)
    scan = client.get("/me/scan")
    assert scan.status_code == 200
    assert "/static/vendor/jsqr/jsQR.js" in scan.text
    assert '<label for="place_code">' in scan.text
    done = client.post("/me/checkins", data={"place_code": place_code}, follow_redirects=False)
    assert done.status_code == 201  # the pass, answered at once
    assert 'data-testid="pass"' in done.text
    assert "老街餐厅" in done.text
    assert "陈*" in done.text  # who was checked in, as a guard may see the name
    assert 'data-clock' in done.text  # a running clock: a screenshot is not a pass
    (visit,) = checkins.my_checkins(app.ctx, me)
    assert f'data-checkins="{visit.checkin_id}"' in done.text
    page = client.get("/me/checkins")
    assert "老街餐厅" in page.text
    assert visit.venue_id == venue_id
    en(client)
    page = client.get("/me/checkins")
    assert "Old Street Restaurant" in page.text
    assert "last 14 days" in page.text
    action = f"/me/checkins/{venue_id}/{visit.checkin_id}/checkout"
    assert action in page.text
    assert client.post(action, follow_redirects=False).status_code == 303
    (visit,) = checkins.my_checkins(app.ctx, me)
    assert visit.time_out is not None
    assert "Out:" in client.get("/me/checkins").text
    assert client.post(action.replace(visit.checkin_id, "c" + "0" * 16)).status_code == 404


def test_a_posters_link_opens_the_check_in_and_checks_in_me_and_my_dependant(
    app: App, client: TestClient
) -> None:
    """The poster's QR holds https://HOST/C#<place code>: the page it opens (signed out: a way to
    sign in and come back; signed in: the form, the dependants named), and the link itself as
    the place code; the short link printed for typing redirects to it."""
    venue_id, place_code = venue(app)
    link = place_link("https://hc.example.gov.cn", place_code)
    assert link.startswith("HTTPS://HC.EXAMPLE.GOV.CN/C#PLACE1:")
    assert " " not in link
    assert place_code_of(link) == place_code
    signed_out = client.get("/C")
    assert signed_out.status_code == 200
    assert 'href="/sign-in?next=/C"' in signed_out.text
    assert "/static/js/resident-link.js" in signed_out.text
    short = client.get(f"/v/{venue_id}", follow_redirects=False)
    assert short.status_code == 303
    assert short.headers["location"] == "/C#" + link.split("#", 1)[1]
    assert client.get("/v/vnosuchvenue00000", follow_redirects=False).status_code == 404
    me = enrolled(client, app)
    client.post("/me/dependants", data={"name": "陈小五", "relation": "child"})
    ((child, _),) = enrolment.dependants(app.ctx, me)
    page = client.get("/c")  # what the QR's /C is, in whatever case a phone sends it
    assert page.status_code == 200
    assert f'name="dependants" value="{child}"> 陈**' in page.text  # named, masked
    assert 'data-role="checkin-form"' in page.text
    scan = client.get("/me/scan")
    assert f'value="{child}"> 陈**' in scan.text
    done = client.post("/me/checkins", data={"place_code": link, "dependants": [child]})
    assert done.status_code == 201
    people = re.search(r'data-testid="pass-people".*?</ul>', done.text, re.S)
    assert people is not None
    assert "陈*<" in people.group(0)
    assert "陈**" in people.group(0)
    assert [c.venue_id for c in checkins.my_checkins(app.ctx, me)] == [venue_id]
    assert [c.venue_id for c in checkins.my_checkins(app.ctx, child)] == [venue_id]


def test_a_bad_place_code_is_named_and_nothing_is_stored(app: App, client: TestClient) -> None:
    me = enrolled(client, app)
    _, place_code = venue(app)
    for text in ("", "PLACE1:NOT-A-CODE", place_code[:-4] + "AAAA"):
        refused = client.post("/me/checkins", data={"place_code": text})
        assert refused.status_code == 422
        assert 'id="place_code-error" role="alert"' in refused.text
        assert 'aria-invalid="true"' in refused.text
    assert checkins.my_checkins(app.ctx, me) == []


def test_why_this_colour_gives_the_rule_in_words_and_the_evidence(
    app: App, client: TestClient
) -> None:
    enrolled(client, app)
    green = client.get("/me/why")
    assert green.status_code == 200
    assert "没有任何健康规则适用于您" in green.text
    positive(app)
    red = client.get("/me/why")
    assert "红码" in red.text
    assert "检测阳性：自采样起红码14天" in red.text
    assert "请居家隔离" in red.text  # the advice
    assert "检测结果：阳性" in red.text  # the evidence, in words
    en(client)
    red = client.get("/me/why")
    assert "Positive test: red for 14 days from the sample" in red.text
    assert "Test result: positive" in red.text
    assert "corrected by the lab" in red.text  # a lab result is not appealed here
    me = client.get("/me")
    assert 'data-colour="red"' in me.text
    assert "Positive test" in me.text


def test_who_read_my_record_names_the_role_and_the_case(app: App, client: TestClient) -> None:
    me = enrolled(client, app)
    case_id = positive(app)
    officer = officer_on_case(app, case_id)
    assert client.get(f"/residents/{me}/status", headers=officer).status_code == 200
    en(client)
    page = client.get("/me/record")
    assert page.status_code == 200
    assert "Your record was read." in page.text
    assert f"Why: investigating case {case_id}." in page.text
    assert "by a contact tracer" in page.text
    assert "Your colour changed from Green to Red." in page.text
    assert "You were enrolled." in page.text


def test_an_order_naming_me_and_my_appeal(app: App, client: TestClient) -> None:
    me = enrolled(client, app)
    tracer = staff_principal(app, "tracer")
    order = orders.propose_order(app.ctx, tracer, [me], "red", BASIS, REASON, 5)
    orders.approve_order(app.ctx, staff_principal(app, "health_officer"), order.order_id)
    page = client.get("/me/orders")
    assert REASON in page.text
    assert f"/me/appeals/new?target={order.order_id}" in page.text
    assert "人民共和国传染病防治法" in page.text  # the legal basis in words
    form = client.get(f"/me/appeals/new?target={order.order_id}")
    assert f'value="{order.order_id}"' in form.text
    short = client.post("/me/appeals", data={"target_id": order.order_id, "reason": "no"})
    assert short.status_code == 422
    assert 'id="reason-error"' in short.text
    unknown = client.post(
        "/me/appeals", data={"target_id": "o123", "reason": "这不是我的命令，我从未收到过"}
    )
    assert unknown.status_code == 422
    assert 'id="target_id-error"' in unknown.text
    assert appeals.appeals_of(app.ctx, me) == []
    why = "我那天在外地出差，没有去过"
    filed = client.post("/me/appeals", follow_redirects=False,
                        data={"target_id": order.order_id, "reason": why})  # fmt: skip
    assert filed.status_code == 303
    (appeal,) = appeals.appeals_of(app.ctx, me)
    en(client)
    page = client.get(filed.headers["location"])
    assert "Your appeal was filed" in page.text
    assert f"Against order {order.order_id}" in page.text
    assert "waiting for a decision" in page.text
    assert "Your appeal is waiting for a decision." in client.get("/me/orders").text
    assert appeal.state == "pending"


def test_exposure_notices_say_where_and_what_to_do(app: App, client: TestClient) -> None:
    me = enrolled(client, app)
    other = {"name": "李四", "doc_type": "passport", "doc_number": "E12345678",
             "phone": "13912345679"}  # fmt: skip
    venue_id, place_code = venue(app)
    checkins.check_in_at_place(app.ctx, me, place_code)
    case = enrolment.enrol_resident(app.ctx, enrolment.EnrolResident(**other)).subject_id
    checkins.check_in_at_place(app.ctx, case, place_code)
    app.ctx.clock.advance(3600)  # type: ignore[attr-defined]
    rows = parse_csv("test_id,doc_type,doc_number,sample_time,result,lab\n"
                     f"T-2,passport,E12345678,{app.ctx.clock.now()},positive,LAB1\n")  # fmt: skip
    (case_id,) = lab_import(app, rows).cases_opened
    trace.trace_case(app.ctx, case_id, SYSTEM)
    page = client.get("/me/notices")
    assert page.status_code == 200
    assert "老街餐厅" in page.text
    assert "密切接触者" in page.text
    assert case not in page.text
    assert "请居家隔离7天" in page.text
    assert "您有 1 条接触暴露通知。" in client.get("/me").text
    assert venue_id in page.text or "老街餐厅" in page.text
    en(client)
    page = client.get("/me/notices")
    assert "Old Street Restaurant" in page.text  # the venue in the page's language
    assert "老街餐厅" not in page.text
    assert "What to do:" in page.text


def test_my_dependants_codes(app: App, client: TestClient) -> None:
    me = enrolled(client, app)
    empty = client.get("/me/dependants")
    assert empty.status_code == 200
    bad = client.post("/me/dependants", data={"name": "陈小五", "relation": "cousin"})
    assert bad.status_code == 422
    assert 'id="relation-error"' in bad.text
    bad_name = client.post("/me/dependants", data={"name": "x1!", "relation": "child"})
    assert bad_name.status_code == 422
    assert 'id="name-error"' in bad_name.text
    assert enrolment.dependants(app.ctx, me) == []
    added = client.post("/me/dependants", data={"name": "陈小五", "relation": "child"},
                        follow_redirects=False)  # fmt: skip
    assert added.status_code == 303
    ((child, relation),) = enrolment.dependants(app.ctx, me)
    assert (added.headers["location"], relation) == (f"/me/dependants/{child}", "child")
    page = client.get(added.headers["location"])
    assert page.status_code == 200
    assert data_attr(page.text, "data-code").startswith("HCODE1:")
    assert data_attr(page.text, "data-subject") == child
    assert "陈**" in page.text  # the masked name tells a guardian whose code it is
    assert client.post("/me/code", data={"subject_id": child}).json()["subject_id"] == child
    listing = client.get("/me/dependants")
    assert f"/me/dependants/{child}" in listing.text
    assert f"/me/dependants/{child}" in client.get("/me").text
    assert "陈** <span class=\"muted\">(子女)</span>" in client.get("/me/scan").text
    assert client.get(f"/me/why?dependant={child}").status_code == 200
    assert client.get(f"/me/dependants/{me}").status_code == 404
