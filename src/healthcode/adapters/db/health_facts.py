"""Exposures found by tracing and the health facts people and officers record.

An exposure is a visit: a venue and a time, with who was there and through which case. It
stores its subject, its via-subject, its own id, its case's id and the appeal that withdrew it
only sealed under the key of the day the exposure started (adapters/db/sealing.py), so once the
purge has destroyed that key nothing else in the database (a status citing the exposure, the
case, the appeal) joins to it, in this copy or any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy import case as sa_case

from healthcode.adapters.db.bulk import insert_rows
from healthcode.adapters.db.repositories import as_row, each_in
from healthcode.adapters.db.sealing import DayKey, DaySeal
from healthcode.adapters.db.tables import exposures, health_facts
from healthcode.domain.facts import FactKind, RecordedFact
from healthcode.services.ports import (
    EVERY_EXPOSURE,
    ExposureQuery,
    PersonExposures,
    StoredExposure,
    best_first,
)

DAY = 86400


def _day(instant: int) -> int:
    return instant - instant % DAY


def seal_exposures(days: DaySeal, found: Iterable[StoredExposure]) -> Iterator[dict[str, Any]]:
    """Exposures as their rows: the ids sealed under the key of each one's day, each day's
    people in one call and its record ids in another (a trace stores hundreds at once). Made a
    day at a time as they are asked for, so that the database stores one day's rows while the
    next day's are sealed (adapters/db/bulk.py)."""
    by_day: dict[int, list[StoredExposure]] = {}
    for e in found:
        by_day.setdefault(_day(e.start), []).append(e)
    for day, group in by_day.items():
        key = made_key(days, day)
        vias = [e.via_subject for e in group if e.via_subject]
        people = key.seal([e.subject_id for e in group] + vias)
        appeals = [e.withdrawn_by_appeal for e in group if e.withdrawn_by_appeal]
        ids = key.seal_records(
            [e.exposure_id for e in group] + [e.case_id for e in group] + appeals
        )
        n = len(group)
        via_of, appeal_of = iter(people[n:]), iter(ids[2 * n :])
        for i, e in enumerate(group):
            yield {
                **as_row(e),
                "exposure_id": ids[i],
                "case_id": ids[n + i],
                "withdrawn_by_appeal": next(appeal_of) if e.withdrawn_by_appeal else None,
                "subject_id": people[i],
                "via_subject": next(via_of) if e.via_subject else None,
            }  # fmt: skip


def _evidence(days: DaySeal, found: Iterable[StoredExposure]) -> list[tuple[str, ...]]:
    """Each exposure's evidence (case, person, both visits) as stored: sealed under its day's
    key, which gives the same value for the same id on the same day."""
    by_day: dict[int, list[int]] = {}
    listed = list(found)
    for i, e in enumerate(listed):
        by_day.setdefault(_day(e.start), []).append(i)
    evidence: list[tuple[str, ...]] = [()] * len(listed)
    for day, at in by_day.items():
        key = made_key(days, day)
        people = key.seal([listed[i].subject_id for i in at])
        cases = key.seal_records([listed[i].case_id for i in at])
        for i, person, case_id in zip(at, people, cases, strict=True):
            e = listed[i]
            evidence[i] = (case_id, person, e.contact_checkin_id, e.source_checkin_id)
    return evidence


def made_key(days: DaySeal, day: int) -> DayKey:
    key = days.key(day, create=True)
    if key is None:  # pragma: no cover - a key asked to be made is made, or raises
        raise RuntimeError("a day key was not made")
    return key


def open_exposures(keys: Mapping[int, DayKey], rows: Iterable[Row[Any]]) -> list[StoredExposure]:
    """Stored rows read back with the keys of their days; rows of a day whose key is gone are
    nobody's and left out. In (start, exposure id) order."""
    found = [e for _, e in _opened(keys, rows)]
    found.sort(key=lambda e: (e.start, e.exposure_id))
    return found


def _opened(
    keys: Mapping[int, DayKey], rows: Iterable[Row[Any]]
) -> list[tuple[Row[Any], StoredExposure]]:
    """Each row that opens under its day's key, with what it holds."""
    by_day: dict[int, list[Row[Any]]] = {}
    for row in rows:
        by_day.setdefault(_day(row.start), []).append(row)
    found: list[tuple[Row[Any], StoredExposure]] = []
    for day, group in by_day.items():
        key = keys.get(day)
        if key is None:
            continue
        vias = [r.via_subject for r in group if r.via_subject]
        people = key.open([r.subject_id for r in group] + vias)
        appeals = [r.withdrawn_by_appeal for r in group if r.withdrawn_by_appeal]
        ids = key.open_records(
            [r.exposure_id for r in group] + [r.case_id for r in group] + appeals
        )
        n = len(group)
        via_of = iter(people[n:])
        appeal_of = iter(ids[2 * n :])
        for i, r in enumerate(group):
            via = next(via_of) if r.via_subject else None
            appeal = next(appeal_of) if r.withdrawn_by_appeal else None
            exposure_id, case_id = ids[i], ids[n + i]
            if exposure_id is None or case_id is None:
                continue  # not sealed under this day's key: tied to nothing
            found.append((r, StoredExposure(
                exposure_id, people[i], case_id, r.level, r.venue_id, r.start, r.end,
                r.contact_checkin_id, r.source_checkin_id, via, r.found_at, r.withdrawn_at, appeal,
            )))  # fmt: skip
    return found


