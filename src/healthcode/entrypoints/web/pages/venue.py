"""Venue pages: the authority registers a venue; the venue's staff see it, download its poster
(PDF, PNG, SVG), rotate the poster, and (venue admins) register and revoke scanner devices.

Every form goes through the same service and the same gates as the JSON API (routes_venues.py,
routes_staff.py). Poster files are the API's own routes (`/venues/{id}/poster.{fmt}`): the
session cookie signs the download in, and the API checks the venue as it always does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthcode.domain.access import Role, allowed
from healthcode.domain.accounts import Principal
from healthcode.domain.errors import DomainError, InvalidInput
from healthcode.domain.venues import VenueType
from healthcode.entrypoints.web.deps import Acting, Ctx
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages import i18n
from healthcode.entrypoints.web.pages.rendering import PageRoute, redirect, render
from healthcode.entrypoints.web.security import Caller
from healthcode.services import staff, venues
from healthcode.services.access import access_venue
from healthcode.services.context import ServiceContext

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/venue"): "page.venue",
    ("GET", "/venue/register"): "venue.register",
    ("POST", "/venue/register"): "venue.register",
    ("GET", "/venue/place/{venue_id}"): "venue.poster.read",
    ("POST", "/venue/place/{venue_id}/rotate"): "venue.poster.rotate",
    ("POST", "/venue/devices"): "venue.device.manage",
    ("POST", "/venue/devices/{device_id}/revoke"): "venue.device.manage",
}

Text = Annotated[str, Form()]
VENUE_SIDE = (Role.VENUE_STAFF, Role.VENUE_ADMIN, Role.VENUE_DEVICE)
FIELDS = ("name_zh", "name_en", "address", "district", "venue_type", "operator")


def _(text: str) -> str:
    """Marks a text for the catalogue; it is translated when the page is rendered."""
    return text


# The services explain refusals in English for API clients; a form says it in the reader's
# language, for the codes a person can cause by typing.
FRIENDLY = {
    "name_zh:required": _("Give the venue a Chinese or an English name."),
    "required": _("This field is required."),
    "too_long": _("This is too long."),
    "charset": _("Remove the control characters."),
    "unknown_type": _("Choose a venue type from the list."),
    "confirm": _("Tick the box to confirm."),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """What a form shows about a refused input: the field at fault and why, in words."""

    field: str | None
    message: str
    code: str


def problem(request: Request, exc: DomainError) -> Problem:
    text = FRIENDLY.get(f"{exc.field}:{exc.code}") or FRIENDLY.get(exc.code)
    if text is None:
        return Problem(exc.field, exc.message, exc.code)
    return Problem(exc.field, i18n.translations(i18n.negotiate(request)).gettext(text), exc.code)


def _own_venue_id(caller: Principal) -> str:
    if caller.venue_id is None:  # venue accounts are always bound to a venue; be safe anyway
        raise InvalidInput("this account is not bound to a venue", field="venue_id")
    return caller.venue_id


def _venue_page(
    request: Request,
    ctx: ServiceContext,
    caller: Principal,
    venue_id: str,
    status_code: int = 200,
    **extra: object,
) -> HTMLResponse:
    found = venues.venue_with_poster(ctx, venue_id)
    is_admin = caller.role is Role.VENUE_ADMIN
    context: dict[str, object] = {
        "venue": found.venue,
        "poster": found.poster,
        "can_read_poster": allowed("venue.poster.read", caller.role),
        "can_rotate": allowed("venue.poster.rotate", caller.role),
        "devices": staff.devices_of(ctx, caller, venue_id) if is_admin else None,
        "own": caller.role in VENUE_SIDE,
        "registered": request.query_params.get("registered") == "1",
        "grace": ctx.policy.poster_grace_seconds,
        "new_device": None,
        "token": None,
        "label": "",
        "error": None,
    }
    context.update(extra)
    return render(request, "venue/venue.html", status_code, **context)


@router.get("/venue", response_class=HTMLResponse)
def my_venue(request: Request, caller: Caller, ctx: Ctx) -> HTMLResponse:
    """The venue's own page: details, poster, scanner devices (admins), the scanner."""
    return _venue_page(request, ctx, caller, _own_venue_id(caller))


