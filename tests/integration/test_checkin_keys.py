"""Crypto-shredding of check-ins (RET-1), on SQLite and PostgreSQL: who visited is stored under
a key of the check-in's UTC day, and once retention destroys that key no copy of the row (a
backup taken before the purge) can be tied to its resident again."""

from __future__ import annotations

import json
import secrets
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.crypto.checkin_keys import CheckInKeys, day_of, key_name
from healthcode.adapters.crypto.keystore import KeyStore, KeyStoreError
from healthcode.adapters.db.migrate import downgrade, head_revision, upgrade
from healthcode.adapters.db.sealing import Seals
from healthcode.adapters.db.tables import checkins as checkins_table
from healthcode.bootstrap import App
from healthcode.domain.audit import Actor
from healthcode.domain.tracing import Overlapping
from healthcode.services import audit, checkins, enrolment, retention, venues
from healthcode.services.checkin_import import CheckInRow, import_checkins
from tests.conftest import TEST_PASSPHRASE

ADMIN = Actor("authority_admin", "officer-1")
DAY = 86400
FOREVER = 2**62


def resident(app: App, doc: str = "11010519491231002X", phone: str = "13812345678") -> str:
    cmd = enrolment.EnrolResident("吴一", "prc_id", doc, phone)
    return enrolment.enrol_resident(app.ctx, cmd).subject_id


def venue(app: App) -> str:
    cmd = venues.RegisterVenue("面馆", None, "1 Main St", "Yuexiu", "restaurant", "Wang Ltd")
    return venues.register_venue(app.ctx, cmd, ADMIN).venue.venue_id


def check_in(app: App, who: str, where: str, at: int, client_id: str) -> None:
    import_checkins(app.ctx, [CheckInRow(where, who, at, None, client_id)], ADMIN)


def stored(app: App) -> dict[str, tuple[str, int]]:
    """client_id -> (the stored subject column, time_in), read straight from the table."""
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(
                checkins_table.c.client_id, checkins_table.c.subject_id, checkins_table.c.time_in
            )
        )
        return {r.client_id: (r.subject_id, r.time_in) for r in rows}


def key_file(app: App, day: int) -> Path:
    return Path(app.settings.keys_dir) / f"{key_name(day)}.key"


def restarted(app: App) -> CheckInKeys:
    """The day keys as a new process sees them: nothing cached."""
    return CheckInKeys(KeyStore(Path(app.settings.keys_dir), TEST_PASSPHRASE))


def purged_details(app: App) -> list[dict[str, int]]:
    entries = [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]
    return [e["details"] for e in entries if e["action"] == "retention.purged"]


def test_check_ins_store_who_under_the_key_of_their_day(app: App, clock: FixedClock) -> None:
    who, where = resident(app), venue(app)
    now = clock.now()
    today, yesterday = day_of(now), day_of(now) - DAY
    check_in(app, who, where, now - 60, "visit-today-1")
    check_in(app, who, where, now - 120, "visit-today-2")
    check_in(app, who, where, yesterday + 3600, "visit-yesterday")
    rows = stored(app)
    assert who not in {subject for subject, _ in rows.values()}  # never the pseudonym itself
    # The same person on the same day: the same value (lookups by equality); another day: another.
    assert rows["visit-today-1"][0] == rows["visit-today-2"][0] != rows["visit-yesterday"][0]
    keys = restarted(app)
    assert keys.seal(today, [who]) == [rows["visit-today-1"][0]]
    assert keys.open(yesterday, [rows["visit-yesterday"][0]]) == [who]
    assert key_file(app, today).exists()
    assert key_file(app, yesterday).exists()
    assert len(app.keyring.store.get(key_name(today))) == 32
    # The services still see the person's own visits, and tracing reads decrypt.
    mine = checkins.my_checkins(app.ctx, who)
    assert sorted(c.client_id or "" for c in mine) == sorted(rows)
    assert {c.subject_id for c in mine} == {who}
    with app.ctx.uow(read_only=True) as uow:
        there = uow.checkins.overlapping(Overlapping(where, yesterday, now, yesterday, 1))
        assert {c.subject_id for c in there} == {who}
        assert len(uow.checkins.of_subject_between(who, yesterday, today - 1)) == 1
        assert uow.checkins.count_since(who, now - 3600) == 2


