"""Retention drill and purge (RET-1, RET-2), on SQLite and PostgreSQL, with an injected clock."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.db.checkin_partitions import partition_name
from healthcode.adapters.db.retention import SqlRetention
from healthcode.bootstrap import App
from healthcode.domain.audit import Actor
from healthcode.domain.checkins import CheckInSource, new_checkin
from healthcode.entrypoints.web.app import create_app
from healthcode.services import audit, checkins, enrolment, retention, venues
from healthcode.services.checkin_import import CheckInRow, import_checkins
from healthcode.services.ports import Notice, StoredExposure
from tests.conftest import resident_headers

ADMIN = Actor("authority_admin", "officer-1")
DAY = 86400
CANARY = "CANARY-retention-7f3a9c21e5"  # the canary visit's client id: easy to find in bytes


def resident(app: App, doc: str = "11010519491231002X") -> str:
    cmd = enrolment.EnrolResident("吴一", "prc_id", doc, "13812345678")
    return enrolment.enrol_resident(app.ctx, cmd).subject_id


def venue(app: App) -> str:
    cmd = venues.RegisterVenue("面馆", None, "1 Main St", "Yuexiu", "restaurant", "Wang Ltd")
    return venues.register_venue(app.ctx, cmd, ADMIN).venue.venue_id


def check_in(app: App, who: str, where: str, at: int, client_id: str | None = None) -> None:
    import_checkins(app.ctx, [CheckInRow(where, who, at, None, client_id)], ADMIN)


def count(app: App, sql: str) -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def database_bytes(app: App) -> bytes:
    """The raw SQLite files: the database and its write-ahead log, as a forensic tool reads."""
    path = Path(str(app.engine.url.database))
    found = b""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")):
        if file.exists():
            found += file.read_bytes()
    return found


def purged_entries(app: App) -> list[dict[str, object]]:
    entries = [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]
    return [e for e in entries if e["action"] == "retention.purged"]


def test_retention_drill_the_canary_is_gone_after_n_plus_1_days(
    app: App, clock: FixedClock
) -> None:
    days = app.ctx.retention.days
    who, where = resident(app), venue(app)
    at = clock.now() - 3600
    check_in(app, who, where, at, CANARY)
    (canary,) = checkins.my_checkins(app.ctx, who)
    assert canary.client_id == CANARY
    if app.engine.dialect.name == "sqlite":
        assert CANARY.encode() in database_bytes(app)  # the drill can see it while it lives
    else:
        assert count(app, f"SELECT count(*) FROM {partition_name(at)}") == 1  # noqa: S608

    clock.advance((days + 1) * DAY)
    report = retention.purge(app.ctx)

    assert report.counts["checkins"] == 1
    assert checkins.my_checkins(app.ctx, who, days=10 * days) == []  # gone from the service,
    with TestClient(create_app(built=app)) as client:  # ... from the HTTP API ...
        listed = client.get(f"/residents/{who}/checkins", headers=resident_headers(app, who))
        assert listed.status_code == 200
        assert listed.json() == []
    assert count(app, "SELECT count(*) FROM checkins") == 0  # ... and from the table
    if app.engine.dialect.name == "sqlite":
        raw = database_bytes(app)  # ... and from the files: overwritten, log truncated
        for trace in (CANARY, canary.checkin_id):
            assert trace.encode() not in raw
    else:  # ... and its day's partition, file and all, is dropped
        assert report.counts["checkin_partitions"] >= 1
        relation = f"SELECT count(*) FROM pg_class WHERE relname = '{partition_name(at)}'"  # noqa: S608
        assert count(app, relation) == 0


def test_visits_inside_retention_stay(app: App, clock: FixedClock) -> None:
    days = app.ctx.retention.days
    who, where = resident(app), venue(app)
    check_in(app, who, where, clock.now() - 3600, "old-visit-0001")
    clock.advance(days * DAY - 2 * 3600)  # the visit is an hour short of N days old
    check_in(app, who, where, clock.now() - 60, "new-visit-0001")
    assert retention.purge(app.ctx).counts["checkins"] == 0
    assert len(checkins.my_checkins(app.ctx, who, days=2 * days)) == 2
    clock.advance(2 * 3600)
    assert retention.purge(app.ctx).counts["checkins"] == 1
    (left,) = checkins.my_checkins(app.ctx, who, days=2 * days)
    assert left.client_id == "new-visit-0001"


def test_purge_is_idempotent_and_logged_with_counts_only(app: App, clock: FixedClock) -> None:
    who, where = resident(app), venue(app)
    check_in(app, who, where, clock.now() - 3600, CANARY)
    clock.advance((app.ctx.retention.days + 1) * DAY)
    first = retention.purge(app.ctx)
    second = retention.purge(app.ctx)
    assert first.counts["checkins"] == 1
    assert set(second.counts.values()) == {0}  # nothing left to purge
    # Every run is logged, an empty one too: the public sees that retention is enforced.
    entries = purged_entries(app)
    assert len(entries) == 2
    for entry in entries:
        assert entry["actor"] == {"role": "system", "ref": "system"}
        assert entry["basis"] == "retention_policy"
        assert all(isinstance(v, int) for v in entry["details"].values())  # type: ignore[union-attr]
    assert entries[0]["details"]["checkins"] == 1  # type: ignore[index]
    assert entries[1]["details"]["retention_days"] == app.ctx.retention.days  # type: ignore[index]
    text_of_log = "\n".join(audit.export_lines(app.ctx))
    assert CANARY not in text_of_log
    assert who not in text_of_log


def test_exposures_and_their_notices_expire_with_the_check_ins(app: App, clock: FixedClock) -> None:
    who = resident(app)
    now = clock.now()

    def exposure(eid: str, start: int) -> StoredExposure:
        return StoredExposure(
            eid, who, "case1", "close", "v1", start, start + 900, "c" + eid, "c2", None, now
        )

    def notice(nid: str, eid: str, start: int) -> Notice:
        return Notice(nid, who, "exposure", "v1", start - start % DAY, "default@1#close", eid, now)

    with app.ctx.uow() as uow:
        uow.exposures.add_new([exposure("e-old", now - 3600), exposure("e-new", now + 3 * DAY)])
        uow.notices.add(
            [notice("n-old", "e-old", now - 3600), notice("n-new", "e-new", now + 3 * DAY)]
        )
        uow.commit()
    clock.advance((app.ctx.retention.days + 1) * DAY)
    report = retention.purge(app.ctx)
    assert (report.counts["exposures"], report.counts["notices"]) == (1, 1)
    with app.ctx.uow(read_only=True) as uow:
        assert [e.exposure_id for e in uow.exposures.of_subject(who)] == ["e-new"]
        assert [n.notice_id for n in uow.notices.of_subject(who)] == ["n-new"]


def test_a_failed_purge_is_loud(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert retention.purge_health(app.ctx).status == "never"
    retention.purge(app.ctx)
    assert retention.purge_health(app.ctx).status == "ok"

    def broken(self: SqlRetention, before: int) -> object:
        raise RuntimeError("disk on fire near 13812345678")  # a message that could leak data

    monkeypatch.setattr(SqlRetention, "purge_checkins", broken)
    clock.advance(3600)
    with (
        caplog.at_level(logging.ERROR, "healthcode.retention"),
        pytest.raises(retention.PurgeFailed),
    ):
        retention.purge(app.ctx)
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    assert "13812345678" not in caplog.text  # loud, but the log carries no data
    health = retention.purge_health(app.ctx)
    assert (health.status, health.degraded, health.error) == ("failed", True, "RuntimeError")
    assert health.last_ok_at is not None
    assert health.last_ok_at < health.last_run_at

    monkeypatch.undo()
    clock.advance(60)
    retention.purge(app.ctx)
    assert retention.purge_health(app.ctx).degraded is False
    clock.advance(retention.STALE_SECONDS + 1)  # the scheduler stopped: that is degraded too
    assert (retention.purge_health(app.ctx).status, retention.purge_health(app.ctx).degraded) == (
        "stale",
        True,
    )


def test_partitions_are_made_ahead_and_old_rows_move_out_of_the_default(
    app: App, clock: FixedClock
) -> None:
    if app.engine.dialect.name != "postgresql":
        pytest.skip("daily partitions are a PostgreSQL feature")
    who, where = resident(app), venue(app)
    far = clock.now() + 10 * DAY  # beyond the partitions made so far: lands in the default
    check_in(app, who, where, clock.now() - 60, "near-0000001")
    clock.advance(10 * DAY + 120)
    # A resident's own check-in of a day nobody made the partition of (the scheduler was
    # down): an import would make it first (test_checkin_import.py), the live path does not.
    with app.ctx.uow() as uow:
        kind = uow.venues.types({where})[where]
        uow.checkins.add(
            new_checkin(where, kind, who, far, CheckInSource.CODE_SCAN, "far-00000001")
        )
        uow.commit()
    assert count(app, "SELECT count(*) FROM checkins_default") == 1
    retention.prepare(app.ctx)  # today's partition now exists: the row moves into it
    assert count(app, "SELECT count(*) FROM checkins_default") == 0
    assert count(app, f"SELECT count(*) FROM {partition_name(far)}") == 1  # noqa: S608
    for ahead in range(3):
        day = time.gmtime(clock.now() + ahead * DAY)
        name = "checkins_p" + time.strftime("%Y%m%d", day)
        assert count(app, f"SELECT count(*) FROM pg_class WHERE relname = '{name}'") == 1  # noqa: S608
    # The upload index still refuses the same scan twice.
    assert checkins.my_checkins(app.ctx, who, days=30)
    check_in(app, who, where, far, "far-00000001")  # a duplicate: skipped by the service
    assert count(app, "SELECT count(*) FROM checkins WHERE client_id = 'far-00000001'") == 1
