"""Check-ins: a resident scans a poster; a venue device scans a code or uploads offline scans.

The ingest routes are `async def` and hand only the service call to the thread pool: for a plain
`def` route FastAPI also validates the response in the pool, a second thread hop per request
(measured by bench/ingest.py). The service call blocks (database, fsync), so it never runs on
the event loop.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from healthcode.domain.accounts import Principal
from healthcode.domain.checkins import CheckIn
from healthcode.entrypoints.web.deps import Ctx, ResidentLimit, VenueLimit
from healthcode.entrypoints.web.schemas import (
    LIMITED_RESPONSES,
    CheckInIn,
    CheckInOut,
    RejectedOut,
    ScanOut,
    UploadIn,
    UploadOut,
    VerifyIn,
)
from healthcode.entrypoints.web.security import Caller, deferred_token, signed_in
from healthcode.services import checkins
from healthcode.services.access import access_venue, gate_subject
from healthcode.services.context import ServiceContext

router = APIRouter(tags=["check-ins"])


def checkin_out(c: CheckIn) -> CheckInOut:
    return CheckInOut(
        venue_id=c.venue_id,
        checkin_id=c.checkin_id,
        subject_id=c.subject_id,
        time_in=c.time_in,
        time_out=c.time_out,
        closes_at=c.closes_at,
        source=c.source.value,
    )


@router.post(
    "/residents/{subject_id}/checkins",
    status_code=201,
    response_model=list[CheckInOut],
    dependencies=[ResidentLimit],
    responses=LIMITED_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CheckInIn.model_json_schema()}},
        }
    },
)
async def check_in(subject_id: str, request: Request, ctx: Ctx) -> list[CheckInOut]:
    """The resident scans a poster (for themselves, and the dependants with them). The
    resident's own check-in is one piece of work in a transaction shared with the other
    check-ins of the moment (session, gate, poster, write), answered once committed; anyone
    else's is signed in and passes the access gate first. The body (CheckInIn) is read here,
    after the caller is known to be a resident, so that a caller who may not check in is
    told so before anything about their input."""
    token = deferred_token(request)
    try:
        body = CheckInIn.model_validate_json(await request.body())
    except ValidationError as exc:
        if token is not None:
            await signed_in(request)  # 401 or 403 first, as on every route
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None
    made = None
    if token is not None:
        made = await asyncio.wrap_future(
            checkins.check_in_own(ctx, token, subject_id, body.place_code, body.dependants)
        )
    if made is None:
        caller = await signed_in(request) if token is not None else request.state.principal
        made = await run_in_threadpool(_check_in, ctx, caller, subject_id, body)
    return [checkin_out(c) for c in made]


def _check_in(
    ctx: ServiceContext, caller: Principal, subject_id: str, body: CheckInIn
) -> list[CheckIn]:
    gate_subject(ctx, caller, subject_id, "resident.checkin")
    # The dependants: the service checks, in its own transaction, that this resident holds them.
    return checkins.check_in_at_place(ctx, subject_id, body.place_code, body.dependants)


@router.get("/residents/{subject_id}/checkins", response_model=list[CheckInOut])
def my_checkins(subject_id: str, caller: Caller, ctx: Ctx) -> list[CheckInOut]:
    """My own check-ins (or my dependant's). No officer may ask this: tracing a confirmed case
    is the only way to learn where someone has been."""
    gate_subject(ctx, caller, subject_id, "resident.checkins.read")
    return [checkin_out(c) for c in checkins.my_checkins(ctx, subject_id)]


@router.post(
    "/residents/{subject_id}/checkins/{venue_id}/{checkin_id}/checkout", response_model=CheckInOut
)
def check_out(
    subject_id: str, venue_id: str, checkin_id: str, caller: Caller, ctx: Ctx
) -> CheckInOut:
    gate_subject(ctx, caller, subject_id, "resident.checkin")
    return checkin_out(checkins.leave(ctx, subject_id, venue_id, checkin_id))


@router.post(
    "/venues/{venue_id}/scans",
    response_model=ScanOut,
    dependencies=[VenueLimit],
    responses=LIMITED_RESPONSES,
)
async def scan(venue_id: str, body: VerifyIn, caller: Caller, ctx: Ctx) -> ScanOut:
    """A venue device (or its staff) scans a health code: admit or refuse, and a check-in."""
    access_venue(caller, venue_id, "venue.scan")
    result = await run_in_threadpool(checkins.scan_health_code, ctx, venue_id, body.code)
    return ScanOut(**result.verdict.for_guard(), recorded=result.recorded)


@router.post(
    "/venues/{venue_id}/uploads",
    response_model=UploadOut,
    dependencies=[VenueLimit],
    responses=LIMITED_RESPONSES,
)
async def upload(venue_id: str, body: UploadIn, caller: Caller, ctx: Ctx) -> UploadOut:
    """An offline device uploads its scans later; idempotent by the device's client ids."""
    access_venue(caller, venue_id, "venue.upload")
    items = [checkins.UploadItem(i.client_id, i.code, i.scanned_at) for i in body.items]
    report = await run_in_threadpool(checkins.upload_scans, ctx, venue_id, items)
    return UploadOut(
        accepted=report.accepted,
        duplicates=report.duplicates,
        rejected=[RejectedOut(client_id=r.client_id, reason=r.reason) for r in report.rejected],
    )
