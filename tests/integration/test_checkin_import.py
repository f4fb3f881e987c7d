"""Bulk import of check-ins by the authority, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from healthcode.adapters.db import checkin_partitions
from healthcode.adapters.db.checkin_partitions import DEFAULT, partition_name
from healthcode.adapters.db.tables import subjects
from healthcode.bootstrap import App
from healthcode.domain.audit import Actor
from healthcode.domain.checkins import (
    DAILY_CAP,
    DAY,
    HOUR,
    MAX_DWELL_SECONDS,
    CheckInBatch,
    CheckInSource,
    new_checkin,
)
from healthcode.domain.errors import Conflict, InvalidInput
from healthcode.domain.venues import VenueType
from healthcode.services import audit, checkins, enrolment, venues
from healthcode.services.checkin_import import (
    CheckInRow,
    ImportRefused,
    import_checkins,
    parse_csv,
)

ADMIN = Actor("authority_admin", "officer-1")
HEADER = "venue_id,subject_id,time_in,time_out,client_id\n"


def resident(app: App, doc: str = "11010519491231002X") -> str:
    cmd = enrolment.EnrolResident("吴一", "prc_id", doc, "13812345678")
    return enrolment.enrol_resident(app.ctx, cmd).subject_id


def venue(app: App, kind: str = "restaurant") -> str:
    cmd = venues.RegisterVenue("面馆", None, "1 Main St", "Yuexiu", kind, "Wang Ltd")
    return venues.register_venue(app.ctx, cmd, ADMIN).venue.venue_id


def csv_of(*lines: str) -> str:
    return HEADER + "\n".join(lines) + "\n"


def log_entries(app: App) -> list[dict[str, object]]:
    return [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]


def test_a_good_file_is_imported_and_logged_as_counts(app: App) -> None:
    who, other = resident(app), resident(app, "440106199001010013")
    place, pharmacy = venue(app), venue(app, "pharmacy")
    now = app.ctx.clock.now()
    rows = parse_csv(
        csv_of(
            f"{place},{who},{now - 7200},{now - 3600},dev-1-000001",
            f"{place},{other},{now - 7000},,dev-1-000002",
            f"{pharmacy},{who},2026-11-18T10:00:00+08:00,,",
        )
    )
    done: list[int] = []
    report = import_checkins(app.ctx, rows, ADMIN, done.append)
    assert (report.imported, report.duplicates) == (3, 0)
    assert sum(done) == 3
    mine = sorted(checkins.my_checkins(app.ctx, who), key=lambda c: c.time_in)
    assert [c.venue_id for c in mine] == [pharmacy, place]
    assert mine[0].time_in == int(dt.datetime(2026, 11, 18, 2, tzinfo=dt.UTC).timestamp())
    assert mine[0].closes_at == mine[0].time_in + MAX_DWELL_SECONDS[VenueType.PHARMACY]
    assert mine[1].time_out == now - 3600
    assert mine[1].client_id == "dev-1-000001"
    assert {c.source for c in mine} == {CheckInSource.DEVICE_BATCH}
    (theirs,) = checkins.my_checkins(app.ctx, other)
    assert theirs.time_out is None
    assert theirs.closes_at == now - 7000 + MAX_DWELL_SECONDS[VenueType.RESTAURANT]
    entries = [e for e in log_entries(app) if e["action"] == "checkins.imported"]
    assert len(entries) == 1
    assert entries[0]["details"] == {"imported": 3, "duplicates": 0}
    text = json.dumps(log_entries(app))
    assert who not in text  # counts only: check-ins are personal data, not log entries
    assert "dev-1-000001" not in text


def test_reimport_counts_duplicates_and_adds_nothing(app: App) -> None:
    who, place = resident(app), venue(app)
    now = app.ctx.clock.now()
    lines = [f"{place},{who},{now - 3600 + i},,dev-7-{i:06d}" for i in range(5)]
    first = import_checkins(app.ctx, parse_csv(csv_of(*lines[:3])), ADMIN)
    again = import_checkins(app.ctx, parse_csv(csv_of(*lines)), ADMIN)
    assert (first.imported, first.duplicates) == (3, 0)
    assert (again.imported, again.duplicates) == (2, 3)
    assert len(checkins.my_checkins(app.ctx, who)) == 5
    details = [e["details"] for e in log_entries(app) if e["action"] == "checkins.imported"]
    assert details == [{"imported": 3, "duplicates": 0}, {"imported": 2, "duplicates": 3}]


def test_a_bad_file_stores_nothing_and_names_every_bad_line(app: App) -> None:
    who, place, shop = resident(app), venue(app), venue(app, "shop")
    erased = resident(app, "440106199001010013")
    with app.engine.begin() as conn:
        conn.execute(update(subjects).where(subjects.c.subject_id == erased).values(erased_at=1))
    now = app.ctx.clock.now()
    text = csv_of(
        f"{place},{who},{now - 3600},,dev-1-000001",  # line 2: fine
        f"vnope,{who},{now - 3600},,",  # line 3: no such venue
        f"{place},nobody,{now - 3600},,",  # line 4: no such resident
        f"{place},{erased},{now - 3600},,",  # line 5: erased
        f"{place},{who},{now - 3600},{now - 3601},",  # line 6: out before in
        f"{shop},{who},{now - 4 * HOUR},{now},",  # line 7: longer than a shop's 2 h
        f"{place},{who},{now + 3600},,",  # line 8: in the future
        f"{place},{who},{now - 60},,short",  # line 9: client id format
        f"{place},{who},{now - 60},,dev-1-000001",  # line 10: same pair as line 2
        f"{place},{who},{now - 60},,dev-1-000003",  # line 11: fine
    )
    size = audit.log_size(app.ctx)
    with pytest.raises(ImportRefused) as refused:
        import_checkins(app.ctx, parse_csv(text), ADMIN)
    by_line = {e.line: e.field for e in refused.value.errors}
    assert by_line == {
        3: "venue_id",
        4: "subject_id",
        5: "subject_id",
        6: "time_out",
        7: "time_out",
        8: "time_in",
        9: "client_id",
        10: "client_id",
    }
    assert [e.line for e in refused.value.errors] == sorted(by_line)
    assert "line 2" in refused.value.errors[-1].message
    assert checkins.my_checkins(app.ctx, who) == []
    assert audit.log_size(app.ctx) == size


def test_unreadable_lines_are_all_reported_by_the_parser() -> None:
    text = csv_of(
        "v1,s1,1795000000,,",
        "v1,s1,yesterday,,",  # line 3
        "",  # line 4: a blank line inside the data
        "v1,s1,2026-11-18T10:00:00,,",  # line 5: no offset
        "v1,s1,1795000000,later,",  # line 6
        "v1,s1",  # line 7: too few fields
    )
    with pytest.raises(ImportRefused) as refused:
        parse_csv(text + "\n\n")  # trailing blank lines are fine
    assert [(e.line, e.field) for e in refused.value.errors] == [
        (3, "time_in"),
        (4, "row"),
        (5, "time_in"),
        (6, "time_out"),
        (7, "row"),
    ]
    with pytest.raises(InvalidInput, match="time_out"):
        parse_csv("venue_id,subject_id,time_in,client_id\n")
    reordered = parse_csv("client_id,time_out,time_in,subject_id,venue_id\n,,7,s1,v1\n\n")
    assert reordered == [CheckInRow("v1", "s1", 7, None, None)]


def test_the_daily_cap_does_not_bind_an_authority_import(app: App) -> None:
    who, place = resident(app), venue(app)
    now = app.ctx.clock.now()
    rows = [CheckInRow(place, who, now - 20 * HOUR + 60 * i, None) for i in range(DAILY_CAP + 5)]
    assert import_checkins(app.ctx, rows, ADMIN).imported == DAILY_CAP + 5


def test_an_empty_batch_is_refused(app: App) -> None:
    with pytest.raises(InvalidInput, match="no rows"):
        import_checkins(app.ctx, [], ADMIN)


def test_bulk_writes_belong_to_the_unit_of_work(app: App) -> None:
    """COPY (PostgreSQL) and executemany (SQLite) run in the transaction: no commit, no rows."""
    who, place = resident(app), venue(app)
    now = app.ctx.clock.now()
    made = [
        new_checkin(place, VenueType.RESTAURANT, who, now - 60 * i, CheckInSource.DEVICE_BATCH)
        for i in range(3)
    ]
    batch = CheckInBatch.of(CheckInSource.DEVICE_BATCH, made)
    written: list[int] = []
    with app.ctx.uow() as uow:
        assert uow.checkins.add_batch(batch, progress=written.append) == set()
        assert len(uow.checkins.of_subject(who, 0)) == 3
    assert written == [3]
    assert checkins.my_checkins(app.ctx, who) == []
    stranger = CheckInBatch.of(
        CheckInSource.DEVICE_BATCH, [*made, replace(made[0], subject_id="nobody")]
    )
    with app.ctx.uow() as uow:
        assert uow.checkins.add_batch(stranger) == {"nobody"}
        assert uow.checkins.add_batch(batch, dry_run=True) == set()
        assert uow.checkins.of_subject(who, 0) == []  # refused and dry runs write nothing
        uow.checkins.add_batch(batch)
        uow.commit()
    assert sorted(checkins.my_checkins(app.ctx, who), key=lambda c: c.checkin_id) == sorted(
        batch.checkins(), key=lambda c: c.checkin_id
    )


def test_the_types_of_many_venues_are_read_at_once(app: App) -> None:
    place, shop = venue(app), venue(app, "shop")
    with app.ctx.uow() as uow:
        found = uow.venues.types([place, shop, place, "vnope"])
    assert found == {place: VenueType.RESTAURANT, shop: VenueType.SHOP}


def test_stored_client_ids_are_found_by_pair(app: App) -> None:
    who, place, other = resident(app), venue(app), venue(app)
    now = app.ctx.clock.now()
    import_checkins(app.ctx, [CheckInRow(place, who, now - 60, None, "dev-1-000001")], ADMIN)
    asked = [(place, "dev-1-000001"), (place, "dev-1-000002"), (other, "dev-1-000001")]
    with app.ctx.uow() as uow:
        assert uow.checkins.stored_client_ids(asked) == {(place, "dev-1-000001")}
        assert uow.checkins.stored_client_ids([]) == set()


def test_a_big_day_reports_its_progress_in_parts(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL sends a day at a time, SQLite writes in parts: both report every WRITE_PART
    rows, so that a day of millions does not show as one jump at its end."""
    from healthcode.adapters.db import checkins as repository

    monkeypatch.setattr(repository, "WRITE_PART", 2)
    who, place = resident(app), venue(app)
    now = app.ctx.clock.now()
    rows = [CheckInRow(place, who, now - 600 + i, None) for i in range(5)]
    rows.append(CheckInRow(place, who, now - 2 * DAY, None))  # another day
    done: list[int] = []
    import_checkins(app.ctx, rows, ADMIN, done.append)
    assert sum(done) == 6
    assert max(done) == 2
    assert len(checkins.my_checkins(app.ctx, who)) == 6