_LONGEST = 2**29 - 1  # seconds (17 years): longer visits rank as this long


def _best_of_each(conn: Connection, *where: Any) -> Any:
    """Per sealed (case, subject): the exposure best_first puts first, with their number as `n`.
    SQLite: one GROUP BY whose min() picks the row its other columns come from (SQLite's bare
    columns; a window over 23,000 exposures took 5 times longer there), ranked by one integer
    (level, then the longest, then the earliest start: start < 2^32, rank < 2^62). Elsewhere a
    window function."""
    e = exposures.c
    close_first = sa_case((e.level == "close", 0), else_=1)
    if conn.dialect.name == "sqlite":
        length = func.min(func.max(e.end - e.start, 0), _LONGEST)
        rank = close_first * 2**61 + (_LONGEST - length) * 2**32 + e.start
        return (
            select(exposures, func.min(rank).label("best"), func.count().label("n"))
            .where(*where)
            .group_by(e.case_id, e.subject_id)
        )
    window: dict[str, Any] = {"partition_by": [e.case_id, e.subject_id]}
    ranked = [close_first, e.start - e.end, e.start, e.exposure_id]
    inner = (
        select(exposures, func.row_number().over(order_by=ranked, **window).label("rank"),
               func.count().over(**window).label("n"))
        .where(*where)
        .subquery()
    )  # fmt: skip
    return select(inner).where(inner.c.rank == 1)


