"""Labs and their results (domain/labs.py): a lab is registered by two admins with its own public
key (anyone may list the labs), and only a lab submits results, signing each request with its
key (`Healthcode-Lab-Signature`): JSON rows, a CSV file (`text/csv`) or an HL7 FHIR R4 Bundle
(`application/fhir+json`). Then open cases and their traces: every officer traces only the cases
assigned to them."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.concurrency import run_in_threadpool

from healthcode.adapters.fhir import parse_bundle
from healthcode.domain.access import Role
from healthcode.domain.errors import InvalidInput
from healthcode.domain.labs import Lab
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.schemas import (
    CaseOut,
    ContactOut,
    ExposureOut,
    LabImportIn,
    LabImportOut,
    LabIn,
    LabOut,
    OutbreakIn,
    OutbreakOut,
    TraceOut,
)
from healthcode.entrypoints.web.security import Caller
from healthcode.services import lab_registry, labs, staff, status_queue, trace
from healthcode.services.access import access_case
from healthcode.services.auth import actor_for
from healthcode.services.context import ServiceContext

router = APIRouter(tags=["labs, lab results and cases"])
MAX_BODY_BYTES = 20_000_000


def report_out(report: labs.ImportReport) -> LabImportOut:
    return LabImportOut(
        imported=report.imported,
        duplicates=report.duplicates,
        registered=report.registered,
        positives=report.positives,
        cases_opened=report.cases_opened,
    )


def lab_out(lab: Lab) -> LabOut:
    return LabOut(
        lab_id=lab.lab_id,
        code=lab.code,
        name=lab.name,
        public_key=base64.b64encode(lab.public_key).decode(),
        kid=lab.kid,
        state=lab.state,
        requested_by=lab.requested_by,
        requested_at=lab.requested_at,
        approved_by=lab.approved_by,
        approved_at=lab.approved_at,
        revoked_at=lab.revoked_at,
    )


@router.get("/labs", response_model=list[LabOut])
def list_labs(ctx: Ctx) -> list[LabOut]:
    """Every lab with its code and public key: anyone can check who may send results."""
    return [lab_out(lab) for lab in lab_registry.list_labs(ctx)]


@router.post("/labs", status_code=202, response_model=LabOut)
def request_lab(body: LabIn, caller: Caller, ctx: Ctx) -> LabOut:
    """Ask for a lab, with the public key the lab made itself; a second admin approves."""
    return lab_out(lab_registry.request_lab(ctx, caller, body.code, body.name, body.public_key))


@router.post("/labs/{lab_id}/approve", response_model=LabOut)
def approve_lab(lab_id: str, caller: Caller, ctx: Ctx) -> LabOut:
    return lab_out(lab_registry.approve_lab(ctx, caller, lab_id))


@router.post("/labs/{lab_id}/revoke", response_model=LabOut)
def revoke_lab(lab_id: str, caller: Caller, ctx: Ctx) -> LabOut:
    return lab_out(lab_registry.revoke_lab(ctx, caller, lab_id))


@router.post("/lab-results", response_model=LabImportOut)
def import_rows(body: LabImportIn, caller: Caller, ctx: Ctx) -> LabImportOut:
    """Results as JSON rows, from a lab (signed)."""
    rows = [
        labs.LabRow(n, r.test_id, r.doc_type, r.doc_number, r.sample_time, r.result, r.lab)
        for n, r in enumerate(body.rows)
    ]
    return report_out(labs.import_results(ctx, rows, caller))


async def _text(request: Request, what: str) -> str:
    data = await request.body()
    if len(data) > MAX_BODY_BYTES:
        raise InvalidInput(
            "at most %(max_body_bytes)s bytes",
            field=what,
            code="too_large",
            params={"max_body_bytes": MAX_BODY_BYTES},
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("not UTF-8 text", field=what, code="encoding") from None


@router.post(
    "/lab-results/csv",
    response_model=LabImportOut,
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {}}}},
)
async def import_csv(request: Request, caller: Caller, ctx: Ctx) -> LabImportOut:
    """Results as a CSV file (header test_id, doc_type, doc_number, sample_time, result[, lab]),
    from a lab (signed)."""
    rows = labs.parse_csv(await _text(request, "file"))
    return report_out(await run_in_threadpool(labs.import_results, ctx, rows, caller))


@router.post(
    "/lab-results/fhir",
    response_model=LabImportOut,
    openapi_extra={"requestBody": {"required": True, "content": {"application/fhir+json": {}}}},
)
async def import_fhir(request: Request, caller: Caller, ctx: Ctx) -> LabImportOut:
    """Results as an HL7 FHIR R4 Bundle of DiagnosticReport + Observation + Patient, from a lab
    (signed); see the README for how a Bundle is read."""
    text = await _text(request, "bundle")
    rows = await run_in_threadpool(parse_bundle, text)
    return report_out(await run_in_threadpool(labs.import_results, ctx, rows, caller))


@router.get("/cases", response_model=list[CaseOut])
def open_cases(caller: Caller, ctx: Ctx) -> list[CaseOut]:
    """Open cases: all of them for a health officer (who assigns them), the assigned ones for a
    tracer. Listing a case reads nobody's data; tracing it needs its assignment."""
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
    """Trace many of the cases assigned to the caller in one batch (no ids: every open case
    assigned to them); each logged with its case, in the record of everyone it read."""
    report = trace.trace_outbreak(
        ctx, body.case_ids, actor_for(ctx, caller), depth, assigned_to=caller.ref
    )
    return OutbreakOut(
        cases=report.cases,
        close=report.close,
        secondary=report.secondary,
        new_exposures=report.new_exposures,
        colour_changes=report.colour_changes,
    )


@router.post("/cases/{case_id}/trace", response_model=TraceOut)
def trace_case(
    case_id: str,
    caller: Caller,
    ctx: Ctx,
    later: BackgroundTasks,
    depth: Annotated[int, Query(ge=1, le=2)] = 2,
) -> TraceOut:
    """Close and secondary contacts of a case, with their evidence. Logged with the case.
    The only way anyone learns where people have been, and only for a confirmed case. The
    contacts come first: their colours are derived again right after the answer is sent
    (`colours_queued` people; services/status_queue.py)."""
    with ctx.uow(read_only=True) as uow:
        access_case(uow, caller, case_id, "case.trace")
    result = trace.trace_case(ctx, case_id, actor_for(ctx, caller), depth, settle=False)
    later.add_task(settle_after, ctx, result)
    return TraceOut(
        case_id=result.case_id,
        close=[contact_out(c) for c in result.close],
        secondary=[contact_out(c) for c in result.secondary],
        colours_queued=result.colours_queued,
    )


def settle_after(ctx: ServiceContext, result: trace.TraceResult) -> None:
    """A trace's colour work, once its answer is sent (the server's job does what is left)."""
    if result.colours_queued:
        people = sorted({c.subject_id for c in (*result.close, *result.secondary)})
        status_queue.settle_quietly(ctx, people)
