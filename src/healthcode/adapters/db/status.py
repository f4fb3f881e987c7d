"""Rule sets, the last derived status of each person, and their notices.

A status stores its subject sealed under the subject-links key, a notice its subject and its
exposure under the key of the day of the visit (adapters/db/sealing.py)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select, union, update
from sqlalchemy.dialects import postgresql, sqlite

from healthcode.adapters.db.bulk import insert_rows
from healthcode.adapters.db.health_facts import SqlExposures, made_key
from healthcode.adapters.db.repositories import as_row, each_in, from_row
from healthcode.adapters.db.sealing import DayKey, DaySeal, LinkSeal
from healthcode.adapters.db.tables import (
    cases,
    health_facts,
    lab_results,
    notices,
    rulesets,
    status_queue,
    statuses,
    subjects,
)
from healthcode.adapters.status_view import QUEUED_STATE, State
from healthcode.services.ports import Notice, ShownStatus, StoredRuleSet, StoredStatus


class SqlRuleSets:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, stored: StoredRuleSet) -> None:
        self.conn.execute(insert(rulesets).values(**as_row(stored)))

    def get(self, set_id: str, version: int) -> StoredRuleSet | None:
        row = self.conn.execute(
            select(rulesets).where(and_(rulesets.c.set_id == set_id, rulesets.c.version == version))
        ).first()
        return from_row(StoredRuleSet, row) if row else None

    def all(self) -> list[StoredRuleSet]:
        rows = self.conn.execute(select(rulesets).order_by(rulesets.c.set_id, rulesets.c.version))
        return [from_row(StoredRuleSet, r) for r in rows]

    def active(self) -> StoredRuleSet | None:
        row = self.conn.execute(
            select(rulesets)
            .where(rulesets.c.activated_at.is_not(None))
            .order_by(rulesets.c.activated_at.desc(), rulesets.c.loaded_at.desc())
            .limit(1)
        ).first()
        return from_row(StoredRuleSet, row) if row else None

    def activate(self, set_id: str, version: int, now: int) -> None:
        # Later activations win; `now` may repeat within a second, so step past the latest.
        latest = self.conn.execute(select(func.max(rulesets.c.activated_at))).scalar()
        at = now if latest is None else max(now, latest + 1)
        self.conn.execute(
            update(rulesets)
            .where(and_(rulesets.c.set_id == set_id, rulesets.c.version == version))
            .values(activated_at=at)
        )


class SqlStatuses:
    def __init__(
        self, conn: Connection, links: LinkSeal, days: DaySeal, touched: set[str] | None = None
    ) -> None:
        self.conn = conn
        self.links = links
        self.days = days
        self.touched = touched  # whom this transaction changes, for the status read model
        self.held: set[str] = set()  # whose rows this transaction has locked (hold)

    def _opened(self, rows: list[Row[Any]]) -> list[StoredStatus]:
        people = self.links.open([r.subject_id for r in rows])
        if people is None:  # the key is gone (sunset): nobody's
            return []
        return [
            replace(from_row(StoredStatus, r), subject_id=who)
            for r, who in zip(rows, people, strict=True)
        ]

    def hold(self, subject_ids: list[str]) -> None:
        """PostgreSQL: lock the people's subject rows, in order (no deadlock between two
        holders), so that a second re-derivation waits and then reads the first one's facts.
        SQLite: every writer already holds the database's write lock. A lock lasts until the
        transaction ends, so people held already in this one are not locked again."""
        if self.conn.dialect.name != "postgresql":
            return
        fresh = sorted(set(subject_ids) - self.held)
        self.held.update(fresh)
        for where in each_in(self.conn, subjects.c.subject_id, fresh):
            self.conn.execute(
                select(subjects.c.subject_id)
                .where(where)
                .order_by(subjects.c.subject_id)
                .with_for_update()
            ).all()

    def get(self, subject_id: str) -> StoredStatus | None:
        sealed = self.links.find_one(subject_id)
        if sealed is None:
            return None
        row = self.conn.execute(select(statuses).where(statuses.c.subject_id == sealed)).first()
        return replace(from_row(StoredStatus, row), subject_id=subject_id) if row else None

    def get_many(self, subject_ids: list[str]) -> dict[str, StoredStatus]:
        sealed = list(self.links.find(subject_ids).values())
        found: dict[str, StoredStatus] = {}
        for where in each_in(self.conn, statuses.c.subject_id, sealed):
            rows = list(self.conn.execute(select(statuses).where(where)))
            found.update((s.subject_id, s) for s in self._opened(rows))
        return found

    def _row(self, status: StoredStatus, sealed: str) -> dict[str, Any]:
        return {**as_row(status), "subject_id": sealed}

    def put(self, status: StoredStatus) -> None:
        self.put_many([status])

    def put_many(self, found: list[StoredStatus]) -> None:
        """Insert or replace these statuses: one upsert statement for all of them."""
        if not found:
            return
        if self.touched is not None:
            self.touched.update(s.subject_id for s in found)
        sealed = self.links.seal([s.subject_id for s in found])
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(statuses)
        columns = [c.name for c in statuses.c if c.name != "subject_id"]
        stmt = stmt.on_conflict_do_update(
            index_elements=[statuses.c.subject_id],
            set_={name: stmt.excluded[name] for name in columns},
        )
        self.conn.execute(stmt, [self._row(s, v) for s, v in zip(found, sealed, strict=True)])

    def shown(self, subject_ids: list[str]) -> dict[str, State]:
        """What the status read model holds for these people (adapters/status_view.py): their
        stored status as code display reads it, None where none is stored, QUEUED_STATE where
        colour work is queued for them."""
        sealed = self.links.find(subject_ids)
        who = {v: k for k, v in sealed.items()}
        found: dict[str, State] = dict.fromkeys(subject_ids)
        for where in each_in(self.conn, statuses.c.subject_id, list(who)):
            query = select(statuses.c.subject_id, statuses.c.colour, statuses.c.rule_ref,
                           statuses.c.until, statuses.c.changed_at).where(where)  # fmt: skip
            for r in self.conn.execute(query):
                found[who[r.subject_id]] = ShownStatus(r.colour, r.rule_ref, r.until,
                                                       r.changed_at)  # fmt: skip
        for where in each_in(self.conn, status_queue.c.subject_id, list(who)):
            query = select(status_queue.c.subject_id).where(where).distinct()
            for r in self.conn.execute(query):
                found[who[r.subject_id]] = QUEUED_STATE
        return found

    def _subjects(self, query: Any) -> list[str]:
        rows = list(self.conn.execute(query))
        return self.links.open([r.subject_id for r in rows]) or []

    def expiring(self, now: int, limit: int) -> list[str]:
        return self._subjects(
            select(statuses.c.subject_id)
            .where(and_(statuses.c.until.is_not(None), statuses.c.until <= now))
            .order_by(statuses.c.until)
            .limit(limit)
        )

    def not_green(self) -> list[str]:
        return self._subjects(select(statuses.c.subject_id).where(statuses.c.colour != "green"))

    def with_facts(self) -> list[str]:
        sources = [select(t.c.subject_id) for t in (lab_results, cases, health_facts)]
        found = {r[0] for r in self.conn.execute(union(*sources))}
        found |= SqlExposures(self.conn, self.days).subjects()
        return sorted(found)

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute(
            select(statuses.c.colour, func.count()).group_by(statuses.c.colour)
        )
        return {r[0]: r[1] for r in rows}


class SqlNotices:
    def __init__(self, conn: Connection, days: DaySeal) -> None:
        self.conn = conn
        self.days = days

    def add(self, found: list[Notice]) -> None:
        keys: dict[int, DayKey] = {}
        rows = []
        for n in found:
            key = keys.get(n.day) or keys.setdefault(n.day, made_key(self.days, n.day))
            (subject,) = key.seal([n.subject_id])
            (exposure,) = key.seal_records([n.exposure_id])
            rows.append({**as_row(n), "subject_id": subject, "exposure_id": exposure})
        insert_rows(self.conn, notices, rows)

    def of_subject(self, subject_id: str) -> list[Notice]:
        keys = self.days.keys()
        values = {v: day for day, key in keys.items() for v in key.find([subject_id])}
        if not values:
            return []
        rows = self.conn.execute(
            select(notices)
            .where(notices.c.subject_id.in_(sorted(values)))
            .order_by(notices.c.created_at.desc(), notices.c.notice_id)
        )
        found = []
        for r in rows:
            day = values[r.subject_id]
            if r.day - r.day % 86400 != day:
                continue
            (exposure_id,) = keys[day].open_records([r.exposure_id])
            if exposure_id is None:
                continue
            found.append(replace(from_row(Notice, r), subject_id=subject_id,
                                 exposure_id=exposure_id))  # fmt: skip
        return found

    def on_days(self, subjects_by_day: Mapping[int, Collection[str]]) -> list[Notice]:
        """One query for every day: each day's people sealed under that day's key, and a row
        kept only on the day its value was sealed for (a query per day cost a round trip and
        an array each, fourteen for a trace's fortnight)."""
        sealed: dict[str, tuple[int, str, DayKey]] = {}
        for day, people in sorted(subjects_by_day.items()):
            key = self.days.key(day)
            wanted = sorted(set(people))
            if key is None or not wanted:
                continue  # no key for the day: no notice of it can be read, nor was made
            for value, person in zip(key.find(wanted), wanted, strict=True):
                sealed[value] = (day, person, key)
        found = []
        for among in each_in(self.conn, notices.c.subject_id, sorted(sealed)):
            for r in self.conn.execute(select(notices).where(among)):
                day, person, key = sealed[r.subject_id]
                if r.day != day:
                    continue
                (exposure_id,) = key.open_records([r.exposure_id])
                if exposure_id is None:
                    continue
                found.append(replace(from_row(Notice, r), subject_id=person,
                                     exposure_id=exposure_id))  # fmt: skip
        return found

    def sent_since(self, since: int) -> list[tuple[int, str]]:
        keys = self.days.keys()
        rows = self.conn.execute(
            select(notices.c.day, notices.c.exposure_id, notices.c.created_at).where(
                notices.c.created_at >= since
            )
        )
        found = []
        for r in rows:
            key = keys.get(r.day - r.day % 86400)
            if key is None:
                continue
            (exposure_id,) = key.open_records([r.exposure_id])
            if exposure_id is not None:
                found.append((int(r.created_at), exposure_id))
        return found

    def raise_to(self, notice: Notice) -> None:
        (exposure,) = made_key(self.days, notice.day).seal_records([notice.exposure_id])
        self.conn.execute(
            notices.update()
            .where(notices.c.notice_id == notice.notice_id)
            .values(rule_ref=notice.rule_ref, exposure_id=exposure, created_at=notice.created_at)
        )
