"""`healthcode demo`: seed a demo city (dev profile, SQLite in its own directory) and serve it.

The city's days end now, so colours and codes are current when it is served. The directory is
marked as a demo directory; only a marked directory is ever wiped (`--fresh`).
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import build, initialise
from healthcode.config import DEV_ADMIN_TOKEN, Settings
from healthcode.demo.accounts import Cast, cast
from healthcode.demo.city import DEFAULT_SEED, City, CityConfig, generate
from healthcode.demo.outbreak import Rules
from healthcode.demo.places import CITY_ZH, DISTRICTS
from healthcode.demo.seed import Seeded, seed
from healthcode.demo.timeline import HOUR
from healthcode.entrypoints.cli.common import console, fail, handles_errors, uvicorn_options

MARKER = ".healthcode-demo"  # in a directory this command made, and may wipe
STORY = "demo.json"  # the summary and the demo accounts, for later reference
MAX_DAYS = 14  # check-ins are kept 14 days
# What to try, by role: (method, path, what it shows, needs the admin token).
ENDPOINTS = (
    ("GET", "/residents/{subject_id}/status", "colour and why", False),
    ("POST", "/residents/{subject_id}/code", "a signed health code", False),
    ("GET", "/residents/{subject_id}/checkins", "own check-ins", False),
    ("GET", "/residents/{subject_id}/notices", "exposure notices", False),
    ("GET", "/residents/{subject_id}/dependants", "dependants held", False),
    ("GET", "/venues/{venue_id}", "venue and place code", False),
    ("GET", "/venues/{venue_id}/poster.{fmt}", "poster: fmt svg, pdf or png", False),
    ("GET", "/cases", "open cases", True),
    ("POST", "/cases/{case_id}/trace", "contacts with evidence", True),
    ("GET", "/log/checkpoint", "signed log checkpoint", False),
)


class RichPhases:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def phase(self, name: str, total: int) -> Callable[[int], None]:
        task = self.progress.add_task(name, total=total)
        return lambda n: self.progress.advance(task, n)


def _prepare(data_dir: Path, fresh: bool) -> None:
    """Refuse to reseed; with --fresh, wipe a directory only if it is a demo directory."""
    if data_dir.exists() and not data_dir.is_dir():
        raise fail(f"{data_dir} is not a directory")
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / MARKER).exists():
            raise fail(f"{data_dir} is not empty and is not a demo directory: choose another")
        if not fresh:
            raise fail(
                f"{data_dir} already holds a demo city; --fresh replaces it with a new one "
                "(its days end now), or serve it as it is with HEALTHCODE_PROFILE=dev "
                f"HEALTHCODE_DATA_DIR={data_dir} healthcode serve"
            )
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text("made by `healthcode demo`; --fresh may wipe this directory\n")


def _settings(data_dir: Path) -> Settings:
    """The dev profile, with the embedded SQLite database inside the demo directory."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the dev secrets are the point here
            return Settings(
                profile="dev",
                data_dir=data_dir,
                database_url=f"sqlite:///{data_dir / 'healthcode.db'}",
            )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise fail(f"{where}: {first.get('msg')}") from None


def _summary(city: City, seeded: Seeded) -> dict[str, int]:
    close = {c.subject_id for t in seeded.traces.values() for c in t.close}
    secondary = {c.subject_id for t in seeded.traces.values() for c in t.secondary} - close
    traced = close | secondary
    onward = [i for i in city.infections if i.source is not None]
    return {
        "residents": len(city.residents),
        "dependants": len(city.dependants),
        "venues": len(city.venues),
        "check_ins": seeded.checkins,
        "lab_results": seeded.lab_results,
        "positive_results": sum(t.positive for t in city.tests),
        "cases": len(seeded.cases),
        "close_contacts": len(close),
        "secondary_contacts": len(secondary),
        "infections": len(city.infections),
        "onward_infections": len(onward),
        "onward_infections_traced": sum(seeded.subjects[i.person] in traced for i in onward),
    }


def _print_summary(city: City, summary: dict[str, int]) -> None:
    timeline = city.timeline
    first, last = timeline.date_of(0), timeline.date_of(city.config.days - 1)
    console.print(
        f"\n[bold]{CITY_ZH} Demo City[/bold], seed {city.config.seed}: {city.config.days} days, "
        f"{first} to {last} (UTC+8), ending now",
        soft_wrap=True,
    )
    onward, found = summary["onward_infections"], summary["onward_infections_traced"]
    lines = (
        ("residents", summary["residents"], f"and {summary['dependants']:,} dependants"),
        ("venues", summary["venues"], f"in {len(DISTRICTS)} districts, each with a poster"),
        ("check-ins", summary["check_ins"], "imported day by day"),
        ("lab results", summary["lab_results"], f"{summary['positive_results']:,} positive"),
        ("cases", summary["cases"], "each traced to depth 2"),
        ("close contacts", summary["close_contacts"], "people"),
        ("secondary contacts", summary["secondary_contacts"], "people"),
        (
            "infections",
            summary["infections"],
            f"{onward:,} passed on in the city; tracing found {found:,} of them"
            if onward
            else "none passed on in the city",
        ),
    )
    for label, count, note in lines:
        console.print(f"  {label:<19}{count:>8,}  {note}", soft_wrap=True)


