"""Rule sets, the last derived status of each person, and their notices."""

from __future__ import annotations

from sqlalchemy import Connection, and_, func, insert, select, union, update
from sqlalchemy.dialects import postgresql, sqlite

from healthcode.adapters.db.repositories import as_row, chunks, from_row
from healthcode.adapters.db.tables import (
    cases,
    exposures,
    health_facts,
    lab_results,
    notices,
    rulesets,
    statuses,
)
from healthcode.services.ports import Notice, StoredRuleSet, StoredStatus


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
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, subject_id: str) -> StoredStatus | None:
        row = self.conn.execute(select(statuses).where(statuses.c.subject_id == subject_id)).first()
        return from_row(StoredStatus, row) if row else None

    def get_many(self, subject_ids: list[str]) -> dict[str, StoredStatus]:
        found: dict[str, StoredStatus] = {}
        for chunk in chunks(subject_ids):
            rows = self.conn.execute(select(statuses).where(statuses.c.subject_id.in_(chunk)))
            found.update((r.subject_id, from_row(StoredStatus, r)) for r in rows)
        return found

    def put(self, status: StoredStatus) -> None:
        values = as_row(status)
        done = self.conn.execute(
            update(statuses).where(statuses.c.subject_id == status.subject_id).values(**values)
        )
        if done.rowcount == 0:
            self.conn.execute(insert(statuses).values(**values))

    def put_many(self, found: list[StoredStatus]) -> None:
        """Insert or replace these statuses: one upsert statement for all of them."""
        if not found:
            return
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(statuses)
        columns = [c.name for c in statuses.c if c.name != "subject_id"]
        stmt = stmt.on_conflict_do_update(
            index_elements=[statuses.c.subject_id],
            set_={name: stmt.excluded[name] for name in columns},
        )
        self.conn.execute(stmt, [as_row(s) for s in found])

    def expiring(self, now: int, limit: int) -> list[str]:
        rows = self.conn.execute(
            select(statuses.c.subject_id)
            .where(and_(statuses.c.until.is_not(None), statuses.c.until <= now))
            .order_by(statuses.c.until)
            .limit(limit)
        )
        return [r.subject_id for r in rows]

    def not_green(self) -> list[str]:
        rows = self.conn.execute(select(statuses.c.subject_id).where(statuses.c.colour != "green"))
        return [r.subject_id for r in rows]

    def with_facts(self) -> list[str]:
        sources = [select(t.c.subject_id) for t in (lab_results, cases, exposures, health_facts)]
        rows = self.conn.execute(union(*sources))
        return [r[0] for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute(
            select(statuses.c.colour, func.count()).group_by(statuses.c.colour)
        )
        return {r[0]: r[1] for r in rows}


class SqlNotices:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, found: list[Notice]) -> None:
        if found:
            self.conn.execute(insert(notices), [as_row(n) for n in found])

    def of_subject(self, subject_id: str) -> list[Notice]:
        rows = self.conn.execute(
            select(notices)
            .where(notices.c.subject_id == subject_id)
            .order_by(notices.c.created_at.desc(), notices.c.notice_id)
        )
        return [from_row(Notice, r) for r in rows]