def test_a_backup_taken_before_the_purge_names_nobody_after_it(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    who, where = resident(app), venue(app)
    at = clock.now() - 3600
    day = day_of(at)
    check_in(app, who, where, at, "canary-visit-01")
    # The backup: the row as a dump holds it (and, on SQLite, the whole file, by the backup API).
    ((sealed, time_in),) = stored(app).values()
    if app.engine.dialect.name == "sqlite":
        backup = tmp_path / "backup.db"
        with sqlite3.connect(str(app.engine.url.database)) as live, sqlite3.connect(backup) as copy:
            live.backup(copy)
    # While the day's key lives, the backup can be tied to the resident (that is the risk).
    assert restarted(app).open(day, [sealed]) == [who]
    assert restarted(app).pseudonyms(who, at, at) == {day: sealed}

    clock.advance((app.ctx.retention.days + 1) * DAY)
    check_in(app, who, where, clock.now() - 60, "a-visit-today-1")  # today's key exists
    report = retention.purge(app.ctx)

    assert report.counts["checkins"] == 1
    assert report.counts["checkin_keys"] == 1
    assert not key_file(app, day).exists()  # the key file is gone ...
    with pytest.raises(KeyStoreError, match="not in the key store"):  # ... the store refuses ...
        app.keyring.store.get(key_name(day))
    for keys in (app.keyring.checkin_keys, restarted(app)):  # ... cached or not
        assert keys.open(day, [sealed]) is None
        assert day not in keys.pseudonyms(who, 0, FOREVER)
        assert keys.days() == [day_of(clock.now())]
    # No key left ties the backed-up row to the resident; the services know only today's visit.
    keys = restarted(app)
    assert sealed not in keys.pseudonyms(who, 0, FOREVER).values()
    assert all(keys.open(other, [sealed]) != [who] for other in keys.days())
    (left,) = checkins.my_checkins(app.ctx, who, days=10 * app.ctx.retention.days)
    assert left.client_id == "a-visit-today-1"
    if app.engine.dialect.name == "sqlite":
        with sqlite3.connect(backup) as copy:
            kept = copy.execute("SELECT subject_id, time_in FROM checkins").fetchall()
        assert kept == [(sealed, time_in)]  # the backup still holds the row, but not its person
    entry = [e for e in purged_details(app) if e.get("checkin_keys")]
    assert entry == [{**entry[0], "checkins": 1, "checkin_keys": 1}]


def test_keys_of_days_inside_retention_stay(app: App, clock: FixedClock) -> None:
    who, where = resident(app), venue(app)
    now = clock.now()
    first, second = day_of(now) - 2 * DAY, day_of(now) - DAY
    check_in(app, who, where, first + 3600, "first-day-visit")
    check_in(app, who, where, second + 3600, "second-day-visit")
    # The cutoff falls inside the second day: the first day is wholly past retention.
    clock.set(second + 7200 + app.ctx.retention.days * DAY)
    report = retention.purge(app.ctx)
    assert (report.counts["checkins"], report.counts["checkin_keys"]) == (2, 1)
    assert not key_file(app, first).exists()
    assert key_file(app, second).exists()  # part of its day is still inside retention
    clock.set(second + DAY + app.ctx.retention.days * DAY)
    assert retention.purge(app.ctx).counts["checkin_keys"] == 1
    assert not key_file(app, second).exists()
    assert retention.purge(app.ctx).counts["checkin_keys"] == 0  # idempotent


def test_sunset_destroys_every_day_key(app: App, clock: FixedClock) -> None:
    who, where = resident(app), venue(app)
    now = clock.now()
    for back in range(3):
        check_in(app, who, where, now - back * DAY - 60, f"visit-{back}-0000")
    assert len(app.keyring.checkin_keys.days()) == 3
    attestation = retention.sunset(app.ctx)
    assert attestation.deleted["checkin_keys"] == 3
    assert list(Path(app.settings.keys_dir).glob("checkin-day-*")) == []
    assert app.keyring.checkin_keys.days() == []


def test_two_processes_make_one_key_per_day(app: App, clock: FixedClock) -> None:
    who = resident(app)
    day = day_of(clock.now())
    one, two = restarted(app), restarted(app)  # neither has seen the day's key
    assert one.seal(day, [who]) == two.seal(day, [who])
    assert not app.keyring.store.put_new(key_name(day), b"\x00" * 32)  # the first one stays
    assert one.open(day, two.seal(day, [who])) == [who]


def test_a_key_destroyed_elsewhere_is_not_used_from_memory(app: App, clock: FixedClock) -> None:
    who = resident(app)
    day = day_of(clock.now())
    mine = app.keyring.checkin_keys
    (sealed,) = mine.seal(day, [who])  # cached here
    assert restarted(app).destroy_before(day + DAY) == 1  # another process purges
    assert mine.open(day, [sealed]) is None
    assert mine.pseudonyms(who, day, day) == {}
    assert mine.seal(day, [who]) != [sealed]  # a new key, not the destroyed one


def test_only_subject_ids_are_sealed(app: App, clock: FixedClock) -> None:
    with pytest.raises(ValueError, match="32 lowercase hex"):
        app.keyring.checkin_keys.seal(day_of(clock.now()), ["not-a-subject-id"])
    assert app.keyring.checkin_keys.pseudonyms("A" * 32, 0, FOREVER) == {}


def test_migration_0008_re_encrypts_stored_check_ins(app: App, clock: FixedClock) -> None:
    who, where = resident(app), venue(app)
    now = clock.now()
    keys = app.keyring.checkin_keys
    seals = Seals(keys, app.keyring.links, app.keyring.vault_keys)
    downgrade(app.engine, "0007", seals)  # the schema before per-day keys, its table empty
    plain = [("c-old-0000000001", now - 60), ("c-old-0000000002", now - 2 * DAY)]
    with app.engine.begin() as conn:
        for checkin_id, at in plain:
            conn.execute(
                insert(checkins_table).values(
                    venue_id=where,
                    checkin_id=checkin_id,
                    subject_id=who,
                    time_in=at,
                    closes_at=at + 3600,
                    source="place_scan",
                    client_id=checkin_id,
                )
            )
    with pytest.raises(RuntimeError, match="needs the key store"):
        upgrade(app.engine)  # rows to encrypt and no keys: refused, nothing changed
    assert {s for s, _ in stored(app).values()} == {who}

    upgrade(app.engine, seals)
    rows = stored(app)
    assert who not in {s for s, _ in rows.values()}
    for checkin_id, at in plain:
        assert rows[checkin_id] == (keys.seal(at, [who])[0], at)
    assert sorted(c.checkin_id for c in checkins.my_checkins(app.ctx, who)) == [
        "c-old-0000000001",
        "c-old-0000000002",
    ]

    keys.destroy_before(day_of(now))  # the older day is shredded ...
    downgrade(app.engine, "0007", seals)  # ... so going back leaves only the newer row, in clear
    assert stored(app) == {"c-old-0000000001": (who, now - 60)}
    upgrade(app.engine, seals)
    with app.engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == head_revision()


def test_threads_share_the_day_keys_but_not_their_ciphers(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys", TEST_PASSPHRASE)
    store.create()
    keys = CheckInKeys(store)
    days = [day_of(1_795_000_000) - n * DAY for n in range(3)]
    people = [secrets.token_hex(16) for _ in range(300)]

    def round_trip(n: int) -> bool:
        day = days[n % 3]
        sealed = keys.seal(day, people)
        return keys.open(day, sealed) == people and keys.pseudonyms(people[n], day, day) == {
            day: sealed[n]
        }

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(round_trip, range(64)))
    assert keys.days() == sorted(days)
    assert len({keys.seal(day, people[:1])[0] for day in days}) == 3  # a key per day