@router.get("/venue/place/{venue_id}", response_class=HTMLResponse)
def venue_page(venue_id: str, request: Request, caller: Caller, ctx: Ctx) -> HTMLResponse:
    """A venue's page for whoever may read its poster: its staff, or the authority."""
    access_venue(caller, venue_id, "venue.poster.read")
    return _venue_page(request, ctx, caller, venue_id)


def _register_form(
    request: Request, values: dict[str, str], error: Problem | None = None, status_code: int = 200
) -> HTMLResponse:
    types = [t.value for t in VenueType]
    return render(
        request, "venue/register.html", status_code, values=values, types=types, error=error
    )


@router.get("/venue/register", response_class=HTMLResponse)
def register_form(request: Request) -> HTMLResponse:
    return _register_form(request, dict.fromkeys(FIELDS, ""))


@router.post("/venue/register", response_model=None)
def register(
    request: Request,
    ctx: Ctx,
    actor: Acting,
    address: Text = "",
    district: Text = "",
    venue_type: Text = "",
    operator: Text = "",
    name_zh: Text = "",
    name_en: Text = "",
) -> HTMLResponse | RedirectResponse:
    """The authority registers a venue (its admins then get accounts bound to it)."""
    values = {"name_zh": name_zh, "name_en": name_en, "address": address, "district": district,
              "venue_type": venue_type, "operator": operator}  # fmt: skip
    cmd = venues.RegisterVenue(name_zh or None, name_en or None, address, district, venue_type,
                               operator)  # fmt: skip
    try:
        made = venues.register_venue(ctx, cmd, actor)
    except DomainError as exc:
        return _register_form(request, values, problem(request, exc), status_of(exc))
    return redirect(f"/venue/place/{made.venue.venue_id}?registered=1")


def _back_to(caller: Principal, venue_id: str) -> str:
    return "/venue" if caller.role in VENUE_SIDE else f"/venue/place/{venue_id}"


@router.post("/venue/place/{venue_id}/rotate", response_model=None)
def rotate(
    venue_id: str,
    request: Request,
    caller: Caller,
    ctx: Ctx,
    actor: Acting,
    confirm: Text = "",
) -> HTMLResponse | RedirectResponse:
    """A new poster; the old one keeps working for the grace period, so there is time to
    reprint. Asked for twice (the box) because every printed copy will need replacing."""
    access_venue(caller, venue_id, "venue.poster.rotate")
    if confirm != "yes":
        refused = InvalidInput("tick the box to confirm", field="confirm", code="confirm")
        return _venue_page(
            request, ctx, caller, venue_id, status_of(refused), error=problem(request, refused)
        )
    venues.rotate_poster(ctx, venue_id, actor)
    return redirect(_back_to(caller, venue_id) + "#poster")


@router.post("/venue/devices", response_class=HTMLResponse)
def register_device(request: Request, caller: Caller, ctx: Ctx, label: Text = "") -> HTMLResponse:
    """A scanner for the venue's door. Its token is shown once, here, and stored only hashed."""
    venue_id = _own_venue_id(caller)
    try:
        made = staff.register_device(ctx, caller, venue_id, label)
    except DomainError as exc:
        return _venue_page(
            request, ctx, caller, venue_id, status_of(exc), error=problem(request, exc),
            label=label,
        )  # fmt: skip
    return _venue_page(request, ctx, caller, venue_id, 201, new_device=made.device,
                       token=made.token)  # fmt: skip


@router.post("/venue/devices/{device_id}/revoke")
def revoke_device(device_id: str, caller: Caller, ctx: Ctx) -> RedirectResponse:
    """The device's token stops working at once (a lost or stolen phone)."""
    staff.revoke_device(ctx, caller, _own_venue_id(caller), device_id)
    return redirect("/venue#devices")
