"""What a resident's check-in reads, in one statement (services/checkins.py: check_in_own).

The session, the person, the venue and the poster are point reads by primary key, joined to a
one-row select so that each may be missing; the person's check-ins of the last 24 hours (the
daily cap) are a scalar count over their stored form of each day (its day's key, as
SqlCheckIns.count_since reads them). One round trip, in the check-in's own transaction,
straight through the driver (adapters/db/prepared.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, literal, or_, select

from healthcode.adapters.db.accounts import SESSION_COLUMNS, session_in
from healthcode.adapters.db.checkins import SubjectCipher
from healthcode.adapters.db.prepared import Prepared
from healthcode.adapters.db.repositories import venue_of
from healthcode.adapters.db.sealing import LinkSeal
from healthcode.adapters.db.tables import checkins, posters, sessions, subjects, venues
from healthcode.domain.checkins import DAY
from healthcode.domain.venues import Poster
from healthcode.services.ports import CheckInSight

MOST_DAYS = 3  # the days a 24-hour window can touch that have keys (today, yesterday, tomorrow)
FOREVER = 2**62


def _count(days: int) -> Any:
    """Check-ins since :since whose stored subject is the person's form for the row's day."""
    return (
        select(func.count())
        .select_from(checkins)
        .where(
            or_(
                *[
                    and_(
                        checkins.c.subject_id == bindparam(f"p{i}"),
                        checkins.c.time_in >= bindparam(f"lo{i}"),
                        checkins.c.time_in < bindparam(f"hi{i}"),
                    )
                    for i in range(days)
                ]
            )
        )
        .scalar_subquery()
    )


def _read(days: int) -> Any:
    one = select(literal(1).label("one")).subquery()
    return select(
        *SESSION_COLUMNS,
        subjects.c.subject_id.label("subject"), subjects.c.erased_at,
        venues.c.venue_id, venues.c.name_zh, venues.c.name_en, venues.c.address,
        venues.c.district, venues.c.venue_type, venues.c.operator, venues.c.created_at,
        posters.c.poster_id, posters.c.kid, posters.c.payload, posters.c.issued_at,
        posters.c.superseded_at, posters.c.grace_until,
        (_count(days) if days else literal(0)).label("recent"),
    ).select_from(
        one.outerjoin(sessions, sessions.c.session_id == bindparam("session_id"))
        .outerjoin(subjects, subjects.c.subject_id == bindparam("subject_id"))
        .outerjoin(venues, venues.c.venue_id == bindparam("venue_id"))
        .outerjoin(
            posters,
            and_(
                posters.c.venue_id == bindparam("venue_id"),
                posters.c.poster_id == bindparam("poster_id"),
            ),
        )
    )  # fmt: skip


_READS = {days: Prepared(_read(days)) for days in range(MOST_DAYS + 1)}


class SqlCheckInSight:
    def __init__(self, conn: Connection, links: LinkSeal, cipher: SubjectCipher) -> None:
        self.conn = conn
        self.links = links
        self.cipher = cipher

    def read(
        self, session_id: str, subject_id: str, venue_id: str, poster_id: str, since: int
    ) -> CheckInSight | None:
        """None when the window touches more keyed days than one statement counts (the
        caller then reads the usual way)."""
        forms = self.cipher.pseudonyms(subject_id, since, FOREVER)
        if len(forms) > MOST_DAYS:
            return None
        params: dict[str, object] = {
            "session_id": session_id, "subject_id": subject_id, "venue_id": venue_id,
            "poster_id": poster_id,
        }  # fmt: skip
        for i, (day, form) in enumerate(sorted(forms.items())):
            params |= {f"p{i}": form, f"lo{i}": max(since, day), f"hi{i}": day + DAY}
        row = _READS[len(forms)].one(self.conn, params)
        session = session_in(row, self.links)
        venue = venue_of(row) if row.venue_id is not None else None
        poster = None
        if row.poster_id is not None:
            poster = Poster(
                venue_id, row.poster_id, row.kid, row.payload, row.issued_at, row.superseded_at,
                row.grace_until,
            )  # fmt: skip
        return CheckInSight(
            session,
            row.subject is not None and row.erased_at is None,
            venue,
            poster,
            int(row.recent),
        )
