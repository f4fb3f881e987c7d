"""Backup drill (issue: nothing outlives its key), on SQLite and PostgreSQL.

The documented backup procedure copies the database and never the key store (docs/SECURITY.md,
"Backups"). A resident is enrolled, visits a restaurant with a case, is traced, notified,
coloured, named in a manual order, appeals and has a session. A copy of every table is taken
(and, on SQLite, of the database file) before the purge of the day of the visit, and another
before the sunset. Once the purge, then the sunset, have run and the key store has destroyed
their keys, whoever holds a copy and the key store as it is then:
- finds no name, ID number or phone number anywhere in it (sealed from the start);
- cannot open the day's rows, and finds nothing outside them that joins to them (no subject,
  case, exposure or appeal id of a visit of that day appears anywhere else);
- after the sunset, can open nothing: no vault row, no subject link, no day's rows.
Before the keys go, the same copies do open: the drill would fail if sealing did nothing.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.crypto.checkin_keys import CheckInKeys, day_of
from healthcode.adapters.crypto.keystore import KeyStore
from healthcode.adapters.crypto.links import SubjectLinks
from healthcode.adapters.crypto.vault_keys import VaultKeys
from healthcode.adapters.db.migrate import downgrade, upgrade
from healthcode.adapters.db.sealing import Seals
from healthcode.adapters.db.tables import metadata
from healthcode.adapters.db.vault_table import vault_identities
from healthcode.bootstrap import App
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.domain.audit import SYSTEM, Actor
from healthcode.domain.documents import mod11_2_check_char
from healthcode.domain.identity import DocumentType
from healthcode.services import (
    appeals,
    auth,
    checkins,
    enrolment,
    orders,
    retention,
    status,
    trace,
    venues,
)
from healthcode.services.labs import parse_csv
from tests.conftest import TEST_PASSPHRASE
from tests.support.labs import import_results as lab_import
from tests.support.staff import appoint, principal_of

DAY, HOUR, MIN = 86400, 3600, 60
NAME = "金丝雀"  # the canary: a name, an ID number and a phone number nobody else has
PHONE = "13987654321"
REASON = f"{NAME}在封控区内聚集"  # an officer's words, naming them
WHY = f"我是{NAME}，那天我不在那家餐厅，请核实。"
ID_LIKE = re.compile(r"\b(?:[0-9a-f]{32}|[a-z][0-9a-f]{16})\b")


def doc_number(i: int) -> str:
    body = f"32010219880808{i:03d}"
    return body + mod11_2_check_char(body)


@dataclass(frozen=True)
class Visit:
    canary: str
    case: str
    venue: str
    day: int  # the UTC day of the visit
    exposure: str


@dataclass(frozen=True)
class Copy:
    """A backup: every table's rows, and on SQLite the database file as copied."""

    tables: dict[str, list[dict[str, Any]]]
    file: bytes | None

    def text(self) -> str:
        return "\n".join(
            " ".join(_text(v) for v in row.values())
            for rows in self.tables.values()
            for row in rows
        )


