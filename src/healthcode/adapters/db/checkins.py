"""The check-in repository (venue-scoped table, see tables.checkins)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select, update

from healthcode.adapters.db.repositories import as_row, from_row
from healthcode.adapters.db.tables import checkins
from healthcode.domain.checkins import CheckIn, CheckInSource


def _checkin(row: Row[Any]) -> CheckIn:
    found = from_row(CheckIn, row)
    return replace(found, source=CheckInSource(found.source))


class SqlCheckIns:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, checkin: CheckIn) -> None:
        self.conn.execute(
            insert(checkins).values(**{**as_row(checkin), "source": checkin.source.value})
        )

    def get(self, venue_id: str, checkin_id: str) -> CheckIn | None:
        row = self.conn.execute(
            select(checkins).where(
                and_(checkins.c.venue_id == venue_id, checkins.c.checkin_id == checkin_id)
            )
        ).first()
        return _checkin(row) if row else None

    def set_time_out(self, checkin: CheckIn, time_out: int) -> None:
        self.conn.execute(
            update(checkins)
            .where(
                and_(
                    checkins.c.venue_id == checkin.venue_id,
                    checkins.c.checkin_id == checkin.checkin_id,
                )
            )
            .values(time_out=time_out)
        )

    def client_ids(self, venue_id: str, client_ids: list[str]) -> set[str]:
        """Which of these offline scan ids this venue has already uploaded."""
        found: set[str] = set()
        for start in range(0, len(client_ids), 500):
            rows = self.conn.execute(
                select(checkins.c.client_id).where(
                    and_(
                        checkins.c.venue_id == venue_id,
                        checkins.c.client_id.in_(client_ids[start : start + 500]),
                    )
                )
            )
            found.update(r.client_id for r in rows)
        return found

    def count_since(self, subject_id: str, since: int) -> int:
        return int(
            self.conn.execute(
                select(func.count())
                .select_from(checkins)
                .where(and_(checkins.c.subject_id == subject_id, checkins.c.time_in >= since))
            ).scalar_one()
        )

    def at_venue_between(self, venue_id: str, first: int, last: int) -> list[CheckIn]:
        """Visits that started in [first, last]: a range scan on (venue_id, time_in)."""
        rows = self.conn.execute(
            select(checkins).where(
                and_(
                    checkins.c.venue_id == venue_id,
                    checkins.c.time_in >= first,
                    checkins.c.time_in <= last,
                )
            )
        )
        return [_checkin(r) for r in rows]

    def of_subject_between(self, subject_id: str, first: int, last: int) -> list[CheckIn]:
        rows = self.conn.execute(
            select(checkins)
            .where(
                and_(
                    checkins.c.subject_id == subject_id,
                    checkins.c.time_in >= first,
                    checkins.c.time_in <= last,
                )
            )
            .order_by(checkins.c.time_in)
        )
        return [_checkin(r) for r in rows]

    def of_subject(self, subject_id: str, since: int) -> list[CheckIn]:
        rows = self.conn.execute(
            select(checkins)
            .where(and_(checkins.c.subject_id == subject_id, checkins.c.time_in >= since))
            .order_by(checkins.c.time_in.desc())
        )
        return [_checkin(r) for r in rows]
