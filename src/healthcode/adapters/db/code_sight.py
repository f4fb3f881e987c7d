"""What showing a code needs, in one statement (services/codes.py: show_own_code).

The session, the person, their stored status and their sealed name are point reads by primary
key, joined to a one-row select so that each may be missing; the active rule set, the city's
key generation and whether colour work is queued for the person are scalar subqueries. One
round trip to the database, in the caller's read transaction, instead of one per table, run
straight through the driver (adapters/db/prepared.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, bindparam, exists, func, literal, select

from healthcode.adapters.db.accounts import SESSION_COLUMNS, session_in
from healthcode.adapters.db.prepared import Prepared
from healthcode.adapters.db.sealing import LinkSeal
from healthcode.adapters.db.tables import (
    rulesets,
    sessions,
    status_queue,
    statuses,
    subjects,
    trust_lists,
)
from healthcode.adapters.db.vault import SqlVault
from healthcode.services.ports import CodeSight, StoredStatus


def _active(column: Any) -> Any:
    return (
        select(column)
        .where(rulesets.c.activated_at.is_not(None))
        .order_by(rulesets.c.activated_at.desc(), rulesets.c.loaded_at.desc())
        .limit(1)
        .scalar_subquery()
    )


_ONE = select(literal(1).label("one")).subquery()
_READ = select(
    *SESSION_COLUMNS,
    subjects.c.subject_id.label("subject"), subjects.c.erased_at,
    statuses.c.subject_id.label("status_of"), statuses.c.colour, statuses.c.rule_ref,
    statuses.c.evidence, statuses.c.since, statuses.c.until, statuses.c.changed_at,
    SqlVault.name_query(bindparam("subject_id")).label("name"),
    _active(rulesets.c.set_id).label("set_id"),
    _active(rulesets.c.version).label("set_version"),
    select(func.max(trust_lists.c.version))
    .where(and_(trust_lists.c.city == bindparam("city"), trust_lists.c.source == "ours"))
    .scalar_subquery()
    .label("keys_version"),
    exists().where(status_queue.c.subject_id == bindparam("sealed")).label("queued"),
).select_from(
    _ONE.outerjoin(sessions, sessions.c.session_id == bindparam("session_id"))
    .outerjoin(subjects, subjects.c.subject_id == bindparam("subject_id"))
    .outerjoin(statuses, statuses.c.subject_id == bindparam("sealed"))
)  # fmt: skip
_PREPARED = Prepared(_READ)


class SqlCodeSight:
    def __init__(self, conn: Connection, links: LinkSeal, vault: SqlVault) -> None:
        self.conn = conn
        self.links = links
        self.vault = vault

    def read(self, session_id: str, subject_id: str, city: str) -> CodeSight:
        sealed = self.links.find_one(subject_id) or ""  # "" matches no row: the key is gone
        row = _PREPARED.one(
            self.conn,
            {"session_id": session_id, "subject_id": subject_id, "sealed": sealed, "city": city},
        )
        session = session_in(row, self.links)
        status = None
        if row.status_of is not None:
            status = StoredStatus(
                subject_id, row.colour, row.rule_ref, row.evidence, row.since, row.until,
                row.changed_at,
            )  # fmt: skip
        return CodeSight(
            session,
            row.subject is not None and row.erased_at is None,
            status,
            self.vault.open_name(subject_id, row.name),
            (row.set_id, row.set_version) if row.set_id is not None else None,
            row.keys_version or 0,
            bool(row.queued),
        )
