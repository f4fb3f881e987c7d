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

import pyotp
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

from healthcode.adapters.clock import FixedClock, SystemClock
from healthcode.bootstrap import App, build, initialise
from healthcode.config import Settings, SettingsWarning
from healthcode.demo.accounts import (
    DEMO_STAFF_PASSWORD,
    Cast,
    add_staff,
    cast,
    found_staff,
    open_sessions,
)
from healthcode.demo.city import DEFAULT_SEED, City, CityConfig, generate
from healthcode.demo.outbreak import Rules
from healthcode.demo.places import CITY_ZH, DISTRICTS
from healthcode.demo.seed import Seeded, seed
from healthcode.demo.timeline import HOUR
from healthcode.domain.access import Role
from healthcode.entrypoints.cli.common import (
    console,
    fail,
    handles_errors,
    injected_clock,
    uvicorn_options,
)
from healthcode.services.auth import SignedIn

MARKER = ".healthcode-demo"  # in a directory this command made, and may wipe
STORY = "demo.json"  # the summary and the demo accounts, for later reference
MAX_DAYS = 14  # check-ins are kept 14 days
ANYONE = (Role.PUBLIC,)
SIGNED_IN = tuple(r for r in Role if r not in (Role.PUBLIC, Role.LAB))  # labs sign, no session
RESIDENT = (Role.RESIDENT,)
OFFICERS = (Role.TRACER, Role.HEALTH_OFFICER)
VENUE = (Role.VENUE_STAFF, Role.VENUE_ADMIN, Role.AUTHORITY_ADMIN)
# What to try: (method, path, what it shows, the roles that may call it). A resident acts for
# themselves and their dependants; an officer only within a case they are assigned to.
ENDPOINTS: tuple[tuple[str, str, str, tuple[Role, ...]], ...] = (
    ("POST", "/auth/staff", "staff sign-in: password + TOTP", ANYONE),
    ("POST", "/auth/code", "a one-time code to a phone", ANYONE),
    ("POST", "/auth/code/verify", "resident sign-in with that code", ANYONE),
    ("GET", "/auth/session", "who am I signed in as", SIGNED_IN),
    ("GET", "/residents/{subject_id}/status", "colour and why", (Role.RESIDENT, *OFFICERS)),
    ("POST", "/residents/{subject_id}/code", "a signed health code", RESIDENT),
    ("GET", "/residents/{subject_id}/checkins", "own check-ins", RESIDENT),
    ("GET", "/residents/{subject_id}/notices", "exposure notices", RESIDENT),
    ("GET", "/residents/{subject_id}/dependants", "dependants held", RESIDENT),
    ("GET", "/venues/{venue_id}", "venue and place code", ANYONE),
    ("GET", "/venues/{venue_id}/poster.{fmt}", "poster: svg, pdf or png", VENUE),
    ("POST", "/venues/{venue_id}/devices", "register a scanner", (Role.VENUE_ADMIN,)),
    ("POST", "/venues/{venue_id}/scans", "a scanner checks a health code", (Role.VENUE_DEVICE,)),
    ("GET", "/cases", "open cases", OFFICERS),
    ("POST", "/cases/{case_id}/trace", "contacts with evidence", OFFICERS),
    ("GET", "/keys", "signing keys", (Role.AUTHORITY_ADMIN, Role.AUDITOR)),
    ("GET", "/log/checkpoint", "signed log checkpoint", ANYONE),
)


def _who(roles: tuple[Role, ...]) -> str:
    if Role.PUBLIC in roles:
        return "anyone"
    return "anyone signed in" if roles == SIGNED_IN else ", ".join(r.value for r in roles)


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