def test_progress_counts_duplicates_first_then_what_is_written(app: App) -> None:
    who, place = resident(app), venue(app)
    now = app.ctx.clock.now()
    rows = [CheckInRow(place, who, now - 3600 + i, None, f"dev-7-{i:06d}") for i in range(5)]
    import_checkins(app.ctx, rows[:3], ADMIN)
    done: list[int] = []
    import_checkins(app.ctx, rows, ADMIN, done.append)
    assert done == [3, 2]
    done.clear()
    import_checkins(app.ctx, rows, ADMIN, done.append)  # all duplicates: nothing to write
    assert done == [5]
    done.clear()
    with pytest.raises(ImportRefused):
        import_checkins(
            app.ctx, [*rows, CheckInRow(place, "nobody", now, None)], ADMIN, done.append
        )
    assert done == []  # a refused batch reports nothing


def test_residents_checked_for_a_batch_stay_live_until_it_commits(app: App) -> None:
    """The check is held: erasing a resident whose check-ins are being written waits for the
    import's transaction (PostgreSQL: the resident's row is locked; SQLite: the import holds
    the write lock from its first statement)."""
    who, place = resident(app), venue(app)
    now = app.ctx.clock.now()
    made = [new_checkin(place, VenueType.RESTAURANT, who, now - 60, CheckInSource.DEVICE_BATCH)]
    erase = update(subjects).where(subjects.c.subject_id == who).values(erased_at=now)
    with app.ctx.uow() as uow:
        assert uow.checkins.add_batch(CheckInBatch.of(CheckInSource.DEVICE_BATCH, made)) == set()
        with app.engine.connect() as other:
            driver: Any = other.connection.driver_connection  # no transaction begun yet
            if app.engine.dialect.name == "postgresql":
                driver.execute("SET lock_timeout = '200ms'")
            else:
                driver.execute("PRAGMA busy_timeout = 200")
            with pytest.raises(OperationalError):
                other.execute(erase)
            other.rollback()
        uow.commit()
    assert [c.venue_id for c in checkins.my_checkins(app.ctx, who)] == [place]