def _print_accounts(who: Cast, admin_token: str, base: str) -> None:
    console.print("\n[bold]Demo accounts[/bold] (there is no sign-in yet: use the ids)")
    for account in who.accounts:
        console.print(
            f"  {account.role:<20}{account.subject_id}  {account.masked_name}", soft_wrap=True
        )
        console.print(f"  {'':<20}{account.story}", soft_wrap=True)
    if who.venue is not None:
        draft = who.venue.venue.draft
        console.print(f"  {'venue':<20}{who.venue.venue.venue_id}  {draft.name_zh}", soft_wrap=True)
        console.print(f"  {'':<20}{who.venue_story}; its place code:", soft_wrap=True)
        console.print(who.venue.poster.payload, soft_wrap=True, markup=False)
    if admin_token == DEV_ADMIN_TOKEN:
        console.print(f"  {'admin token (dev)':<20}{admin_token}")
    else:
        console.print(f"  {'admin token':<20}your HEALTHCODE_ADMIN_TOKEN")
    console.print(f"\n[bold]API[/bold] on {base}  (OpenAPI docs: {base}/docs)", soft_wrap=True)
    for method, path, what, admin in ENDPOINTS:
        flag = " (admin token)" if admin else ""
        console.print(f"  {method:<5}{path:<38}{what}{flag}", soft_wrap=True)
    if who.accounts:
        subject = who.accounts[0].subject_id
        console.print(f"  e.g.  curl {base}/residents/{subject}/status", soft_wrap=True)
    if who.case_id:
        console.print(
            f"        curl -X POST -H 'Authorization: Bearer {admin_token}' "
            f"{base}/cases/{who.case_id}/trace",
            soft_wrap=True,
        )


def _save(data_dir: Path, summary: dict[str, int], who: Cast, city: City) -> None:
    story = {
        "seed": city.config.seed,
        "residents": city.config.residents,
        "days": city.config.days,
        "ends_at": city.timeline.end,
        "summary": summary,
        "accounts": [asdict(a) for a in who.accounts],
        "venue_id": who.venue.venue.venue_id if who.venue else None,
        "case_id": who.case_id,
    }
    text = json.dumps(story, ensure_ascii=False, indent=2)
    (data_dir / STORY).write_text(text + "\n", encoding="utf-8")


@handles_errors
def demo(
    seed_: Annotated[int, typer.Option("--seed", help="Same seed, same city")] = DEFAULT_SEED,
    residents: Annotated[int, typer.Option(min=10, max=100_000)] = 2000,
    days: Annotated[int, typer.Option(min=3, max=MAX_DAYS, help="Ending now")] = 14,
    data_dir: Annotated[Path, typer.Option(help="Demo directory: keys and SQLite database")] = Path(
        "var/demo"
    ),
    fresh: Annotated[bool, typer.Option(help="Wipe an existing demo directory first")] = False,
    serve: Annotated[bool, typer.Option(help="Serve the API once seeded")] = True,
    host: Annotated[str | None, typer.Option(help="Default: settings (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Default: settings (8000)")] = None,
) -> None:
    """Seed a demo city (residents, venues, 14 days of check-ins, an outbreak, lab results,
    traced cases), print its demo accounts, and serve it. Dev profile: never deploy it."""
    data_dir = data_dir.expanduser().resolve()
    _prepare(data_dir, fresh)
    settings = _settings(data_dir)
    rules = Rules(
        settings.trace_min_overlap_seconds,
        settings.trace_extension_seconds,
        settings.infectious_days_before,
    )
    started = time.monotonic()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<42}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("generating the city", total=1)
        city = generate(CityConfig(seed_, residents, days, rules=rules), int(time.time()))
        progress.advance(task)
        clock = FixedClock(city.timeline.start - HOUR)
        app = build(settings, clock=clock)
        try:
            seeded = seed(app, clock, city, RichPhases(progress))
        finally:
            app.close()
    summary = _summary(city, seeded)
    who = cast(city, seeded)
    _save(data_dir, summary, who, city)
    bind_host, bind_port = host or settings.host, port or settings.port
    base = f"http://{bind_host}:{bind_port}"
    _print_summary(city, summary)
    _print_accounts(who, settings.admin_token.get_secret_value(), base)
    console.print(f"\nseeded in {time.monotonic() - started:.0f} s into {data_dir}")
    if not serve:
        return
    import uvicorn

    from healthcode.entrypoints.web.app import create_app

    built = build(settings)  # the real clock from here on
    initialise(built)
    console.print(f"healthcode demo API on {base}  (docs: /docs)")
    uvicorn.run(
        create_app(built=built),
        host=bind_host,
        port=bind_port,
        log_level="info",
        **uvicorn_options(),
    )
