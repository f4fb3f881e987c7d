"""Lab results and cases, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.domain.audit import Actor
from healthcode.domain.cases import DAY
from healthcode.domain.errors import InvalidInput
from healthcode.services import audit, enrolment, labs
from healthcode.services.labs import ImportRefused, parse_csv

LAB = Actor("lab", "gz-lab-1")
DOC = "11010519491231002X"


def enrol(app: App, doc: str = DOC) -> str:
    cmd = enrolment.EnrolResident("冯三", "prc_id", doc, "13812345678")
    return enrolment.enrol_resident(app.ctx, cmd).subject_id


def csv_of(*rows: str) -> str:
    return "test_id,doc_type,doc_number,sample_time,result,lab\n" + "\n".join(rows) + "\n"


def test_a_positive_opens_a_case_with_its_infectious_window(app: App, clock: FixedClock) -> None:
    subject = enrol(app)
    sample = clock.now() - DAY
    rows = parse_csv(
        csv_of(
            f"T-1,prc_id,{DOC},{sample},positive,GZLAB1",
            f"T-0,prc_id,{DOC},{sample - 5 * DAY},negative,GZLAB1",
        )
    )
    report = labs.import_results(app.ctx, rows, LAB)
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


def test_reimport_is_idempotent_and_a_second_positive_joins_the_case(app: App) -> None:
    enrol(app)
    now = app.ctx.clock.now()
    first = labs.import_results(
        app.ctx, parse_csv(csv_of(f"T-1,prc_id,{DOC},{now - 3600},positive,GZLAB1")), LAB
    )
    again = labs.import_results(
        app.ctx,
        parse_csv(
            csv_of(
                f"T-1,prc_id,{DOC},{now - 3600},positive,GZLAB1",
                f"T-2,prc_id,{DOC},2026-11-18T08:00:00+08:00,positive,GZLAB1",
            )
        ),
        LAB,
    )
    assert len(first.cases_opened) == 1
    assert again.duplicates == 1
    assert again.imported == 1
    assert again.cases_opened == []
    assert len(labs.open_cases(app.ctx)) == 1


def test_a_bad_file_imports_nothing_and_names_every_bad_line(app: App) -> None:
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
        labs.import_results(app.ctx, parse_csv(text), LAB)
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