def _settings(data_dir: Path, database_url: str | None = None) -> Settings:
    """The dev profile, with the embedded SQLite database inside the demo directory (or the
    database at `database_url`: a cluster's PostgreSQL, scripts/cluster)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SettingsWarning)  # the dev secrets are the point
            return Settings(
                profile="dev",
                data_dir=data_dir,
                database_url=database_url or f"sqlite:///{data_dir / 'healthcode.db'}",
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


def _label(role: str) -> str:
    return role.replace("_", " ")


def _say(text: str) -> None:
    """One line as it is: ids, tokens and place codes are not Rich markup."""
    console.print(text, soft_wrap=True, markup=False)


def _print_accounts(
    who: Cast, sessions: dict[str, SignedIn], settings: Settings, base: str
) -> None:
    """The accounts, with a fresh session token each (`Authorization: Bearer <token>`)."""
    console.print(
        "\n[bold]Demo accounts[/bold] (dev profile: invented people, a published password)"
    )
    _say(
        "Residents sign in with a one-time code sent to their phone: POST /auth/code "
        '{"phone": ...}, then POST /auth/code/verify {"phone": ..., "code": ...}; this dev '
        "server prints the code on its terminal. Ready sessions (they end after "
        f"{settings.resident_idle_days} days without use):"
    )
    for account in who.accounts:
        _say(f"  {account.role:<20}{account.subject_id}  {account.masked_name}  {account.phone}")
        _say(f"  {'':<20}{account.story}")
        _say(f"  {'':<20}token {sessions[account.subject_id].token}")
    if who.venue is not None:
        draft = who.venue.venue.draft
        _say(f"  {'venue':<20}{who.venue.venue.venue_id}  {draft.name_zh}")
        _say(f"  {'':<20}{who.venue_story}; its place code:")
        _say(who.venue.poster.payload)
    _say(
        f'Staff sign in with POST /auth/staff {{"username": ..., "password": '
        f'"{DEMO_STAFF_PASSWORD}", "totp": ...}}, the code of an authenticator app set up with '
        "the account's TOTP secret. Ready sessions (they end after "
        f"{settings.staff_idle_minutes} minutes without use; then sign in):"
    )
    _say(
        f"Staff sign in on {base}/sign-in/staff with the password above and the code of the "
        f"moment: `healthcode demo totp --data-dir {settings.data_dir}` prints them (new every "
        "30 s)."
    )
    for login in who.staff:
        _say(f"  {_label(login.role):<20}{login.username:<18}TOTP secret {login.totp_secret}")
        _say(f"  {'':<20}{login.story}")
        _say(f"  {'':<20}token {sessions[login.staff_id].token}")
    if who.device is not None:
        _say(f"  {'venue device':<20}{who.device.device_id}  {who.device.label!r}, until revoked")
        _say(f"  {'':<20}token {who.device.token}")
    _print_endpoints(who, sessions, base)


def _print_endpoints(who: Cast, sessions: dict[str, SignedIn], base: str) -> None:
    console.print(f"\n[bold]API[/bold] on {base}  (OpenAPI docs: {base}/docs)", soft_wrap=True)
    _say(f"  {'':<5}{'':<38}{'':<34}who may call it")
    for method, path, what, roles in ENDPOINTS:
        _say(f"  {method:<5}{path:<38}{what:<34}{_who(roles)}")
    by_role = {login.role: sessions[login.staff_id].token for login in who.staff}
    header = "-H 'Authorization: Bearer {}'"
    if who.accounts:
        subject = who.accounts[0].subject_id
        token = sessions[subject].token
        _say(f"  e.g.  curl {header.format(token)} {base}/residents/{subject}/status")
    tracer = by_role.get(Role.TRACER.value)
    if tracer:
        _say(f"        curl {header.format(tracer)} {base}/cases")
    if who.case_id and tracer:
        _say(f"        curl -X POST {header.format(tracer)} {base}/cases/{who.case_id}/trace")
    venue_admin = by_role.get(Role.VENUE_ADMIN.value)
    if who.venue is not None and venue_admin:
        body = """-H 'Content-Type: application/json' -d '{"label": "north gate"}'"""
        devices = f"{base}/venues/{who.venue.venue.venue_id}/devices"
        _say(f"        curl -X POST {header.format(venue_admin)} {body} {devices}")


def _save(data_dir: Path, summary: dict[str, int], who: Cast, city: City) -> None:
    """The story, for later reference. Development only: the staff password and TOTP secrets are
    the demo city's (never a real deployment's); session and device tokens are not kept (the
    sessions are short-lived, and a venue admin can register another device)."""
    story = {
        "seed": city.config.seed,
        "residents": city.config.residents,
        "days": city.config.days,
        "ends_at": city.timeline.end,
        "summary": summary,
        "accounts": [asdict(a) for a in who.accounts],
        "venue_id": who.venue.venue.venue_id if who.venue else None,
        "case_id": who.case_id,
        "staff_password": DEMO_STAFF_PASSWORD,
        "staff": [asdict(login) for login in who.staff],
        "device": (
            {k: v for k, v in asdict(who.device).items() if k != "token"} if who.device else None
        ),
    }
    text = json.dumps(story, ensure_ascii=False, indent=2)
    (data_dir / STORY).write_text(text + "\n", encoding="utf-8")


demo_app = typer.Typer(invoke_without_command=True)


@demo_app.callback()
@handles_errors
def demo(
    context: typer.Context,
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
    database_url: Annotated[
        str | None,
        typer.Option(help="Seed this (empty) database instead of SQLite in the directory"),
    ] = None,
) -> None:
    """Seed a demo city (residents, venues, 14 days of check-ins, an outbreak, lab results,
    traced cases), print its demo accounts, and serve it. Dev profile: never deploy it.
    `healthcode demo totp` prints the staff accounts' current sign-in codes."""
    if context.invoked_subcommand is not None:
        return
    data_dir = data_dir.expanduser().resolve()
    _prepare(data_dir, fresh)
    settings = _settings(data_dir, database_url)
    rules = Rules(
        settings.trace_min_overlap_seconds,
        settings.trace_extension_seconds,
        settings.infectious_days_before,
    )
    started = time.monotonic()
    real = injected_clock() or SystemClock()  # the wall clock, unless a test sets one
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<42}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("generating the city", total=1)
        city = generate(CityConfig(seed_, residents, days, rules=rules), real.now())
        progress.advance(task)
        clock = FixedClock(city.timeline.start - HOUR)
        app = build(settings, clock=clock)
        try:
            initialise(app)
            founders = found_staff(app)  # on the city's first day: cooling-off long over by now
            admins = (founders.admin.principal, founders.second_admin.principal)
            seeded = seed(app, clock, city, admins, RichPhases(progress))
            who = add_staff(app, cast(city, seeded), founders)
        finally:
            app.close()
    summary = _summary(city, seeded)
    _save(data_dir, summary, who, city)
    bind_host, bind_port = host or settings.host, port or settings.port
    base = f"http://{bind_host}:{bind_port}"
    _print_summary(city, summary)
    built = build(settings, clock=real)  # the real clock from here on: sessions start now
    try:
        initialise(built)
        _print_accounts(who, open_sessions(built, who), settings, base)
        console.print(f"\nseeded in {time.monotonic() - started:.0f} s into {data_dir}")
        if serve:
            _serve(built, bind_host, bind_port)
        else:
            console.print(
                f"serve it later with HEALTHCODE_PROFILE=dev HEALTHCODE_DATA_DIR={data_dir} "
                "healthcode serve (staff sessions may have ended by then: sign in)",
                soft_wrap=True,
            )
    finally:
        built.close()


