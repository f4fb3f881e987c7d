"""The foundation's spine through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.domain.audit import Actor
from healthcode.services import audit, codes, enrolment, venues, verify
from healthcode.verifier.audit import verify_log_copy
from healthcode.verifier.verify import Decision, Reason

ADMIN = Actor("authority_admin", "officer-1")
VALID_ID = "11010519491231002X"


def enrol(app: App, doc: str = VALID_ID) -> enrolment.Enrolled:
    return enrolment.enrol_resident(
        app.ctx, enrolment.EnrolResident("张三", "prc_id", doc, "13812345678")
    )


def test_enrolled_resident_gets_a_green_code_that_verifies(app: App) -> None:
    who = enrol(app)
    issued = codes.issue_health_code(app.ctx, who.subject_id)
    assert issued.text.startswith("HCODE1:")
    assert issued.expires_at - issued.issued_at == app.settings.code_lifetime_seconds
    verdict = verify.verify_text(app.ctx, issued.text)
    assert verdict.decision is Decision.ADMIT
    assert verdict.masked_name == "张*"
    assert verdict.colour == "green"
    assert verdict.rule_ref == "default@1#none"  # the shipped rule set: no rule applies


def test_code_stops_working_after_its_lifetime(app: App, clock: FixedClock) -> None:
    issued = codes.issue_health_code(app.ctx, enrol(app).subject_id)
    clock.advance(app.settings.code_lifetime_seconds + app.settings.clock_skew_seconds + 1)
    assert verify.verify_text(app.ctx, issued.text).reason is Reason.EXPIRED


def test_venue_poster_checks_and_rotation_grace(app: App, clock: FixedClock) -> None:
    cmd = venues.RegisterVenue(
        "老王面馆", "Wang's Noodles", "1 Main St", "Yuexiu", "restaurant", "Wang Ltd"
    )
    registered = venues.register_venue(app.ctx, cmd, ADMIN)
    old = registered.poster.payload
    assert venues.check_place_code(app.ctx, old).ok
    rotated = venues.rotate_poster(app.ctx, registered.venue.venue_id, ADMIN)
    assert venues.check_place_code(app.ctx, rotated.poster.payload).ok
    assert venues.check_place_code(app.ctx, old).ok  # still inside the grace period
    clock.advance(app.settings.poster_grace_seconds + 1)
    result = venues.check_place_code(app.ctx, old)
    assert not result.ok
    assert result.problem is venues.PlaceCodeProblem.ROTATED_OUT


def test_every_state_change_is_on_a_verifiable_log(app: App) -> None:
    enrol(app)
    venues.register_venue(
        app.ctx, venues.RegisterVenue(None, "Gym", "2 Side St", "Tianhe", "gym", "Fit Co"), ADMIN
    )
    audit.checkpoint_now(app.ctx, force=True)
    lines = list(audit.export_lines(app.ctx))
    actions = [json.loads(json.loads(line)["entry"])["action"] for line in lines]
    assert actions[:3] == ["key.created", "key.created", "trust_list.published"]
    assert "resident.enrolled" in actions
    assert "venue.registered" in actions
    notes = [cp.note for cp in audit.checkpoints(app.ctx)]
    report = verify_log_copy(lines, notes, app.keyring.log_vkey())
    assert report.ok, report.problem
    assert report.entries_checked == len(lines)
    # no personal data on the log
    text = "\n".join(lines)
    for secret in ("张三", VALID_ID, "13812345678", "Wang"):
        assert secret not in text
