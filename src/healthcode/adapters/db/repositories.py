"""Repositories over SQLAlchemy Core: subjects, venues and posters, keys, trust lists.

Each works on the connection of the current unit of work, so nothing here commits by itself.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import fields, replace
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Row,
    String,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.sqltypes import NullType

from healthcode.adapters.db.prepared import Prepared
from healthcode.adapters.db.sealing import Seals
from healthcode.adapters.db.tables import (
    guardianships,
    posters,
    signing_keys,
    subjects,
    trust_lists,
    venues,
)
from healthcode.domain.keys import KeyUse, SigningKey
from healthcode.domain.venues import Poster, VenueDraft, VenueType
from healthcode.services.ports import StoredTrustList, Subject, Venue

T = TypeVar("T")


_NAMES: dict[type, tuple[str, ...]] = {}


def as_row(obj: Any) -> dict[str, Any]:
    """A dataclass whose field names are its table's column names, as row values (the names
    read once per class: `fields` costs more than the row, and a trace makes thousands)."""
    names = _NAMES.get(type(obj))
    if names is None:
        names = _NAMES[type(obj)] = tuple(f.name for f in fields(obj))
    return {name: getattr(obj, name) for name in names}


def chunks(items: list[str], size: int = 500) -> list[list[str]]:
    """Slices short enough for an IN (...) list on every database."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def each_in(conn: Connection, column: Any, values: Sequence[Any]) -> Iterator[Any]:
    """Conditions "`column` is one of `values`" (strings or integers), to run one query each:
    one condition, the values as a single parameter, compiled once whatever their number (an
    IN list of thousands cost more to render and to parse than to run). PostgreSQL: `= ANY`
    of an array. SQLite: IN the elements of a JSON array (`json_each`), which it answers by
    searching the column's index once per value, as an IN list; 500 values as an IN list took
    SQLAlchemy longer to compile than SQLite to answer."""
    if not values:
        return
    if conn.dialect.name == "postgresql":
        # An untyped parameter cast to the array type: PostgreSQL reads the text as that array
        # once. A typed text parameter would be cast per row in a generic plan's scan.
        element = Text() if isinstance(column.type, String) else column.type
        listed = bindparam(None, pg_array(values), type_=NullType())
        yield column == any_(cast(listed, ARRAY(element)))
        return
    yield column.in_(select(_json_rows(list(values)).c.value))


def pg_array(values: Iterable[str | int]) -> str:
    """PostgreSQL's text form of an array of strings or integers, made in one join: psycopg
    dumps a list element by element in Python (0.8 ms for 500 ids, four times what the whole
    query took given this text)."""
    values = list(values)
    if all(type(v) is str for v in values):
        # Sealed values and ids hold neither quotes nor backslashes: joined in C, checked once.
        body = '","'.join(values)  # type: ignore[arg-type]
        if "\\" not in body and body.count('"') == 2 * (len(values) - 1):
            return '{"' + body + '"}'
    quoted = [
        str(v) if isinstance(v, int) else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for v in values
    ]
    return "{" + ",".join(quoted) + "}"


def _json_rows(values: list[Any]) -> Any:
    """SQLite's rows of one JSON array parameter (`json_each`: its elements as `value`)."""
    return func.json_each(bindparam(None, json.dumps(values))).table_valued("value")


def keys_in(conn: Connection, columns: Sequence[Any], keys: Sequence[Sequence[Any]]) -> Any:
    """`columns` equal to one of `keys` (a composite key each), as a WHERE clause that finds
    them by the index. SQLite answers a row-value IN list by scanning the whole table (98 ms at
    900,000 rows), but a row-value IN the rows of one JSON array parameter (`json_each`) by a
    search of the index per key, compiled once; elsewhere the row-value IN list. Callers pass
    a few hundred keys at a time."""
    if conn.dialect.name != "sqlite":
        return tuple_(*columns).in_(list(keys))
    rows = _json_rows([list(key) for key in keys])
    parts = [func.json_extract(rows.c.value, f"$[{i}]") for i in range(len(columns))]
    return tuple_(*columns).in_(select(*parts))


