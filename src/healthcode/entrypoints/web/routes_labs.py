"""Lab results (JSON rows or a CSV file: health officers), open cases and their traces (a tracer
traces the cases assigned to them; a health officer any case, and outbreaks in one batch)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.concurrency import run_in_threadpool

from healthcode.domain.access import Role
from healthcode.domain.errors import InvalidInput
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.schemas import (
    CaseOut,
    ContactOut,
    ExposureOut,
    LabImportIn,
    LabImportOut,
    OutbreakIn,
    OutbreakOut,
    TraceOut,
)
from healthcode.entrypoints.web.security import Caller
from healthcode.services import labs, staff, trace
from healthcode.services.access import access_case
from healthcode.services.auth import actor_for

router = APIRouter(tags=["lab results and cases"])
MAX_CSV_BYTES = 20_000_000


def report_out(report: labs.ImportReport) -> LabImportOut:
    return LabImportOut(
        imported=report.imported, duplicates=report.duplicates, cases_opened=report.cases_opened
    )


@router.post("/lab-results", response_model=LabImportOut)
def import_rows(body: LabImportIn, caller: Caller, ctx: Ctx) -> LabImportOut:
    rows = [
        labs.LabRow(n, r.test_id, r.doc_type, r.doc_number, r.sample_time, r.result, r.lab)
        for n, r in enumerate(body.rows)
    ]
    return report_out(labs.import_results(ctx, rows, actor_for(ctx, caller)))


@router.post("/lab-results/csv", response_model=LabImportOut)
async def import_csv(file: Annotated[UploadFile, File()], caller: Caller, ctx: Ctx) -> LabImportOut:
    data = await file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise InvalidInput(
            f"file is larger than {MAX_CSV_BYTES} bytes", field="file", code="too_large"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("file is not UTF-8 text", field="file", code="encoding") from None
    rows = labs.parse_csv(text)
    actor = await run_in_threadpool(actor_for, ctx, caller)
    return report_out(await run_in_threadpool(labs.import_results, ctx, rows, actor))


@router.get("/cases", response_model=list[CaseOut])
def open_cases(caller: Caller, ctx: Ctx) -> list[CaseOut]:
    """Open cases: all of them for a health officer, the assigned ones for a tracer."""
    mine = None if caller.role is Role.HEALTH_OFFICER else set(staff.cases_of(ctx, caller.ref))
    return [
        CaseOut(
            case_id=c.case_id,
            window_start=c.window_start,
            window_end=c.window_end,
            opened_at=c.opened_at,
        )
        for c in labs.open_cases(ctx)
        if mine is None or c.case_id in mine
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
    body: OutbreakIn, caller: Caller, ctx: Ctx, depth: Annotated[int, Query(ge=1, le=2)] = 2
) -> OutbreakOut:
    """Trace many cases in one batch (no ids: every open case); each logged with its case."""
    report = trace.trace_outbreak(ctx, body.case_ids, actor_for(ctx, caller), depth)
    return OutbreakOut(
        cases=report.cases,
        close=report.close,
        secondary=report.secondary,
        new_exposures=report.new_exposures,
        colour_changes=report.colour_changes,
    )


@router.post("/cases/{case_id}/trace", response_model=TraceOut)
def trace_case(
    case_id: str, caller: Caller, ctx: Ctx, depth: Annotated[int, Query(ge=1, le=2)] = 2
) -> TraceOut:
    """Close and secondary contacts of a case, with their evidence. Logged with the case.
    The only way anyone learns where people have been, and only for a confirmed case."""
    with ctx.uow(read_only=True) as uow:
        access_case(uow, caller, case_id, "case.trace")
    result = trace.trace_case(ctx, case_id, actor_for(ctx, caller), depth)
    return TraceOut(
        case_id=result.case_id,
        close=[contact_out(c) for c in result.close],
        secondary=[contact_out(c) for c in result.secondary],
    )
