"""My check-ins: scanning a venue's place code with the phone's camera (or pasting its text), or
opening the link a poster's QR holds in any phone browser (`/C#<place code>`, or the short
`/v/<venue id>` printed on it); the pass a check-in answers with; the visits of the retention
period, and checking out. The same use cases as the API's `POST /residents/{id}/checkins`,
`GET .../checkins` and `.../checkout`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthcode.domain.access import Role
from healthcode.domain.errors import DomainError
from healthcode.entrypoints.web.deps import Ctx, limit_key
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages.rendering import PageRoute, redirect, render
from healthcode.entrypoints.web.pages.resident_texts import venue_names
from healthcode.entrypoints.web.security import Caller
from healthcode.services import checkins, enrolment, venues
from healthcode.services.access import gate_subject
from healthcode.verifier.place_link import LINK_PATH, fragment_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/me/checkins"): "page.resident",
    ("POST", "/me/checkins"): "resident.checkin",
    ("POST", "/me/checkins/{venue_id}/{checkin_id}/checkout"): "resident.checkin",
    ("GET", "/me/scan"): "page.resident",
    ("GET", "/C"): "page.public",
    ("GET", "/c"): "page.public",
    ("GET", "/v/{venue_id}"): "page.public",
}


@router.get("/me/checkins", response_class=HTMLResponse)
def my_checkins(request: Request, caller: Caller, ctx: Ctx) -> HTMLResponse:
    gate_subject(ctx, caller, caller.ref, "resident.checkins.read")
    visits = checkins.my_checkins(ctx, caller.ref)
    visits.sort(key=lambda c: c.time_in, reverse=True)
    return render(
        request,
        "resident/checkins.html",
        visits=visits,
        names=venue_names(ctx, request, (c.venue_id for c in visits)),
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
        dependants=enrolment.named_dependants(ctx, caller.ref),
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
    # The pass, answered here from what was just checked in (in a cluster the check-ins may
    # still be in the ingest buffer); the page then puts /me/checkins in the address bar, so
    # that reloading it cannot check anyone in again.
    names = enrolment.masked_names(ctx, caller.ref, [c.subject_id for c in made])
    venue = venue_names(ctx, request, [made[0].venue_id])[made[0].venue_id]
    people = [(names.get(c.subject_id, "*"), c.subject_id == caller.ref) for c in made]
    return render(request, "resident/pass.html", 201, venue=venue, checked_in=made[0].time_in,
                  people=people, checkin_ids=[c.checkin_id for c in made])  # fmt: skip


@router.get("/C", response_class=HTMLResponse)
@router.get("/c", response_class=HTMLResponse)
def by_link(request: Request, caller: Caller, ctx: Ctx) -> HTMLResponse:
    """What a poster's QR opens: its place code is in the address's fragment, which the
    browser keeps to itself (the page's script reads it); signed in as a resident, the check-in
    form with the dependants to tick; otherwise a way to sign in and come back here."""
    resident = caller.role is Role.RESIDENT
    return render(
        request, "resident/link.html", resident=resident,
        dependants=enrolment.named_dependants(ctx, caller.ref) if resident else [],
    )  # fmt: skip


@router.get("/v/{venue_id}")
def by_venue(venue_id: str, ctx: Ctx) -> RedirectResponse:
    """The short link printed on a poster, for typing: the check-in page with the venue's
    current place code (public, as GET /venues/{id} gives it)."""
    found = venues.venue_with_poster(ctx, venue_id)
    return RedirectResponse(f"{LINK_PATH}#{fragment_of(found.poster.payload)}", status_code=303)


@router.post("/me/checkins/{venue_id}/{checkin_id}/checkout", response_model=None)
def check_out(venue_id: str, checkin_id: str, caller: Caller, ctx: Ctx) -> RedirectResponse:
    gate_subject(ctx, caller, caller.ref, "resident.checkin")
    checkins.leave(ctx, caller.ref, venue_id, checkin_id)
    return redirect("/me/checkins")