def _text(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("latin-1")
    return str(value)


def backup(app: App, where: Path) -> Copy:
    """What the documented procedure copies: the database, never the key store."""
    tables: dict[str, list[dict[str, Any]]] = {}
    with app.engine.connect() as conn:
        for table in [*metadata.sorted_tables]:
            tables[table.name] = [dict(r._mapping) for r in conn.execute(select(table))]
    data = None
    if app.engine.dialect.name == "sqlite":
        source = sqlite3.connect(app.engine.url.database or "")
        target = sqlite3.connect(where)
        with target:
            source.backup(target)  # SQLite's online backup, as `sqlite3 db ".backup file"`
        source.close()
        target.close()
        data = where.read_bytes()
    return Copy(tables, data)


def key_store(app: App) -> KeyStore:
    """The key store as it is now, opened afresh (nothing cached from before)."""
    return KeyStore(Path(app.settings.keys_dir), TEST_PASSPHRASE)


def visit_and_trace(app: App, clock: FixedClock) -> Visit:
    canary, case = (
        enrolment.enrol_resident(
            app.ctx, enrolment.EnrolResident(name, "prc_id", doc_number(i), phone)
        ).subject_id
        for i, (name, phone) in enumerate(((NAME, PHONE), ("路人", "13700000001")))
    )
    cmd = venues.RegisterVenue("老街餐厅", None, "1 Road", "Tianhe", "restaurant", "王五")
    place = venues.register_venue(app.ctx, cmd, SYSTEM)
    day = day_of(clock.now())
    visits = [
        checkins.check_in_at_place(app.ctx, s, place.poster.payload)[0] for s in (canary, case)
    ]
    clock.advance(40 * MIN)
    for who, v in zip((canary, case), visits, strict=True):
        checkins.leave(app.ctx, who, v.venue_id, v.checkin_id)
    clock.advance(HOUR)
    csv = (
        "test_id,doc_type,doc_number,sample_time,result,lab\n"
        f"T-1,prc_id,{doc_number(1)},{clock.now() - HOUR},positive,LAB1\n"
    )
    (case_id,) = lab_import(app, parse_csv(csv)).cases_opened
    trace.trace_case(app.ctx, case_id, Actor("tracer", "t-1"))
    (evidence,) = status.status_of(app.ctx, canary).status.evidence
    return Visit(canary, case, place.venue.venue_id, day, evidence)


def order_and_appeal(app: App, who: Visit) -> None:
    health = principal_of(appoint(app, Role.HEALTH_OFFICER.value, username="ma.officer"))
    admin = principal_of(appoint(app, Role.AUTHORITY_ADMIN.value, username="gao.admin"))
    order = orders.propose_order(app.ctx, health, [who.canary], colour="red",
                                 legal_basis="idcl2013_art41", reason=REASON, days=3)  # fmt: skip
    orders.approve_order(app.ctx, admin, order.order_id)
    resident = Principal(PrincipalKind.RESIDENT, who.canary, Role.RESIDENT)
    appeals.file_appeal(app.ctx, resident, who.canary, who.exposure, WHY)
    auth.open_session(app.ctx, resident)


def assert_names_nobody_in_clear(copy: Copy, who: Visit) -> None:
    secrets_of_canary = [NAME, doc_number(0), PHONE, who.canary]
    text = copy.text()
    for secret in secrets_of_canary[:3]:
        assert secret not in text
    if copy.file is not None:  # the file itself, free pages and all
        for secret in secrets_of_canary[:3]:
            assert secret.encode() not in copy.file
    # Their pseudonym is in `subjects` (and their health facts) but in no row about a visit,
    # a status, an order, an appeal or a session.
    for table in ("checkins", "exposures", "notices", "statuses", "order_subjects", "appeals",
                  "sessions"):  # fmt: skip
        assert who.canary not in " ".join(
            " ".join(_text(v) for v in row.values()) for row in copy.tables[table]
        ), table


def _day_rows(copy: Copy, day: int) -> dict[str, list[dict[str, Any]]]:
    inside = lambda t: day <= t < day + DAY  # noqa: E731
    return {
        "checkins": [r for r in copy.tables["checkins"] if inside(r["time_in"])],
        "exposures": [r for r in copy.tables["exposures"] if inside(r["start"])],
        "notices": [r for r in copy.tables["notices"] if inside(r["day"])],
    }


def _ids(rows: list[dict[str, Any]], skip: tuple[str, ...] = ()) -> set[str]:
    return {
        found
        for row in rows
        for column, value in row.items()
        if column not in skip and not isinstance(value, bytes | memoryview)
        for found in ID_LIKE.findall(str(value))
    }


def assert_day_joins_to_nothing(copy: Copy, day: int) -> None:
    """No identifier in a row about the day's visits appears outside those rows, except the
    venue (a place, not a person) and the check-in ids the day's rows share among themselves."""
    visits = _day_rows(copy, day)
    assert all(visits.values()), "the copy holds the day's check-ins, exposures and notices"
    inside = _ids([r for rows in visits.values() for r in rows], skip=("venue_id",))
    others = [
        row
        for name, rows in copy.tables.items()
        for row in rows
        if not any(row is r for r in visits.get(name, []))
    ]
    outside = _ids(others)
    checkin_ids = {r["checkin_id"] for r in visits["checkins"]}
    assert (inside & outside) - checkin_ids == set()
    assert checkin_ids & outside == set()


@pytest.fixture
def visit(app: App, clock: FixedClock) -> Visit:
    who = visit_and_trace(app, clock)
    order_and_appeal(app, who)
    return who


def test_a_backup_taken_before_the_purge_ties_nobody_to_that_days_visits(
    app: App, clock: FixedClock, visit: Visit, tmp_path: Path
) -> None:
    copy = backup(app, tmp_path / "before-purge.db")
    assert_names_nobody_in_clear(copy, visit)
    assert_day_joins_to_nothing(copy, visit.day)
    # Control: a case id stored in clear in an exposure would be a join the check sees.
    leaked = [{**r, "level": copy.tables["cases"][0]["case_id"]} for r in copy.tables["exposures"]]
    with pytest.raises(AssertionError):
        assert_day_joins_to_nothing(Copy({**copy.tables, "exposures": leaked}, None), visit.day)
    days = CheckInKeys(key_store(app))
    day_rows = _day_rows(copy, visit.day)
    exposure = day_rows["exposures"][0]
    # Control: while the day's key exists, the copy's rows open to the canary.
    assert days.open(visit.day, [exposure["subject_id"]]) == [visit.canary]
    assert visit.canary in (
        days.open(visit.day, [r["subject_id"] for r in day_rows["checkins"]]) or []
    )

    clock.advance((app.settings.retention_days + 2) * DAY)
    report = retention.purge(app.ctx)
    assert report.counts["checkin_keys"] >= 1

    days = CheckInKeys(key_store(app))  # whoever holds the key store now
    assert visit.day not in days.days()
    for rows in day_rows.values():
        assert days.open(visit.day, [r["subject_id"] for r in rows]) is None
    assert days.open_records(visit.day, [exposure["exposure_id"], exposure["case_id"]]) is None
    for other in days.days():  # no key left opens the day's rows to anyone enrolled
        opened = set(days.open(other, [exposure["subject_id"]]) or [])
        assert opened.isdisjoint({r["subject_id"] for r in copy.tables["subjects"]})
    # The person is still enrolled: the copy's vault still opens, and still says nothing of the
    # day: the only rows about it are sealed under a key that is gone.
    vault = VaultKeys(key_store(app))
    row = next(r for r in copy.tables["vault_identities"] if r["subject_id"] == visit.canary)
    assert vault.open("name", bytes(row["name"]), visit.canary) == NAME.encode()


def test_a_backup_taken_before_the_sunset_names_nobody_after_it(
    app: App, clock: FixedClock, visit: Visit, tmp_path: Path
) -> None:
    clock.advance(2 * HOUR)
    copy = backup(app, tmp_path / "before-sunset.db")
    assert_names_nobody_in_clear(copy, visit)
    assert_day_joins_to_nothing(copy, visit.day)
    store = key_store(app)
    vault, links, days = VaultKeys(store), SubjectLinks(store), CheckInKeys(store)
    row = next(r for r in copy.tables["vault_identities"] if r["subject_id"] == visit.canary)
    statuses = [r["subject_id"] for r in copy.tables["statuses"]]
    # Control: before the sunset the copy opens with the key store.
    assert vault.open("name", bytes(row["name"]), visit.canary) == NAME.encode()
    assert visit.canary in (links.open(statuses) or [])

    retention.sunset(app.ctx)

    store = key_store(app)
    vault, links, days = VaultKeys(store), SubjectLinks(store), CheckInKeys(store)
    for r in copy.tables["vault_identities"]:
        for field in ("name", "commit_key"):
            assert vault.open(field, bytes(r[field]), r["subject_id"]) is None
        assert vault.open("phone", bytes(r["phone"])) is None
        assert vault.open(f"doc/{r['doc_type']}", bytes(r["doc_number"])) is None
    for table, column in (("statuses", "subject_id"), ("order_subjects", "subject_id"),
                          ("appeals", "subject_id"), ("sessions", "ref")):  # fmt: skip
        sealed = [
            r[column] for r in copy.tables[table] if table != "sessions" or r["kind"] == "resident"
        ]
        assert sealed, table
        assert links.open(sealed) is None, table
    assert days.days() == []
    assert days.open(visit.day, [r["subject_id"] for r in copy.tables["checkins"]]) is None
    for name in ("vault", "subject-links", "phone-tag", "ref"):
        assert not store.has(name), name
    # Nor does the database itself hold anything of them any more.
    after = backup(app, tmp_path / "after-sunset.db")
    assert after.tables["vault_identities"] == []
    assert after.tables["statuses"] == []


def test_reasons_and_operators_are_sealed_and_read_back(app: App, visit: Visit) -> None:
    """Free text about people is sealed, and the product still reads it for those entitled."""
    copy = backup(app, Path(app.settings.keys_dir).parent / "copy.db")
    stored = copy.text()
    assert REASON not in stored
    assert WHY not in stored
    assert "王五" not in stored
    (mine,) = orders.orders_of(app.ctx, visit.canary)
    assert mine.reason == REASON
    (appeal,) = appeals.appeals_of(app.ctx, visit.canary)
    assert appeal.reason == WHY
    with app.ctx.uow(read_only=True) as uow:
        found = uow.venues.get(visit.venue, with_operator=True)
    assert found is not None
    assert found.draft.operator == "王五"


def test_the_vault_finds_people_by_their_sealed_numbers(app: App, visit: Visit) -> None:
    with app.ctx.uow(read_only=True) as uow:
        assert uow.vault.find_phone("+86" + PHONE) == [visit.canary]  # stored as E.164
        assert uow.vault.find_document(DocumentType("prc_id"), doc_number(0)) == visit.canary
        identity = uow.vault.get(visit.canary)
    assert identity is not None
    assert (identity.name, identity.phone) == (NAME, "+86" + PHONE)
    with app.engine.connect() as conn:
        row = conn.execute(select(vault_identities)).first()
    assert row is not None
    assert NAME.encode() not in bytes(row.name)


def test_migration_0011_opens_and_seals_what_is_stored(app: App, visit: Visit) -> None:
    """Going back before revision 0011 opens every sealed value in place; coming forward seals
    them again, and the product reads them as before."""
    seals = Seals(app.keyring.checkin_keys, app.keyring.links, app.keyring.vault_keys)
    downgrade(app.engine, "0010", seals)
    with app.engine.connect() as conn:
        plain = {
            q: [_text(v) for v in conn.execute(text(q)).scalars()]
            for q in (
                "SELECT name FROM vault_identities",
                "SELECT subject_id FROM statuses",
                "SELECT subject_id FROM order_subjects",
                "SELECT reason FROM appeals",
                "SELECT reason FROM manual_orders",
                "SELECT ref FROM sessions WHERE kind = 'resident'",
                "SELECT subject_id FROM exposures",
                "SELECT subject_id FROM notices",
            )
        }
    assert NAME in plain["SELECT name FROM vault_identities"]
    with app.engine.connect() as conn:  # text again, as the schema before says
        names = conn.execute(text("SELECT name, phone FROM vault_identities")).all()
    assert all(isinstance(v, str) for row in names for v in row if v is not None)
    for q in ("SELECT subject_id FROM statuses", "SELECT subject_id FROM order_subjects",
              "SELECT ref FROM sessions WHERE kind = 'resident'",
              "SELECT subject_id FROM exposures", "SELECT subject_id FROM notices"):  # fmt: skip
        assert visit.canary in plain[q], q
    assert plain["SELECT reason FROM appeals"] == [WHY]
    assert plain["SELECT reason FROM manual_orders"] == [REASON]

    upgrade(app.engine, seals)
    assert NAME not in backup(app, Path(app.settings.keys_dir).parent / "again.db").text()
    assert status.status_of(app.ctx, visit.canary).status.colour == "red"
    (mine,) = orders.orders_of(app.ctx, visit.canary)
    assert mine.reason == REASON
    assert [a.reason for a in appeals.appeals_of(app.ctx, visit.canary)] == [WHY]
    with app.ctx.uow(read_only=True) as uow:
        identity = uow.vault.get(visit.canary)
        assert [e.exposure_id for e in uow.exposures.of_subject(visit.canary)] == [visit.exposure]
    assert identity is not None
    assert identity.name == NAME