def _partitions(app: App) -> dict[str, int]:
    """Each day partition's name and how many check-ins it holds, the default one included."""
    with app.engine.connect() as conn:
        names = [*checkin_partitions.day_partitions(conn).values(), DEFAULT]
        return {
            name: conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar_one()  # noqa: S608 - names from the catalogue
            for name in names
        }


def test_imported_past_days_land_in_their_own_day_partitions(app: App) -> None:
    """Expiry drops a day's partition whole; an import of past days makes theirs first, so
    that its rows are not left in the default partition to be deleted one by one. Days older
    than retention get none (their rows expire at the next purge), nor does anything after a
    sunset."""
    if app.engine.dialect.name != "postgresql":
        pytest.skip("daily partitions are a PostgreSQL feature")
    from healthcode.services import retention

    who, place = resident(app), venue(app)
    now = app.ctx.clock.now()
    kept = app.ctx.retention.days
    before = _partitions(app)
    assert partition_name(now - 3 * DAY) not in before  # only today's and the next are made
    times = [now - 3 * DAY, now - 3 * DAY + 60, now - 2 * DAY, now - (kept + 5) * DAY]
    lines = [f"{place},{who},{t},,dev-9-{i:06d}" for i, t in enumerate(times)]
    assert import_checkins(app.ctx, parse_csv(csv_of(*lines)), ADMIN).imported == 4
    after = _partitions(app)
    assert after[partition_name(now - 3 * DAY)] == 2
    assert after[partition_name(now - 2 * DAY)] == 1
    assert after[DEFAULT] == before.get(DEFAULT, 0) + 1  # the day past retention
    assert partition_name(now - (kept + 5) * DAY) not in after
    assert partition_name(now - kept * DAY) not in after  # only days that have rows
    assert len(checkins.my_checkins(app.ctx, who, days=kept + 10)) == 4

    yesterday = partition_name(now - DAY)
    assert yesterday not in after
    retention.sunset(app.ctx)
    with pytest.raises(Conflict):
        import_checkins(app.ctx, parse_csv(csv_of(f"{place},{who},{now - DAY},,")), ADMIN)
    assert yesterday not in _partitions(app)


def test_an_import_goes_on_when_its_days_partitions_cannot_be_made(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """Making partitions waits for their lock (another import or the purge making them) at
    most PARTITION_WAIT_MS; past that the import goes on, its rows in the default partition
    as before, and says so. The lock is held for real, by another connection."""
    if app.engine.dialect.name != "postgresql":
        pytest.skip("daily partitions are a PostgreSQL feature")
    who, place = resident(app), venue(app)
    day = app.ctx.clock.now() - 3 * DAY
    with app.engine.connect() as other:
        other.exec_driver_sql(f"SELECT pg_advisory_xact_lock({checkin_partitions.LOCK})")
        report = import_checkins(app.ctx, [CheckInRow(place, who, day, None)], ADMIN)
        other.rollback()
    assert report.imported == 1
    assert len(checkins.my_checkins(app.ctx, who)) == 1
    assert "partitions of an import's days were not made" in caplog.text
    found = _partitions(app)
    assert partition_name(day) not in found
    assert found[DEFAULT] == 1
