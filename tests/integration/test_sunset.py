"""Sunset (RET-3): all personal data deleted, the log still verifies and points at nobody, new
personal data refused, a signed deletion attestation on the log. SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.domain.audit import Actor
from healthcode.domain.errors import Conflict
from healthcode.services import audit, enrolment, health_facts, labs, retention, venues
from healthcode.services.checkin_import import CheckInRow, import_checkins
from healthcode.services.ports import QueuedColour
from healthcode.verifier.audit import verify_log_copy
from tests.support.labs import import_results as lab_import

ADMIN = Actor("authority_admin", "officer-1")
DOC = "11010519491231002X"
PERSONAL = (
    "checkins",
    "exposures",
    "notices",
    "health_facts",
    "lab_results",
    "cases",
    "statuses",
    "status_queue",
    "order_subjects",
    "appeals",
    "sessions",
    "otp_challenges",
    "device_tokens",
    "guardianships",
    "vault_identities",
)


def count(app: App, sql: str) -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def city(app: App) -> tuple[str, str]:
    who = enrolment.enrol_resident(
        app.ctx, enrolment.EnrolResident("吴一", "prc_id", DOC, "13812345678")
    ).subject_id
    enrolment.add_dependant(app.ctx, enrolment.AddDependant(who, "吴小一", "child"))
    where = venues.register_venue(
        app.ctx,
        venues.RegisterVenue("面馆", None, "1 Main St", "Yuexiu", "restaurant", "Wang Ltd"),
        ADMIN,
    ).venue.venue_id
    now = app.ctx.clock.now()
    import_checkins(app.ctx, [CheckInRow(where, who, now - 3600, None, "dev-1-000001")], ADMIN)
    health_facts.report_symptoms(app.ctx, who, ["fever"], now - 600, Actor("resident", "r"))
    row = labs.LabRow(2, "T-1", "prc_id", DOC, "2026-11-18T08:00:00Z", "positive", "lab1")
    lab_import(app, [row])
    return who, where


def test_sunset_deletes_everything_personal_and_attests_it(app: App, clock: FixedClock) -> None:
    who, where = city(app)
    assert count(app, "SELECT count(*) FROM cases") == 1
    with app.ctx.uow() as uow:  # colour work a trace left queued when the emergency ended
        (case_id,) = [c.case_id for c in uow.cases.cases_of([who])[who]]
        uow.status_queue.add([QueuedColour(who, case_id, app.ctx.clock.now(), ADMIN, "exposure")])
        uow.commit()
    assert count(app, "SELECT count(*) FROM status_queue") == 1
    before = audit.about_subject(app.ctx, who)
    assert before  # the person's commitments resolve while their key exists

    clock.advance(60)
    attestation = retention.sunset(app.ctx)

    for table in PERSONAL:
        assert count(app, f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608
    assert count(app, "SELECT count(*) FROM subjects WHERE erased_at IS NULL") == 0
    assert count(app, "SELECT count(*) FROM manual_orders WHERE reason <> ''") == 0
    assert attestation.deleted["vault_identities"] == 2
    assert attestation.deleted["checkins"] == 1
    assert attestation.deleted["subjects_erased"] == 2
    assert attestation.final_colours.get("red") == 1  # counts stay, people do not
    # Commitment keys went with the vault: old entries point at nobody.
    assert audit.about_subject(app.ctx, who) == []

    # The log still verifies, with the attestation under a signed checkpoint.
    lines = list(audit.export_lines(app.ctx))
    notes = [cp.note for cp in audit.checkpoints(app.ctx)]
    report = verify_log_copy(lines, notes, app.keyring.log_vkey())
    assert report.ok, report.problem
    entry = json.loads(json.loads(lines[attestation.log_index])["entry"])
    assert entry["action"] == "sunset.attested"
    assert entry["details"]["vault_identities"] == 2
    latest = audit.latest_checkpoint(app.ctx)
    assert latest is not None
    assert latest.note == attestation.checkpoint
    assert latest.size == attestation.checkpoint_size > attestation.log_index
    assert json.loads(attestation.to_json())["city"] == "CN-TEST"
    assert DOC not in "\n".join(lines)
    assert who not in "\n".join(lines)

    # The door is closed: no new personal data.
    with pytest.raises(Conflict) as refused:
        enrolment.enrol_resident(
            app.ctx, enrolment.EnrolResident("李四", "prc_id", "440106199001010013", "13912345678")
        )
    assert refused.value.code == "emergency_ended"
    with pytest.raises(Conflict):
        import_checkins(app.ctx, [CheckInRow(where, who, clock.now(), None, None)], ADMIN)
    row = labs.LabRow(2, "T-2", "prc_id", DOC, "2026-11-18T09:00:00Z", "negative", "lab1")
    with pytest.raises(Conflict):
        lab_import(app, [row])
    assert retention.sunset_at(app.ctx) == clock.now()
    with pytest.raises(Conflict):
        retention.sunset(app.ctx)  # once only
    retention.purge(app.ctx)  # the hourly purge still runs, with nothing to do