def tests_present(
    conn: Connection, table: Table, keys: list[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of these (lab, test id) pairs `table` holds, asked 200 pairs at a time."""
    found: set[tuple[str, str]] = set()
    for start in range(0, len(keys), 200):
        rows = conn.execute(
            select(table.c.lab, table.c.test_id).where(
                keys_in(conn, (table.c.lab, table.c.test_id), keys[start : start + 200])
            )
        )
        found.update((r.lab, r.test_id) for r in rows)
    return found


def from_row(cls: type[T], row: Row[Any]) -> T:
    """The inverse of as_row: build the dataclass from the columns of the same names."""
    mapping = row._mapping
    return cls(**{f.name: mapping[f.name] for f in fields(cls)})  # type: ignore[arg-type]


# Statements on the check-in path, built once: building a statement (and its cache key) costs
# more than running it; SQLAlchemy caches the compiled form per statement (bench/ingest.py).
_SUBJECT = select(subjects).where(subjects.c.subject_id == bindparam("subject_id"))
_VENUE = select(venues).where(venues.c.venue_id == bindparam("venue_id"))
_VENUE_TYPES = select(venues.c.venue_id, venues.c.venue_type).where(
    venues.c.venue_id.in_(bindparam("venue_ids", expanding=True))
)
VENUE_CHUNK = 900  # venue ids per query (SQLite allowed at most 999 parameters until 3.32)
_POSTER = select(posters).where(
    and_(posters.c.venue_id == bindparam("venue_id"), posters.c.poster_id == bindparam("poster_id"))
)


class SqlSubjects:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, subject: Subject) -> None:
        self.conn.execute(insert(subjects).values(**as_row(subject)))

    def get(self, subject_id: str) -> Subject | None:
        row = self.conn.execute(_SUBJECT, {"subject_id": subject_id}).first()
        return from_row(Subject, row) if row else None

    def add_guardianship(
        self, guardian_id: str, dependant_id: str, relation: str, now: int
    ) -> None:
        self.conn.execute(
            insert(guardianships).values(
                guardian_id=guardian_id,
                dependant_id=dependant_id,
                relation=relation,
                created_at=now,
            )
        )

    def dependants_of(self, guardian_id: str) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            select(guardianships.c.dependant_id, guardianships.c.relation)
            .where(guardianships.c.guardian_id == guardian_id)
            .order_by(guardianships.c.created_at, guardianships.c.dependant_id)
        )
        return [(r.dependant_id, r.relation) for r in rows]

    def is_guardian_of(self, guardian_id: str, dependant_id: str) -> bool:
        return (
            self.conn.execute(
                select(func.count())
                .select_from(guardianships)
                .where(
                    and_(
                        guardianships.c.guardian_id == guardian_id,
                        guardianships.c.dependant_id == dependant_id,
                    )
                )
            ).scalar_one()
            > 0
        )


OPERATOR = "venue_operator"


def venue_of(row: Any, operator: str = "") -> Venue:
    """A venue from a row with the venues table's columns (its operator left out unless given:
    it is sealed, and only the venue's own page opens it)."""
    draft = VenueDraft(
        row.name_zh, row.name_en, row.address, row.district, VenueType(row.venue_type), operator
    )
    return Venue(row.venue_id, draft, row.created_at)


class SqlVenues:
    """Venues and their posters. A venue's operator may be a person: their name is sealed
    under the vault key (adapters/db/sealing.py), which sunset destroys."""

    def __init__(self, conn: Connection, seals: Seals) -> None:
        self.conn = conn
        self.seals = seals

    def add(self, venue: Venue) -> None:
        d = venue.draft
        self.conn.execute(
            insert(venues).values(
                venue_id=venue.venue_id,
                name_zh=d.name_zh,
                name_en=d.name_en,
                address=d.address,
                district=d.district,
                venue_type=d.venue_type.value,
                operator=self.seals.seal_text(OPERATOR, venue.venue_id, d.operator),
                created_at=venue.created_at,
            )
        )

    def get(self, venue_id: str, *, with_operator: bool = False) -> Venue | None:
        row = self.conn.execute(_VENUE, {"venue_id": venue_id}).first()
        if row is None:
            return None
        if not with_operator:
            return venue_of(row)
        return venue_of(row, self.seals.open_text(OPERATOR, row.venue_id, row.operator))

    def types(self, venue_ids: Collection[str]) -> dict[str, VenueType]:
        wanted = sorted(set(venue_ids))
        found: dict[str, VenueType] = {}
        for start in range(0, len(wanted), VENUE_CHUNK):
            chunk = wanted[start : start + VENUE_CHUNK]
            for venue_id, kind in self.conn.execute(_VENUE_TYPES, {"venue_ids": chunk}):
                found[venue_id] = VenueType(kind)
        return found

    def add_poster(self, poster: Poster) -> None:
        values = as_row(poster)
        del values["superseded_at"], values["grace_until"]  # a new poster is current
        self.conn.execute(insert(posters).values(**values))

    def get_poster(self, venue_id: str, poster_id: str) -> Poster | None:
        row = self.conn.execute(_POSTER, {"venue_id": venue_id, "poster_id": poster_id}).first()
        return from_row(Poster, row) if row else None

    def current_poster(self, venue_id: str) -> Poster | None:
        row = self.conn.execute(
            select(posters).where(
                and_(posters.c.venue_id == venue_id, posters.c.superseded_at.is_(None))
            )
        ).first()
        return from_row(Poster, row) if row else None

    def supersede_poster(self, poster: Poster) -> None:
        self.conn.execute(
            update(posters)
            .where(
                and_(posters.c.venue_id == poster.venue_id, posters.c.poster_id == poster.poster_id)
            )
            .values(superseded_at=poster.superseded_at, grace_until=poster.grace_until)
        )


class SqlKeys:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @staticmethod
    def _values(key: SigningKey) -> dict[str, Any]:
        return {**as_row(key), "use": key.use.value}

    def add(self, key: SigningKey) -> None:
        self.conn.execute(insert(signing_keys).values(**self._values(key)))

    def save(self, key: SigningKey) -> None:
        self.conn.execute(
            update(signing_keys).where(signing_keys.c.kid == key.kid).values(**self._values(key))
        )

    @staticmethod
    def _key(row: Row[Any]) -> SigningKey:
        key = from_row(SigningKey, row)
        return replace(key, use=KeyUse(key.use), public_key=bytes(key.public_key))

    def get(self, kid: str) -> SigningKey | None:
        row = self.conn.execute(select(signing_keys).where(signing_keys.c.kid == kid)).first()
        return self._key(row) if row else None

    def all(self) -> list[SigningKey]:
        rows = self.conn.execute(
            select(signing_keys).order_by(signing_keys.c.created_at, signing_keys.c.kid)
        )
        return [self._key(r) for r in rows]


# Built once: the verify path asks for these on every request, and building a statement with a
# subquery costs far more than running it (SQLAlchemy caches the compiled form per statement).
_NEWEST = (
    select(trust_lists.c.city, func.max(trust_lists.c.version).label("version"))
    .group_by(trust_lists.c.city)
    .subquery()
)
_NEWEST_JOIN = and_(
    trust_lists.c.city == _NEWEST.c.city, trust_lists.c.version == _NEWEST.c.version
)
_LATEST_VERSIONS = Prepared(
    select(trust_lists.c.city, trust_lists.c.version, trust_lists.c.anchor_fingerprint)
    .join(_NEWEST, _NEWEST_JOIN)
    .order_by(trust_lists.c.city)
)

_LATEST_ALL = select(trust_lists).join(_NEWEST, _NEWEST_JOIN).order_by(trust_lists.c.city)


class SqlTrustLists:
    """Trust lists. The latest versions are read once per transaction (the check-ins committed
    together each verify a poster against them), again after this transaction adds a list."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._versions: list[tuple[str, int, str]] | None = None

    def add(self, stored: StoredTrustList) -> None:
        self._versions = None
        self.conn.execute(insert(trust_lists).values(**as_row(stored)))

    def latest(self, city: str) -> StoredTrustList | None:
        row = self.conn.execute(
            select(trust_lists)
            .where(trust_lists.c.city == city)
            .order_by(trust_lists.c.version.desc())
            .limit(1)
        ).first()
        return from_row(StoredTrustList, row) if row else None

    def latest_versions(self) -> list[tuple[str, int, str]]:
        if self._versions is None:
            self.took([_LATEST_VERSIONS.rows(self.conn, {})])
        assert self._versions is not None  # noqa: S101 - `took` read them
        return list(self._versions)

    def ahead(self) -> list[tuple[Prepared, dict[str, Any]]]:
        """The latest versions' read, unless done in this transaction already
        (prepared.ReadAhead: it can travel in another statement's round trip)."""
        return [] if self._versions is not None else [(_LATEST_VERSIONS, {})]

    def took(self, answers: list[list[Any]]) -> None:
        self._versions = [(str(city), int(ver), str(anchor)) for city, ver, anchor in answers[0]]

    def latest_all(self) -> list[StoredTrustList]:
        rows = self.conn.execute(_LATEST_ALL)
        return [from_row(StoredTrustList, r) for r in rows]
