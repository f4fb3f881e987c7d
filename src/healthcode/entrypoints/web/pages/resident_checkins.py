"""My check-ins: scanning a venue's place code with the phone's camera (or pasting its text),
the visits of the retention period, and checking out. The same use cases as the API's
`POST /residents/{id}/checkins`, `GET .../checkins` and `.../checkout`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthcode.domain.errors import DomainError
from healthcode.entrypoints.web.deps import Ctx, limit_key
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages.rendering import PageRoute, redirect, render
from healthcode.entrypoints.web.pages.resident_texts import venue_names
from healthcode.entrypoints.web.security import Caller
from healthcode.services import checkins, enrolment
from healthcode.services.access import gate_subject

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/me/checkins"): "page.resident",
    ("POST", "/me/checkins"): "resident.checkin",
    ("POST", "/me/checkins/{venue_id}/{checkin_id}/checkout"): "resident.checkin",
    ("GET", "/me/scan"): "page.resident",
}


@router.get("/me/checkins", response_class=HTMLResponse)
def my_checkins(request: Request, caller: Caller, ctx: Ctx, new: str = "") -> HTMLResponse:
    gate_subject(ctx, caller, caller.ref, "resident.checkins.read")
    visits = checkins.my_checkins(ctx, caller.ref)
    visits.sort(key=lambda c: c.time_in, reverse=True)
    return render(
        request,
        "resident/checkins.html",
        visits=visits,
        names=venue_names(ctx, request, (c.venue_id for c in visits)),
        new=new,
        now=ctx.clock.now(),
        days=ctx.retention.days,
    )


def _scan_page(
    request: Request,
    ctx: Ctx,
    caller: Caller,
    status: int = 200,
    error: DomainError | None = None,
    place_code: str = "",
) -> HTMLResponse:
    return render(
        request, "resident/scan.html", status, error=error, place_code=place_code,
        dependants=enrolment.dependants(ctx, caller.ref),
    )  # fmt: skip


@router.get("/me/scan", response_class=HTMLResponse)
def scan_page(request: Request, caller: Caller, ctx: Ctx) -> HTMLResponse:
    return _scan_page(request, ctx, caller)


@router.post("/me/checkins", response_model=None)
def check_in(
    request: Request,
    caller: Caller,
    ctx: Ctx,
    place_code: Annotated[str, Form(max_length=2048)] = "",
    dependants: Annotated[list[str], Form(max_length=10)] = [],  # noqa: B006 - FastAPI copies it
) -> HTMLResponse | RedirectResponse:
    """The scanned (or pasted) place code checks me in, and the dependants I ticked with me."""
    limit_key(request, "resident", caller.ref)
    text = place_code.strip()
    try:
        gate_subject(ctx, caller, caller.ref, "resident.checkin")
        made = checkins.check_in_at_place(ctx, caller.ref, text, dependants)
    except DomainError as exc:
        return _scan_page(request, ctx, caller, status_of(exc), exc, text)
    return redirect(f"/me/checkins?new={made[0].checkin_id}")


@router.post("/me/checkins/{venue_id}/{checkin_id}/checkout", response_model=None)
def check_out(venue_id: str, checkin_id: str, caller: Caller, ctx: Ctx) -> RedirectResponse:
    gate_subject(ctx, caller, caller.ref, "resident.checkin")
    checkins.leave(ctx, caller.ref, venue_id, checkin_id)
    return redirect("/me/checkins")