def _serve(built: App, host: str, port: int) -> None:
    import uvicorn

    from healthcode.entrypoints.web.app import create_app

    console.print(f"healthcode demo on http://{host}:{port}  (web app at /, API docs at /docs)")
    uvicorn.run(
        create_app(built=built), host=host, port=port, log_level="info", **uvicorn_options()
    )


@demo_app.command("totp")
@handles_errors
def totp(
    data_dir: Annotated[Path, typer.Option(help="The demo directory")] = Path("var/demo"),
) -> None:
    """The demo staff accounts' current sign-in codes (TOTP, new every 30 seconds), for the
    staff sign-in page (/sign-in/staff) with the demo password."""
    story_file = data_dir.expanduser().resolve() / STORY
    if not story_file.is_file():
        raise fail(f"no demo city in {data_dir} (no {STORY}): run scripts/demo first, or give "
                   "--data-dir")  # fmt: skip
    story = json.loads(story_file.read_text(encoding="utf-8"))
    now = (injected_clock() or SystemClock()).now()
    left = 30 - now % 30
    console.print(f"Staff sign-in: /sign-in/staff, password {story['staff_password']}; "
                  f"these codes work for {left} s more:")  # fmt: skip
    for login in story["staff"]:
        code = pyotp.TOTP(login["totp_secret"]).at(now)
        _say(f"  {_label(login['role']):<20}{login['username']:<18}{code}")
