"""Check-ins three ways, on SQLite and PostgreSQL."""

from __future__ import annotations

import random

import pytest

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.domain.audit import Actor
from healthcode.domain.checkins import DAILY_CAP, MAX_DWELL_SECONDS, CheckInSource
from healthcode.domain.errors import Conflict, InvalidInput, NotFound
from healthcode.domain.identity import mod11_2_check_char
from healthcode.domain.venues import VenueType
from healthcode.services import checkins, codes, enrolment, venues
from healthcode.services.checkins import UploadItem

ADMIN = Actor("authority_admin", "officer-1")


def prc_id(body17: str) -> str:
    return body17 + mod11_2_check_char(body17)


def resident(app: App, body17: str = "11010519491231002") -> str:
    cmd = enrolment.EnrolResident("吴一", "prc_id", prc_id(body17), "13812345678")
    return enrolment.enrol_resident(app.ctx, cmd).subject_id


def venue(app: App, kind: str = "restaurant") -> venues.VenueWithPoster:
    cmd = venues.RegisterVenue("面馆", None, "1 Main St", "Yuexiu", kind, "Wang Ltd")
    return venues.register_venue(app.ctx, cmd, ADMIN)


def test_resident_scans_a_poster_and_checks_out(app: App, clock: FixedClock) -> None:
    who, place = resident(app), venue(app)
    (visit,) = checkins.check_in_at_place(app.ctx, who, place.poster.payload)
    assert visit.venue_id == place.venue.venue_id
    assert visit.source is CheckInSource.PLACE_SCAN
    assert visit.closes_at - visit.time_in == MAX_DWELL_SECONDS[VenueType.RESTAURANT]
    clock.advance(1800)
    left = checkins.leave(app.ctx, who, visit.venue_id, visit.checkin_id)
    assert left.time_out == visit.time_in + 1800
    with pytest.raises(InvalidInput, match="already checked out"):
        checkins.leave(app.ctx, who, visit.venue_id, visit.checkin_id)
    other = resident(app, "44010619900101001")
    with pytest.raises(NotFound):  # someone else's visit looks like no visit
        checkins.leave(app.ctx, other, visit.venue_id, visit.checkin_id)


def test_a_forgotten_check_out_closes_at_the_maximum_dwell(app: App, clock: FixedClock) -> None:
    who, place = resident(app), venue(app, "pharmacy")
    (visit,) = checkins.check_in_at_place(app.ctx, who, place.poster.payload)
    clock.advance(10 * 3600)
    left = checkins.leave(app.ctx, who, visit.venue_id, visit.checkin_id)
    assert left.time_out == visit.closes_at == visit.time_in + 3600


def test_dependants_check_in_with_their_guardian(app: App) -> None:
    who, place = resident(app), venue(app)
    child = enrolment.add_dependant(app.ctx, enrolment.AddDependant(who, "吴小一", "child"))
    made = checkins.check_in_at_place(app.ctx, who, place.poster.payload, [child.subject_id])
    assert {c.subject_id for c in made} == {who, child.subject_id}
    stranger = resident(app, "44010619900101001")
    with pytest.raises(NotFound, match="dependant"):
        checkins.check_in_at_place(app.ctx, stranger, place.poster.payload, [child.subject_id])


def test_forged_and_rotated_out_posters_are_refused(app: App, clock: FixedClock) -> None:
    who, place = resident(app), venue(app)
    forged = place.poster.payload[:-4] + ("AAAA" if place.poster.payload[-4:] != "AAAA" else "BBBB")
    with pytest.raises(InvalidInput) as refused:
        checkins.check_in_at_place(app.ctx, who, forged)
    assert refused.value.field == "place_code"
    venues.rotate_poster(app.ctx, place.venue.venue_id, ADMIN)
    clock.advance(app.settings.poster_grace_seconds + 1)
    with pytest.raises(InvalidInput, match="rotated_out"):
        checkins.check_in_at_place(app.ctx, who, place.poster.payload)
    assert checkins.my_checkins(app.ctx, who) == []


def test_daily_cap_stops_a_flood(app: App, clock: FixedClock) -> None:
    who, place = resident(app), venue(app)
    for _ in range(DAILY_CAP):
        clock.advance(60)
        checkins.check_in_at_place(app.ctx, who, place.poster.payload)
    with pytest.raises(Conflict, match="24 hours"):
        checkins.check_in_at_place(app.ctx, who, place.poster.payload)
    clock.advance(86400)
    assert checkins.check_in_at_place(app.ctx, who, place.poster.payload)


def test_venue_device_scans_a_health_code(app: App) -> None:
    who, place = resident(app), venue(app)
    code = codes.issue_health_code(app.ctx, who).text
    scan = checkins.scan_health_code(app.ctx, place.venue.venue_id, code)
    assert scan.recorded
    assert scan.verdict.for_guard()["decision"] == "admit"
    assert scan.verdict.for_guard()["masked_name"] == "吴*"
    (visit,) = checkins.my_checkins(app.ctx, who)
    assert visit.source is CheckInSource.CODE_SCAN
    bad = checkins.scan_health_code(app.ctx, place.venue.venue_id, code[:-3] + "AAA")
    assert not bad.recorded
    assert bad.verdict.for_guard()["decision"] == "invalid"


def test_offline_uploads_are_idempotent_in_any_order(app: App, clock: FixedClock) -> None:
    place = venue(app)
    people = [resident(app, body) for body in ("11010519491231002", "44010619900101001")]
    items = []
    for number in range(6):
        clock.advance(40)
        code = codes.issue_health_code(app.ctx, people[number % 2]).text
        items.append(UploadItem(f"device-1-{number:04d}", code, clock.now()))
    clock.advance(3600)  # the device comes back online an hour later
    shuffled = random.Random(7).sample(items, len(items))
    first = checkins.upload_scans(app.ctx, place.venue.venue_id, shuffled[:4])
    assert sorted(first.accepted) == sorted(i.client_id for i in shuffled[:4])
    again = checkins.upload_scans(app.ctx, place.venue.venue_id, list(reversed(items)))
    assert sorted(again.duplicates) == sorted(i.client_id for i in shuffled[:4])
    assert sorted(again.accepted) == sorted(i.client_id for i in shuffled[4:])
    assert sum(len(checkins.my_checkins(app.ctx, p)) for p in people) == 6


def test_upload_reports_each_refused_scan_with_its_reason(app: App, clock: FixedClock) -> None:
    place, who = venue(app), resident(app)
    code = codes.issue_health_code(app.ctx, who).text
    now = clock.now()
    report = checkins.upload_scans(
        app.ctx,
        place.venue.venue_id,
        [
            UploadItem("scan-good-0001", code, now),
            UploadItem("scan-late-0002", code, now + 3600),
            UploadItem("scan-junk-0003", "HCODE1:NONSENSE", now),
            UploadItem("scan-expd-0004", code, now + 3 * 3600 - 4000),
        ],
    )
    reasons = {r.client_id: r.reason for r in report.rejected}
    assert report.accepted == ["scan-good-0001"]
    assert reasons["scan-late-0002"] == "scanned_in_the_future"
    assert reasons["scan-junk-0003"].startswith("invalid:")
    assert reasons["scan-expd-0004"] == "scanned_in_the_future"
    with pytest.raises(InvalidInput) as bad:
        checkins.upload_scans(app.ctx, place.venue.venue_id, [UploadItem("x", code, now)])
    assert bad.value.field == "items.0.client_id"
