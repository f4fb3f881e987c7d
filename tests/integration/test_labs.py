"""Lab results and cases, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.domain.cases import DAY
from healthcode.domain.errors import Conflict, Forbidden, InvalidInput
from healthcode.domain.labs import parse_signature
from healthcode.services import audit, enrolment, lab_registry, labs
from healthcode.services.labs import ImportRefused, parse_csv
from healthcode.verifier.trustlist import spki_der
from tests.support.labs import new_key, registered_lab
from tests.support.staff import founders

DOC = "11010519491231002X"


@pytest.fixture
def lab(app: App) -> Principal:
    """The lab GZLAB1, registered by two admins with its own key (tests/support/labs.py)."""
    return registered_lab(app, "GZLAB1").principal


def enrol(app: App, doc: str = DOC) -> str:
    cmd = enrolment.EnrolResident("冯三", "prc_id", doc, "13812345678")
    return enrolment.enrol_resident(app.ctx, cmd).subject_id


def csv_of(*rows: str) -> str:
    return "test_id,doc_type,doc_number,sample_time,result,lab\n" + "\n".join(rows) + "\n"


def test_a_positive_opens_a_case_with_its_infectious_window(
    app: App, lab: Principal, clock: FixedClock
) -> None:
    subject = enrol(app)
    sample = clock.now() - DAY
    rows = parse_csv(
        csv_of(
            f"T-1,prc_id,{DOC},{sample},positive,GZLAB1",
            f"T-0,prc_id,{DOC},{sample - 5 * DAY},negative,GZLAB1",
        )
    )
    report = labs.import_results(app.ctx, rows, lab)
    assert report.imported == 2
    (case_id,) = report.cases_opened
    (case,) = labs.open_cases(app.ctx)
    assert case.case_id == case_id
    assert case.subject_id == subject
    assert case.window_start == sample - app.settings.infectious_days_before * DAY
    assert case.window_end == clock.now()
    entries = [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]
    opened = [e for e in entries if e["action"] == "case.opened"]
    assert opened[0]["object"]["ref"] == case_id
    assert subject not in json.dumps(entries)
    assert "T-1" not in json.dumps(entries)


def test_reimport_is_idempotent_and_a_second_positive_joins_the_case(
    app: App, lab: Principal
) -> None:
    enrol(app)
    now = app.ctx.clock.now()
    first = labs.import_results(
        app.ctx, parse_csv(csv_of(f"T-1,prc_id,{DOC},{now - 3600},positive,GZLAB1")), lab
    )
    again = labs.import_results(
        app.ctx,
        parse_csv(
            csv_of(
                f"T-1,prc_id,{DOC},{now - 3600},positive,GZLAB1",
                f"T-2,prc_id,{DOC},2026-11-18T08:00:00+08:00,positive,GZLAB1",
            )
        ),
        lab,
    )
    assert len(first.cases_opened) == 1
    assert again.duplicates == 1
    assert again.imported == 1
    assert again.cases_opened == []
    assert len(labs.open_cases(app.ctx)) == 1


def test_a_bad_file_imports_nothing_and_names_every_bad_line(app: App, lab: Principal) -> None:
    enrol(app)
    now = app.ctx.clock.now()
    text = csv_of(
        f"T-1,prc_id,{DOC},{now - 60},positive,GZLAB1",  # line 2: fine
        f"T-2,prc_id,110105194912310021,{now},positive,GZLAB1",  # line 3: checksum
        f"T-3,prc_id,{DOC},yesterday,positive,GZLAB1",  # line 4: time
        f"T-4,prc_id,{DOC},{now - 60},maybe,GZLAB1",  # line 5: result
        f"T-1,prc_id,{DOC},{now - 60},negative,GZLAB1",  # line 6: duplicate id
        f"T-6,passport,E99999999,{now - 60},negative,GZLAB1",  # line 7: not enrolled
        f"T-7,prc_id,{DOC},2026-11-20T08:00:00,negative,GZLAB1",  # line 8: no offset
    )
    size = audit.log_size(app.ctx)
    with pytest.raises(ImportRefused) as refused:
        labs.import_results(app.ctx, parse_csv(text), lab)
    by_line = {e.line: e.field for e in refused.value.errors}
    assert by_line == {
        3: "doc_number",
        4: "sample_time",
        5: "result",
        6: "test_id",
        7: "doc_number",
        8: "sample_time",
    }
    assert labs.open_cases(app.ctx) == []
    assert audit.log_size(app.ctx) == size


def test_missing_columns_are_named() -> None:
    with pytest.raises(labs.InvalidInput, match="sample_time"):
        parse_csv("test_id,doc_type,doc_number,result,lab\nT,prc_id,x,positive,L\n")


def test_a_file_that_is_not_csv_is_refused_naming_the_line() -> None:
    huge = "x" * 200_000  # beyond the csv module's field limit
    with pytest.raises(InvalidInput) as refused:
        parse_csv(csv_of(f"T-1,prc_id,{DOC},0,positive,{huge}"))
    assert refused.value.field == "file"
    assert refused.value.code == "csv_format"
    assert "after line 1" in refused.value.message


def test_a_lab_is_registered_by_two_admins_and_revoked_by_one(app: App) -> None:
    first, second = founders(app).admins
    _, public = new_key()
    asked = lab_registry.request_lab(app.ctx, first, "SZLAB9", "深圳第九检测中心", public)
    assert asked.state == "pending"
    with pytest.raises(Forbidden):  # the one who asked is not the second person
        lab_registry.approve_lab(app.ctx, first, asked.lab_id)
    row = csv_of(f"T-1,prc_id,{DOC},{app.ctx.clock.now() - 60},positive,SZLAB9")
    pending = Principal(PrincipalKind.LAB, asked.lab_id, Role.LAB)
    with pytest.raises(Forbidden):  # a lab not yet approved submits nothing
        labs.import_results(app.ctx, parse_csv(row), pending)
    approved = lab_registry.approve_lab(app.ctx, second, asked.lab_id)
    assert approved.state == "active"
    with pytest.raises(Conflict):
        lab_registry.request_lab(app.ctx, first, "SZLAB9", "again", new_key()[1])
    with pytest.raises(InvalidInput) as weak:
        lab_registry.request_lab(app.ctx, first, "RSA1", "RSA lab", base64.b64encode(
            spki_der(rsa.generate_private_key(65537, 2048).public_key())).decode())  # fmt: skip
    assert weak.value.field == "public_key"
    assert lab_registry.revoke_lab(app.ctx, second, asked.lab_id).state == "revoked"
    actions = [e["action"] for e in log(app) if e["object"]["kind"] == "lab"]
    assert actions == ["lab.registration_requested", "lab.registered", "lab.registered",
                       "lab.revoked"]  # fmt: skip
    refused = [e for e in log(app) if e["action"] == "lab.registered" and e["outcome"] != "ok"]
    assert refused[0]["outcome"] == "refused:same_person"


def test_a_signed_request_proves_the_lab_and_nothing_else_does(app: App) -> None:
    test_lab = registered_lab(app, "GZLAB1")
    now = app.ctx.clock.now()
    body = b"test_id,doc_type,doc_number,sample_time,result\n"
    signed = parse_signature(test_lab.headers("/lab-results/csv", body, now)[
        "Healthcode-Lab-Signature"])  # fmt: skip
    assert lab_registry.authenticate_lab(app.ctx, signed, "/lab-results/csv", body).code == (
        "GZLAB1"
    )
    for path, data in (("/lab-results/fhir", body), ("/lab-results/csv", body + b"x")):
        with pytest.raises(Forbidden):  # another route, or another body
            lab_registry.authenticate_lab(app.ctx, signed, path, data)
    late = parse_signature(test_lab.headers("/lab-results/csv", body, now - 3600)[
        "Healthcode-Lab-Signature"])  # fmt: skip
    with pytest.raises(Forbidden, match="too old"):
        lab_registry.authenticate_lab(app.ctx, late, "/lab-results/csv", body)
    for header in ("", "lab=x", "lab=x; created=1; sig=AAAA", "lab=x; created=x; sig=" + "A" * 88):
        with pytest.raises(InvalidInput):
            parse_signature(header)


def test_positives_without_a_request_or_a_link_are_counted_on_the_log(
    app: App, lab: Principal, clock: FixedClock
) -> None:
    enrol(app)
    other = "110105199003070025"
    enrol(app, other)
    now = clock.now()
    registered = labs.import_results(
        app.ctx, parse_csv(csv_of(f"T-1,prc_id,{DOC},{now - 7200},registered,GZLAB1")), lab
    )
    assert (registered.registered, registered.imported) == (1, 0)
    assert labs.open_cases(app.ctx) == []
    report = labs.import_results(app.ctx, parse_csv(csv_of(
        f"T-1,prc_id,{DOC},{now - 7200},positive,GZLAB1",  # answers its registration
        f"T-2,prc_id,{other},{now - 7200},positive,GZLAB1",  # no request, no link
    )), lab)  # fmt: skip
    assert (report.positives, report.unrequested, report.unlinked) == (2, 1, 2)
    (entry,) = [e for e in log(app) if e["action"] == "lab_results.imported"
                and e["details"]["imported"] == 2]  # fmt: skip
    assert entry["actor"] == {"role": "lab", "ref": f"lab:{lab.ref}"}
    assert entry["details"]["unrequested"] == 1
    with pytest.raises(ImportRefused) as foreign:  # a lab sends its own results only
        labs.import_results(app.ctx, parse_csv(csv_of(
            f"T-9,prc_id,{DOC},{now - 60},positive,SZLAB9")), lab)  # fmt: skip
    assert foreign.value.errors[0].field == "lab"


def log(app: App) -> list[dict[str, Any]]:
    return [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]
