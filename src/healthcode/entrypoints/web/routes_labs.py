"""Lab results (JSON rows or a CSV file), open cases and their traces. Administration only,
until tracer and officer roles exist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from healthcode.domain.errors import InvalidInput
from healthcode.entrypoints.web.deps import Admin, Ctx
from healthcode.entrypoints.web.schemas import (
    ADMIN_RESPONSES,
    CaseOut,
    ContactOut,
    ExposureOut,
    LabImportIn,
    LabImportOut,
    OutbreakIn,
    OutbreakOut,
    TraceOut,
)
from healthcode.services import labs, trace

router = APIRouter(tags=["lab results and cases"], responses=ADMIN_RESPONSES)
MAX_CSV_BYTES = 20_000_000


def report_out(report: labs.ImportReport) -> LabImportOut:
    return LabImportOut(
        imported=report.imported, duplicates=report.duplicates, cases_opened=report.cases_opened
    )


@router.post("/lab-results", response_model=LabImportOut)
def import_rows(body: LabImportIn, ctx: Ctx, actor: Admin) -> LabImportOut:
    rows = [
        labs.LabRow(n, r.test_id, r.doc_type, r.doc_number, r.sample_time, r.result, r.lab)
        for n, r in enumerate(body.rows)
    ]
    return report_out(labs.import_results(ctx, rows, actor))


@router.post("/lab-results/csv", response_model=LabImportOut)
async def import_csv(file: Annotated[UploadFile, File()], ctx: Ctx, actor: Admin) -> LabImportOut:
    data = await file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise InvalidInput(
            f"file is larger than {MAX_CSV_BYTES} bytes", field="file", code="too_large"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("file is not UTF-8 text", field="file", code="encoding") from None
    return report_out(labs.import_results(ctx, labs.parse_csv(text), actor))


@router.get("/cases", response_model=list[CaseOut])
def open_cases(ctx: Ctx, actor: Admin) -> list[CaseOut]:
    return [
        CaseOut(
            case_id=c.case_id,
            window_start=c.window_start,
            window_end=c.window_end,
            opened_at=c.opened_at,
        )
        for c in labs.open_cases(ctx)
    ]


def contact_out(contact: trace.Contact) -> ContactOut:
    return ContactOut(
        subject_id=contact.subject_id,
        via=contact.via,
        exposures=[
            ExposureOut(
                venue_id=e.source.venue_id,
                start=e.start,
                end=e.end,
                seconds=e.seconds,
                contact_checkin=e.contact.checkin_id,
                source_checkin=e.source.checkin_id,
            )
            for e in contact.exposures
        ],
    )


@router.post("/cases/trace", response_model=OutbreakOut)
def trace_outbreak(
    body: OutbreakIn, ctx: Ctx, actor: Admin, depth: Annotated[int, Query(ge=1, le=2)] = 2
) -> OutbreakOut:
    """Trace many cases in one batch (no ids: every open case); each logged with its case."""
    report = trace.trace_outbreak(ctx, body.case_ids, actor, depth)
    return OutbreakOut(
        cases=report.cases,
        close=report.close,
        secondary=report.secondary,
        new_exposures=report.new_exposures,
        colour_changes=report.colour_changes,
    )


@router.post("/cases/{case_id}/trace", response_model=TraceOut)
def trace_case(
    case_id: str, ctx: Ctx, actor: Admin, depth: Annotated[int, Query(ge=1, le=2)] = 2
) -> TraceOut:
    """Close and secondary contacts of a case, with their evidence. Logged with the case."""
    result = trace.trace_case(ctx, case_id, actor, depth)
    return TraceOut(
        case_id=result.case_id,
        close=[contact_out(c) for c in result.close],
        secondary=[contact_out(c) for c in result.secondary],
    )
