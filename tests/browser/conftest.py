"""Browser tests: a real server on 127.0.0.1 and Debian's headless Chromium driven by Playwright.

- `live`: the app on SQLite with the real clock (the browser checks validity against its own
  clock), served by uvicorn in a thread on a free port. PostgreSQL is covered by the HTTP tests
  of the same routes; the browser tests are about the pages.
- `launch(video=...)`: a Chromium from the `chromium` Debian package (never a downloaded
  browser). With `video`, Chromium's fake camera plays that file to getUserMedia, so a page can
  scan a QR code "through the camera" for real.
- Every page a test opens refuses requests to any host but the server's own, and the test fails
  if a page tried one (no CDN, no fonts, no analytics).
- `qr_video(text)`: a Y4M video of the QR code of `text`, for the fake camera.
"""

from __future__ import annotations

import io
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
import segno
import uvicorn
from PIL import Image
from playwright.sync_api import sync_playwright

from healthcode.bootstrap import App, build, initialise
from healthcode.entrypoints.web.app import create_app
from tests.conftest import make_settings
from tests.support import clock_ahead
from tests.support.ports import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("HEALTHCODE_BROWSER") == "required":
    raise RuntimeError("the browser tests are required here, and Debian's chromium is missing")



@dataclass
class Live:
    app: App
    base_url: str
    foreign: list[str] = field(default_factory=list)  # requests to other hosts, refused


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    db = tmp_path / "healthcode.db"
    settings = make_settings(tmp_path / "data", f"sqlite:///{db}", rate_logins_per_minute=600)
    built = build(settings)
    initialise(built)
    port = free_port()
    config = uvicorn.Config(
        create_app(built=built), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield Live(built, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        built.close()


@pytest.fixture
def playwright() -> Iterator[object]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed")
    with sync_playwright() as p:
        yield p


Launch = Callable[..., object]


@pytest.fixture
def launch(playwright: object, live: Live) -> Iterator[Launch]:
    """launch(video=None, locale="zh-CN") -> a new page in a new browser (a fresh profile)."""
    browsers: list[object] = []

    def _launch(video: Path | None = None, locale: str = "zh-CN") -> object:
        args = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
        if video is not None:
            args.append(f"--use-file-for-fake-video-capture={video}")
        browser = playwright.chromium.launch(  # type: ignore[attr-defined]
            executable_path=CHROMIUM, headless=True, args=args
        )
        browsers.append(browser)
        context = browser.new_context(
            locale=locale,
            viewport={"width": 412, "height": 860},  # a phone
            base_url=live.base_url,
        )
        context.grant_permissions(["camera"], origin=live.base_url)
        if clock_ahead.days_ahead():  # the pages' clock agrees with the server's (REL-6)
            context.clock.install(time=time.time())
        own = urlparse(live.base_url).netloc

        def guard(route: object) -> None:
            url = route.request.url  # type: ignore[attr-defined]
            parsed = urlparse(url)
            if parsed.scheme in ("http", "https", "ws", "wss") and parsed.netloc != own:
                live.foreign.append(url)
                route.abort()  # type: ignore[attr-defined]
            else:
                route.continue_()  # type: ignore[attr-defined]

        context.route("**/*", guard)
        return context.new_page()

    yield _launch
    for browser in browsers:
        browser.close()  # type: ignore[attr-defined]
    assert live.foreign == [], f"a page asked another host: {live.foreign}"


def qr_video(text: str, path: Path, *, size: int = 640, frames: int = 30) -> Path:
    """A Y4M (YUV 4:2:0) video showing the QR code of `text` on white, for the fake camera."""
    qr = segno.make(text, error="m", micro=False)
    side = int(size * 0.7)
    image = Image.new("L", (size, size * 3 // 4), 255)
    png = io.BytesIO()
    qr.save(png, kind="png", scale=max(1, side // qr.symbol_size(border=4)[0]), border=4)
    png.seek(0)
    code = Image.open(png).convert("L")
    image.paste(code, ((image.width - code.width) // 2, (image.height - code.height) // 2))
    width, height = image.size
    luma = image.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + luma + chroma + chroma)
    return path
