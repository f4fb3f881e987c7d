"""Screenshots of the web app's main pages, for docs/screenshots/ and the README.

    .venv/bin/python scripts/screenshots.py            # all of them (about a minute)
    .venv/bin/python scripts/screenshots.py my-code-zh # only these

Seeds a small demo city (dev profile, SQLite in a temporary directory, nothing kept), serves it on
127.0.0.1, and photographs each page in Debian's headless Chromium at a phone's or a desk's size,
signed in as the role the page is for. The guard's scanner is shown a resident's real code
through Chromium's fake camera.
"""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from PIL import Image
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.browser.conftest: the fake-camera video maker

from healthcode.adapters.clock import FixedClock  # noqa: E402
from healthcode.adapters.poster import PosterFrame, render_venue_poster  # noqa: E402
from healthcode.bootstrap import App, build, initialise  # noqa: E402
from healthcode.config import Settings  # noqa: E402
from healthcode.demo.accounts import Cast, add_staff, cast, found_staff, open_sessions  # noqa: E402
from healthcode.demo.city import CityConfig, generate  # noqa: E402
from healthcode.demo.outbreak import Rules  # noqa: E402
from healthcode.demo.seed import seed  # noqa: E402
from healthcode.demo.timeline import HOUR  # noqa: E402
from healthcode.entrypoints.web.app import create_app  # noqa: E402
from healthcode.services import codes  # noqa: E402
from healthcode.verifier.place_link import place_link  # noqa: E402
from tests.browser.conftest import qr_video  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
PHONE = {"width": 412, "height": 860}
DESK = {"width": 1280, "height": 900}
MAX_HEIGHT = 2000


@dataclass(frozen=True)
class Shot:
    name: str  # file name without .png
    path: str
    who: str  # "public", a demo account's story ("index case", ...) or a staff role
    locale: str = "zh-CN"
    viewport: dict[str, int] | None = None
    camera: str | None = None  # a demo resident ("unaffected resident", "index case") whose
    # code the camera shows, or "place code": the venue's poster
    click: str | None = None  # a button to press first (its accessible name)
    wait_for: str | None = None  # a selector that shows the page is ready


QR = "[data-testid=qr] canvas"
VERDICT = "[data-testid=verdict]:not([hidden])"
SHOTS = [
    Shot("home-zh", "/", "public"),
    Shot("my-code-zh", "/me", "unaffected resident", wait_for=QR),
    Shot("my-code-en", "/me", "unaffected resident", "en", wait_for=QR),
    Shot("my-code-red-zh", "/me", "index case", wait_for=QR),
    Shot("why-red-en", "/me/why", "index case", "en"),
    Shot("my-checkins-zh", "/me/checkins", "close contact"),
    Shot("who-read-my-record-en", "/me/record", "close contact", "en"),
    Shot("check-in-pass-zh", "/me/scan", "unaffected resident", camera="place code",
         wait_for="[data-testid=pass]"),
    Shot("check-in-pass-en", "/me/scan", "unaffected resident", "en", camera="place code",
         wait_for="[data-testid=pass]"),
    Shot("venue-en", "/venue", "venue_admin", "en", DESK),
    Shot("scanner-admit-zh", "/venue/scan", "venue_staff", camera="unaffected resident",
         click="#start-camera", wait_for=VERDICT),
    Shot("scanner-refuse-en", "/venue/scan", "venue_staff", "en", camera="index case",
         click="#start-camera", wait_for=VERDICT),
    Shot("venue-register-en", "/venue/register", "authority_admin", "en", DESK),
    Shot("office-en", "/office", "health_officer", "en", DESK),
    Shot("dashboard-zh", "/office", "health_officer", viewport=DESK),
    Shot("cases-en", "/office/cases", "health_officer", "en", DESK),
    Shot("trace-graph-en", "/office/cases/{case_id}/trace", "tracer", "en", DESK,
         wait_for="main svg[role=img]"),
    Shot("trace-graph-zh", "/office/cases/{case_id}/trace", "tracer", viewport=DESK,
         wait_for="main svg[role=img]"),
    Shot("workspace-en", "/office/cases/{case_id}/contacts", "tracer", "en", DESK,
         wait_for="[data-testid=visit-group]"),
    Shot("workspace-zh", "/office/cases/{case_id}/contacts", "tracer", viewport=DESK,
         wait_for="[data-testid=visit-group]"),
    Shot("lab-import-zh", "/office/labs", "health_officer", viewport=DESK),
    Shot("orders-en", "/office/orders", "health_officer", "en", DESK),
    Shot("rules-office-en", "/office/rules", "authority_admin", "en", DESK),
    Shot("report-zh", "/public/report?days=14", "public", viewport=DESK),
    Shot("report-en", "/public/report?days=14", "public", "en", DESK),
    Shot("rules-public-en", "/public/rules", "public", "en", DESK),
    Shot("log-en", "/public/log", "public", "en", DESK),
    Shot("anomalies-en", "/public/anomalies", "auditor", "en", DESK),
]  # fmt: skip


