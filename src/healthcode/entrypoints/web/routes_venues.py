"""Venues: registration, posters (SVG, PDF, PNG), rotation, and checking a scanned place code."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from healthcode.adapters.poster import PosterFrame, render_venue_poster
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.schemas import (
    PlaceCheckOut,
    PlaceCodeIn,
    RegisterVenueIn,
    VenueOut,
)
from healthcode.entrypoints.web.security import Caller
from healthcode.services import venues
from healthcode.services.access import access_venue
from healthcode.services.auth import actor_for
from healthcode.services.venues import VenueWithPoster

router = APIRouter(tags=["venues"])
MEDIA = {"svg": "image/svg+xml", "pdf": "application/pdf", "png": "image/png"}


def poster_frame(request: Request) -> PosterFrame:
    return PosterFrame.of(request.app.state.healthcode.settings, str(request.base_url).rstrip("/"))


def venue_out(found: VenueWithPoster) -> VenueOut:
    d = found.venue.draft
    return VenueOut(
        venue_id=found.venue.venue_id,
        name_zh=d.name_zh,
        name_en=d.name_en,
        address=d.address,
        district=d.district,
        venue_type=d.venue_type.value,
        poster_id=found.poster.poster_id,
        place_code=found.poster.payload,
    )


@router.post("/venues", status_code=201, response_model=VenueOut)
def register(body: RegisterVenueIn, caller: Caller, ctx: Ctx) -> VenueOut:
    """The authority registers a venue (its admins then get accounts bound to it)."""
    cmd = venues.RegisterVenue(**body.model_dump())
    return venue_out(venues.register_venue(ctx, cmd, actor_for(ctx, caller)))


@router.get("/venues/{venue_id}", response_model=VenueOut)
def get_venue(venue_id: str, ctx: Ctx) -> VenueOut:
    return venue_out(venues.venue_with_poster(ctx, venue_id))


@router.post("/venues/{venue_id}/poster/rotate", response_model=VenueOut)
def rotate(venue_id: str, caller: Caller, ctx: Ctx) -> VenueOut:
    """A new poster (the old one keeps working for the grace period, to reprint)."""
    access_venue(caller, venue_id, "venue.poster.rotate")
    return venue_out(venues.rotate_poster(ctx, venue_id, actor_for(ctx, caller)))


@router.get(
    "/venues/{venue_id}/poster.{fmt}",
    response_class=Response,
    responses={200: {"content": {m: {} for m in MEDIA.values()}}},
)
def poster(
    request: Request, venue_id: str, fmt: Literal["svg", "pdf", "png"], caller: Caller, ctx: Ctx
) -> Response:
    """The printable poster: its QR holds the place code's link (settings.public_url, or the
    address this was asked at), under the city's health authority."""
    access_venue(caller, venue_id, "venue.poster.read")
    found = venues.venue_with_poster(ctx, venue_id)
    return Response(
        render_venue_poster(found, fmt, poster_frame(request)),
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'inline; filename="poster-{venue_id}.{fmt}"'},
    )


@router.post("/place-codes/check", response_model=PlaceCheckOut)
def check(body: PlaceCodeIn, ctx: Ctx) -> PlaceCheckOut:
    result = venues.check_place_code(ctx, body.place_code)
    draft = result.venue.draft if result.venue else None
    return PlaceCheckOut(
        ok=result.ok,
        problem=result.problem.value if result.problem else None,
        detail=result.detail,
        venue_id=result.venue.venue_id if result.venue else None,
        venue_name=(draft.name_zh or draft.name_en) if draft else None,
        venue_name_en=(draft.name_en or draft.name_zh) if draft else None,
        district=draft.district if draft else None,
    )
