"""What a resident's check-in reads, in one statement (services/checkins.py: check_in_own).

The session, the person, the venue and the poster are point reads by primary key, joined to a
one-row select so that each may be missing; the person's check-ins of the last 24 hours (the
daily cap) are a scalar count over their stored form of each day (its day's key, as
SqlCheckIns.count_since reads them). One round trip, in the check-in's own transaction,
straight through the driver (adapters/db/prepared.py); the check-ins of one group commit read
together, in one round trip (`read_many`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, literal, or_, select

from healthcode.adapters.db.accounts import SESSION_COLUMNS, session_in
from healthcode.adapters.db.checkins import SubjectCipher
from healthcode.adapters.db.prepared import Prepared, ReadAhead, pipelined_ahead
from healthcode.adapters.db.repositories import venue_of
from healthcode.adapters.db.sealing import LinkSeal
from healthcode.adapters.db.tables import checkins, posters, sessions, subjects, venues
from healthcode.domain.checkins import DAY
from healthcode.domain.venues import Poster
from healthcode.services.ports import CheckInSight, SightAsk

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
        _count(days).label("recent"),
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


# Every read names MOST_DAYS days: a window with fewer keyed days fills the rest with a day no
# row can be in (an empty range), so that one statement's form serves every check-in and a
# batch of them goes to the database as one pipeline (adapters/db/prepared.py).
_READ = Prepared(_read(MOST_DAYS))
_NO_DAY = ("", 0, 0)  # no stored form, an empty range


class SqlCheckInSight:
    """`ahead`: the transaction's once-only reads that travel in the same round trip as the
    check-ins' own, first (the sunset's lock and marker, the trust lists' versions)."""

    def __init__(
        self,
        conn: Connection,
        links: LinkSeal,
        cipher: SubjectCipher,
        ahead: Sequence[ReadAhead] = (),
    ) -> None:
        self.conn = conn
        self.links = links
        self.cipher = cipher
        self.ahead = ahead

    def read_many(self, asks: Sequence[SightAsk]) -> list[CheckInSight | None]:
        """What each check-in reads, in order, in one round trip to the database; None for one
        whose window touches more keyed days than one statement counts (the caller then reads
        the usual way)."""
        batch, at = [], []
        for ask in asks:
            params = self._params(ask)
            at.append(None if params is None else len(batch))
            if params is not None:
                batch.append(params)
        answers = pipelined_ahead(self.conn, self.ahead, [(_READ, params) for params in batch])
        return [
            None if index is None else self._sight(ask, _READ.row(self.conn, answers[index]))
            for ask, index in zip(asks, at, strict=True)
        ]

    def _params(self, ask: SightAsk) -> dict[str, object] | None:
        forms = self.cipher.pseudonyms(ask.subject_id, ask.since, FOREVER)
        if len(forms) > MOST_DAYS:
            return None
        params: dict[str, object] = {
            "session_id": ask.session_id, "subject_id": ask.subject_id,
            "venue_id": ask.venue_id, "poster_id": ask.poster_id,
        }  # fmt: skip
        days = [(form, max(ask.since, day), day + DAY) for day, form in sorted(forms.items())]
        for i, (form, lo, hi) in enumerate(days + [_NO_DAY] * (MOST_DAYS - len(days))):
            params |= {f"p{i}": form, f"lo{i}": lo, f"hi{i}": hi}
        return params

    def _sight(self, ask: SightAsk, row: Any) -> CheckInSight:
        session = session_in(row, self.links)
        venue = venue_of(row) if row.venue_id is not None else None
        poster = None
        if row.poster_id is not None:
            poster = Poster(
                ask.venue_id, row.poster_id, row.kid, row.payload, row.issued_at,
                row.superseded_at, row.grace_until,
            )  # fmt: skip
        return CheckInSight(
            session,
            row.subject is not None and row.erased_at is None,
            venue,
            poster,
            int(row.recent),
        )