def _settings(data_dir: Path) -> Settings:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Settings(profile="dev", data_dir=data_dir,
                        database_url=f"sqlite:///{data_dir / 'healthcode.db'}")  # fmt: skip


def _seed(data_dir: Path) -> Cast:
    settings = _settings(data_dir)
    rules = Rules(settings.trace_min_overlap_seconds, settings.trace_extension_seconds,
                  settings.infectious_days_before)  # fmt: skip
    city = generate(CityConfig(20251123, 600, 14, rules=rules), int(time.time()))
    clock = FixedClock(city.timeline.start - HOUR)
    app = build(settings, clock=clock)
    try:
        initialise(app)
        founders = found_staff(app)
        admins = (founders.admin.principal, founders.second_admin.principal)
        return add_staff(app, cast(city, seed(app, clock, city, admins)), founders)
    finally:
        app.close()


def _serve(app: App) -> tuple[uvicorn.Server, str]:
    server = uvicorn.Server(uvicorn.Config(create_app(built=app), host="127.0.0.1", port=8765,
                                           log_level="warning"))  # fmt: skip
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, "http://127.0.0.1:8765"


def _token(who: str, cast_: Cast, sessions: dict[str, object]) -> str | None:
    if who == "public":
        return None
    for account in cast_.accounts:
        if account.role == who:
            return sessions[account.subject_id].token  # type: ignore[attr-defined,no-any-return]
    for login in cast_.staff:
        if login.role == who:
            return sessions[login.staff_id].token  # type: ignore[attr-defined,no-any-return]
    raise SystemExit(f"no demo account for {who!r}")


def _camera(kind: str, app: App, cast_: Cast, folder: Path, base: str) -> Path:
    """A video of what the camera sees: a demo resident's fresh code, or the venue's poster
    (its QR: the link to the check-in page)."""
    if kind == "place code":
        if cast_.venue is None:
            raise SystemExit("the demo city has no venue")
        text = place_link(base, cast_.venue.poster.payload)
    else:
        account = next(a for a in cast_.accounts if a.role == kind)
        text = codes.issue_health_code(app.ctx, account.subject_id).text
    return qr_video(text, folder / f"{kind.replace(' ', '-')}.y4m")


def _poster(app: App, cast_: Cast, base: str) -> None:
    """The demo venue's printed poster, as its PNG (scaled for the README)."""
    if cast_.venue is None:
        return
    frame = PosterFrame.of(app.settings, base)
    image = Image.open(io.BytesIO(render_venue_poster(cast_.venue, "png", frame)))
    image.thumbnail((620, 880))
    image.save(OUT / "poster.png", optimize=True)
    print("  poster.png")


def _take(page: Page, shot: Shot, cast_: Cast) -> None:
    page.goto(shot.path.format(case_id=cast_.case_id))
    page.wait_for_load_state("networkidle")
    if shot.click:
        page.click(shot.click)
        page.wait_for_load_state("networkidle")
    if shot.wait_for:
        page.wait_for_selector(shot.wait_for, timeout=15_000)
    page.wait_for_timeout(300)
    # The whole page, but no taller than a few screens: long tables are cut off.
    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
    width = page.viewport_size["width"] if page.viewport_size else PHONE["width"]
    clip = {"x": 0, "y": 0, "width": width, "height": height}
    page.screenshot(path=str(OUT / f"{shot.name}.png"), full_page=True, clip=clip)  # type: ignore[arg-type]
    print(f"  {shot.name}.png  {shot.path}")


def main() -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit(
            "needs Debian's chromium (apt-get install --no-install-recommends chromium)"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("seeding a small demo city ...")
        cast_ = _seed(folder / "data")
        app = build(_settings(folder / "data"))
        initialise(app)
        sessions = open_sessions(app, cast_)
        server, base = _serve(app)
        _poster(app, cast_, base)
        try:
            with sync_playwright() as p:
                wanted = set(sys.argv[1:])
                for shot in [s for s in SHOTS if not wanted or s.name in wanted]:
                    args = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
                    if shot.camera:
                        video = _camera(shot.camera, app, cast_, folder, base)
                        args.append(f"--use-file-for-fake-video-capture={video}")
                    browser = p.chromium.launch(executable_path=chromium, args=args)
                    context = browser.new_context(
                        locale=shot.locale, base_url=base, viewport=shot.viewport or PHONE
                    )  # type: ignore[arg-type]
                    context.grant_permissions(["camera"], origin=base)
                    token = _token(shot.who, cast_, sessions)
                    cookies = [
                        {"name": "hc_lang", "value": shot.locale.replace("-", "_"), "url": base}
                    ]
                    if token:
                        cookies.append({"name": "hc_session", "value": token, "url": base})
                    context.add_cookies(cookies)  # type: ignore[arg-type]
                    _take(context.new_page(), shot, cast_)
                    browser.close()
        finally:
            server.should_exit = True
            app.close()


if __name__ == "__main__":
    main()
