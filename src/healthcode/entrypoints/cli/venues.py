"""`healthcode venue ...` and `healthcode place check`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from healthcode.adapters.poster import POSTER_FORMATS, PosterFrame, render_venue_poster
from healthcode.domain.audit import Actor
from healthcode.entrypoints.cli.common import (
    command_group,
    console,
    fail,
    handles_errors,
    open_app,
    print_json,
)
from healthcode.services import venues
from healthcode.services.venues import VenueWithPoster

venue_app = command_group(help="Register venues and print their posters.", no_args_is_help=True)
CLI_ADMIN = Actor("authority_admin", "cli")


def summary(found: VenueWithPoster) -> dict[str, object]:
    d = found.venue.draft
    return {
        "venue_id": found.venue.venue_id,
        "name_zh": d.name_zh,
        "name_en": d.name_en,
        "district": d.district,
        "type": d.venue_type.value,
        "poster_id": found.poster.poster_id,
        "place_code": found.poster.payload,
    }


@venue_app.command("register")
@handles_errors
def register(
    address: Annotated[str, typer.Option(help="Street address")],
    district: Annotated[str, typer.Option(help="District")],
    venue_type: Annotated[str, typer.Option("--type", help="restaurant, shop, school, ...")],
    operator: Annotated[str, typer.Option(help="Operating business or body")],
    name_zh: Annotated[str | None, typer.Option(help="Name in Chinese")] = None,
    name_en: Annotated[str | None, typer.Option(help="Name in English")] = None,
) -> None:
    """Register a venue and sign its first poster."""
    cmd = venues.RegisterVenue(name_zh, name_en, address, district, venue_type, operator)
    print_json(summary(venues.register_venue(open_app().ctx, cmd, CLI_ADMIN)))


@venue_app.command("rotate")
@handles_errors
def rotate(venue_id: Annotated[str, typer.Argument(help="Venue id")]) -> None:
    """Replace the poster; the old one works for the grace period, then is refused."""
    print_json(summary(venues.rotate_poster(open_app().ctx, venue_id, CLI_ADMIN)))


@venue_app.command("poster")
@handles_errors
def poster(
    venue_id: Annotated[str, typer.Argument(help="Venue id")],
    out: Annotated[Path, typer.Option(help="Output file (.svg, .pdf or .png)")],
) -> None:
    """Write the printable poster of the venue's current place code."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in POSTER_FORMATS:
        raise fail(f"--out must end in .svg, .pdf or .png, not {out.suffix or '(none)'}")
    app = open_app()
    found = venues.venue_with_poster(app.ctx, venue_id)
    frame = PosterFrame.of(app.settings, f"http://127.0.0.1:{app.settings.port}")
    out.write_bytes(render_venue_poster(found, fmt, frame))
    console.print(f"poster written to {out}")


@venue_app.command("check")
@handles_errors
def check(place_code: Annotated[str, typer.Argument(help="A scanned place code")]) -> None:
    """Is this place code genuine and current? Exit 0 yes, 1 no."""
    result = venues.check_place_code(open_app().ctx, place_code)
    print_json(
        {
            "ok": result.ok,
            "problem": result.problem,
            "detail": result.detail,
            "venue_id": result.venue.venue_id if result.venue else None,
        }
    )
    if not result.ok:
        raise typer.Exit(1)
