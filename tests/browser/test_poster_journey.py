"""The poster at the door, in a real browser: the printed poster's QR holds a link; a phone camera
reads it and opens the check-in page in the browser, where a signed-out resident signs in, comes
back, ticks their dependant and checks in; the full-screen pass names both and its clock runs.
Then the app's own scanner reads the same printed poster through the (fake) camera and checks in
again, from the link."""

from __future__ import annotations

import io
import urllib.request
from pathlib import Path
from typing import Any

import zxingcpp
from PIL import Image

from healthcode.adapters.otp_sender import ConsoleSender
from healthcode.domain.audit import SYSTEM
from healthcode.services import checkins, enrolment, venues
from healthcode.verifier.place_link import place_code_of
from tests.browser.conftest import Launch, Live
from tests.conftest import staff_headers

PHONE = "13912345678"


def printed_poster(live: Live, venue_id: str) -> Image.Image:
    """The poster as the venue prints it (the PNG the authority's page offers)."""
    request = urllib.request.Request(  # noqa: S310 - our own test server
        f"{live.base_url}/venues/{venue_id}/poster.png",
        headers=staff_headers(live.app, "authority_admin"),
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return Image.open(io.BytesIO(answer.read())).convert("L")


def camera_video(poster: Image.Image, path: Path) -> Path:
    """A Y4M video of a phone held over the poster's QR code (its region, with a margin), for
    Chromium's fake camera."""
    (found,) = zxingcpp.read_barcodes(poster)
    p = found.position
    xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
    ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
    margin = (max(xs) - min(xs)) // 8
    region = poster.crop((min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin))
    frame = Image.new("L", (960, 720), 255)
    side = 680
    region = region.resize((side, side), Image.Resampling.LANCZOS)
    frame.paste(region, ((frame.width - side) // 2, (frame.height - side) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * ((frame.width // 2) * (frame.height // 2))
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{frame.width} H{frame.height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(20):
            out.write(b"FRAME\n" + luma + chroma + chroma)
    return path


def test_a_phone_camera_opens_the_posters_link_and_the_pass_names_everyone(
    launch: Launch, live: Live, tmp_path: Path
) -> None:
    ctx = live.app.ctx
    made = venues.register_venue(
        ctx,
        venues.RegisterVenue(
            "老街餐厅", "Old Street Restaurant", "1 Road", "Tianhe", "restaurant", "Op Co"
        ),
        SYSTEM,
    )
    me = enrolment.enrol_resident(
        ctx, enrolment.EnrolResident("陈五", "passport", "E12345678", PHONE)
    ).subject_id
    child = enrolment.add_dependant(ctx, enrolment.AddDependant(me, "陈小五", "child")).subject_id

    # The phone's camera app reads the printed poster: a link to the city's check-in page.
    poster = printed_poster(live, made.venue.venue_id)
    (read,) = zxingcpp.read_barcodes(poster)
    link = str(read.text)
    assert link.startswith(live.base_url.upper() + "/C#PLACE1:")
    assert place_code_of(link) == made.poster.payload

    page: Any = launch(video=camera_video(poster, tmp_path / "poster.y4m"))
    page.goto(link)
    page.get_by_test_id("link-place").wait_for()  # the venue the code names, before signing in
    assert "老街餐厅" in page.get_by_test_id("link-place").inner_text()
    page.get_by_role("link", name="登录并登记").click()
    page.get_by_label("手机号码").fill(PHONE)
    page.get_by_role("button", name="发送验证码").click()
    sender = ctx.sender
    assert isinstance(sender, ConsoleSender)
    page.get_by_label("验证码").fill(sender.sent[-1][1])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/C")  # back, the place code kept in this tab meanwhile
    page.get_by_label("陈**").check()  # the dependant, named as a guard may see them
    page.get_by_role("button", name="登记").click()

    pass_ = page.get_by_test_id("pass")
    pass_.wait_for()
    assert page.get_by_test_id("pass-venue").inner_text() == "老街餐厅"
    people = page.get_by_test_id("pass-people").inner_text()
    assert "陈*" in people
    assert "陈**" in people
    clock = page.get_by_test_id("pass-clock")
    first = clock.inner_text()
    page.wait_for_function(
        "t => document.querySelector('[data-clock]').textContent !== t", arg=first, timeout=5000
    )  # it runs: a screenshot would not
    assert page.url.endswith("/me/checkins")  # a reload shows the check-ins, checks in nobody
    assert [c.venue_id for c in checkins.my_checkins(ctx, me)] == [made.venue.venue_id]
    assert [c.venue_id for c in checkins.my_checkins(ctx, child)] == [made.venue.venue_id]

    # The app's own scanner, pointed at the same printed poster, reads the link too.
    page.goto("/me/scan")
    page.get_by_test_id("pass").wait_for(timeout=15_000)
    assert page.get_by_test_id("pass-venue").inner_text() == "老街餐厅"
    assert len(checkins.my_checkins(ctx, me)) == 2