class SqlExposures:
    def __init__(self, conn: Connection, days: DaySeal) -> None:
        self.conn = conn
        self.days = days

    def add_new(self, found: list[StoredExposure]) -> list[StoredExposure]:
        """Sealing is deterministic per day, so the new exposures are told from the stored ones
        by their sealed evidence (case, person, both visits), read without opening a row."""
        evidence = _evidence(self.days, found)
        e = exposures.c
        stored: set[tuple[str, ...]] = set()
        for where in each_in(self.conn, e.case_id, sorted({k[0] for k in evidence})):
            columns = select(e.case_id, e.subject_id, e.contact_checkin_id, e.source_checkin_id)
            stored.update(tuple(r) for r in self.conn.execute(columns.where(where)))
        fresh: dict[tuple[str, ...], StoredExposure] = {}
        for key, exposure in zip(evidence, found, strict=True):
            if key not in stored:
                fresh.setdefault(key, exposure)
        if fresh:
            insert_rows(self.conn, exposures, seal_exposures(self.days, fresh.values()))
        return list(fresh.values())

    def _where(self, column: Any, values: dict[str, int]) -> list[Row[Any]]:
        """Rows whose `column` holds one of `values` (stored value -> its day), on that day."""
        found: list[Row[Any]] = []
        for where in each_in(self.conn, column, sorted(values)):
            rows = self.conn.execute(select(exposures).where(where)).all()  # one fetch
            found.extend(r for r in rows if _day(r.start) == values[getattr(r, column.name)])
        return found

    def of_subject(self, subject_id: str) -> list[StoredExposure]:
        return self.of_subjects([subject_id])[subject_id]

    def of_subjects(self, subject_ids: list[str]) -> dict[str, list[StoredExposure]]:
        found: dict[str, list[StoredExposure]] = {s: [] for s in subject_ids}
        keys = self.days.keys()
        values = {v: day for day, key in keys.items() for v in key.find(subject_ids)}
        for e in open_exposures(keys, self._where(exposures.c.subject_id, values)):
            if e.subject_id in found:
                found[e.subject_id].append(e)
        return found

    def of_case(self, case_id: str) -> list[StoredExposure]:
        keys = self.days.keys()
        values = {v: day for day, key in keys.items() for v in key.find_records([case_id])}
        return open_exposures(keys, self._where(exposures.c.case_id, values))

    def people_of_cases(
        self, case_ids: Sequence[str], query: ExposureQuery = EVERY_EXPOSURE
    ) -> dict[str, list[PersonExposures]]:
        """The database picks each person's best exposure in each case and counts theirs
        (grouped by the sealed case and subject: both are per day, so a group is one person on
        one day); only those rows are opened, and a person seen on several days is merged here."""
        keys = self.days.keys()
        values = {v: day for day, key in keys.items() for v in key.find_records(list(case_ids))}
        e = exposures.c
        conditions = [e.withdrawn_at.is_(None)]
        if query.level:
            conditions.append(e.level == query.level)
        if query.venue_id:
            conditions.append(e.venue_id == query.venue_id)
        if query.start_from is not None:
            conditions.append(e.start >= query.start_from)
        if query.start_before is not None:
            conditions.append(e.start < query.start_before)
        rows: list[Row[Any]] = []
        for where in each_in(self.conn, e.case_id, sorted(values)):
            chosen = self.conn.execute(_best_of_each(self.conn, where, *conditions))
            rows.extend(r for r in chosen if _day(r.start) == values[r.case_id])
        merged: dict[tuple[str, str], PersonExposures] = {}
        for row, found in _opened(keys, rows):
            key = (found.case_id, found.subject_id)
            seen = merged.get(key)
            if seen is None:
                merged[key] = PersonExposures(found, row.n)
            else:
                best = min(seen.best, found, key=best_first)
                merged[key] = PersonExposures(best, seen.count + row.n)
        people: dict[str, list[PersonExposures]] = {c: [] for c in case_ids}
        for (case_id, _), person in sorted(merged.items()):
            if case_id in people:
                people[case_id].append(person)
        return people

    def venue_times(self, case_id: str) -> set[tuple[str, int]]:
        keys = self.days.keys()
        values = {v: day for day, key in keys.items() for v in key.find_records([case_id])}
        e = exposures.c
        quarter = (e.start - e.start % 900).label("quarter")
        found: set[tuple[str, int]] = set()
        for where in each_in(self.conn, e.case_id, sorted(values)):
            rows = self.conn.execute(
                select(e.venue_id, quarter, e.case_id)
                .where(where, e.withdrawn_at.is_(None))
                .distinct()
            )
            found.update((r.venue_id, int(r.quarter)) for r in rows
                         if _day(r.quarter) == values[r.case_id])  # fmt: skip
        return found

    def cases_of(self, exposure_ids: Sequence[str]) -> dict[str, str]:
        keys = self.days.keys()
        values = {v: d for d, key in keys.items() for v in key.find_records(list(exposure_ids))}
        e = exposures.c
        by_day: dict[int, list[Row[Any]]] = {}
        for where in each_in(self.conn, e.exposure_id, sorted(values)):
            for r in self.conn.execute(select(e.exposure_id, e.case_id, e.start).where(where)):
                if _day(r.start) == values[r.exposure_id]:
                    by_day.setdefault(values[r.exposure_id], []).append(r)
        found: dict[str, str] = {}
        for day, group in by_day.items():
            opened = keys[day].open_records([r.exposure_id for r in group] +
                                            [r.case_id for r in group])  # fmt: skip
            n = len(group)
            for exposure_id, case_id in zip(opened[:n], opened[n:], strict=True):
                if exposure_id is not None and case_id is not None:
                    found[exposure_id] = case_id
        return found

    def subjects(self) -> set[str]:
        """Everyone an exposure is about (whose day key is still there)."""
        rows = self.conn.execute(select(exposures.c.subject_id, exposures.c.start))
        by_day: dict[int, list[str]] = {}
        for r in rows:
            by_day.setdefault(_day(r.start), []).append(r.subject_id)
        keys = self.days.keys()
        people: set[str] = set()
        for day, sealed in by_day.items():
            key = keys.get(day)
            if key is not None:
                people.update(key.open(sealed))
        return people

    def withdraw(self, exposure_id: str, appeal_id: str, now: int) -> None:
        keys = self.days.keys()
        values = {v: day for day, key in keys.items() for v in key.find_records([exposure_id])}
        for row in self._where(exposures.c.exposure_id, values):  # the one row, on its day
            (appeal,) = keys[_day(row.start)].seal_records([appeal_id])
            self.conn.execute(
                update(exposures)
                .where(exposures.c.exposure_id == row.exposure_id)
                .values(withdrawn_at=now, withdrawn_by_appeal=appeal)
            )


class SqlHealthFacts:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, fact: RecordedFact) -> None:
        self.conn.execute(insert(health_facts).values(**{**as_row(fact), "kind": fact.kind.value}))

    def of_subject(self, subject_id: str) -> list[RecordedFact]:
        return self.of_subjects([subject_id])[subject_id]

    def of_subjects(self, subject_ids: list[str]) -> dict[str, list[RecordedFact]]:
        found: dict[str, list[RecordedFact]] = {s: [] for s in subject_ids}
        for where in each_in(self.conn, health_facts.c.subject_id, subject_ids):
            rows = self.conn.execute(
                select(health_facts)
                .where(where)
                .order_by(health_facts.c.time, health_facts.c.fact_id)
            )
            for r in rows:
                found[r.subject_id].append(
                    RecordedFact(r.fact_id, r.subject_id, FactKind(r.kind), r.time, r.detail,
                                 r.recorded_at, r.recorded_by, r.withdrawn_at,
                                 r.withdrawn_by_appeal)
                )  # fmt: skip
        return found

    def withdraw(self, fact_id: str, appeal_id: str, now: int) -> None:
        self.conn.execute(
            update(health_facts)
            .where(health_facts.c.fact_id == fact_id)
            .values(withdrawn_at=now, withdrawn_by_appeal=appeal_id)
        )
