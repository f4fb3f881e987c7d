"""Exposures found by tracing and the health facts people and officers record.

An exposure is a visit: a venue and a time, with who was there and through which case. It
stores its subject, its via-subject, its own id, its case's id and the appeal that withdrew it
only sealed under the key of the day the exposure started (adapters/db/sealing.py), so once the
purge has destroyed that key nothing else in the database (a status citing the exposure, the
case, the appeal) joins to it, in this copy or any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from healthcode.adapters.db.bulk import insert_rows
from healthcode.adapters.db.repositories import as_row, each_in
from healthcode.adapters.db.sealing import DayKey, DaySeal
from healthcode.adapters.db.tables import exposures, health_facts
from healthcode.domain.facts import FactKind, RecordedFact
from healthcode.services.ports import StoredExposure

DAY = 86400
_EVIDENCE = ("case_id", "subject_id", "contact_checkin_id", "source_checkin_id")


def _day(instant: int) -> int:
    return instant - instant % DAY


def seal_exposures(days: DaySeal, found: Iterable[StoredExposure]) -> list[dict[str, Any]]:
    """Exposures as their rows: the ids sealed under the key of each one's day, each day's
    people in one call and its record ids in another (a trace stores hundreds at once)."""
    by_day: dict[int, list[StoredExposure]] = {}
    for e in found:
        by_day.setdefault(_day(e.start), []).append(e)
    rows = []
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
            rows.append({
                **as_row(e),
                "exposure_id": ids[i],
                "case_id": ids[n + i],
                "withdrawn_by_appeal": next(appeal_of) if e.withdrawn_by_appeal else None,
                "subject_id": people[i],
                "via_subject": next(via_of) if e.via_subject else None,
            })  # fmt: skip
    return rows


def made_key(days: DaySeal, day: int) -> DayKey:
    key = days.key(day, create=True)
    if key is None:  # pragma: no cover - a key asked to be made is made, or raises
        raise RuntimeError("a day key was not made")
    return key


def open_exposures(keys: Mapping[int, DayKey], rows: Iterable[Row[Any]]) -> list[StoredExposure]:
    """Stored rows read back with the keys of their days; rows of a day whose key is gone are
    nobody's and left out. In (start, exposure id) order."""
    by_day: dict[int, list[Row[Any]]] = {}
    for row in rows:
        by_day.setdefault(_day(row.start), []).append(row)
    found: list[StoredExposure] = []
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
            found.append(
                StoredExposure(exposure_id, people[i], case_id, r.level, r.venue_id, r.start,
                               r.end, r.contact_checkin_id, r.source_checkin_id, via, r.found_at,
                               r.withdrawn_at, appeal)
            )  # fmt: skip
    found.sort(key=lambda e: (e.start, e.exposure_id))
    return found


class SqlExposures:
    def __init__(self, conn: Connection, days: DaySeal) -> None:
        self.conn = conn
        self.days = days

    def add_new(self, found: list[StoredExposure]) -> list[StoredExposure]:
        keys = self.days.keys()
        fresh: dict[tuple[str, ...], StoredExposure] = {}
        for case_id in sorted({e.case_id for e in found}):
            known = self._of_case(case_id, keys)
            stored = {tuple(getattr(e, k) for k in _EVIDENCE) for e in known}
            for e in found:
                key = tuple(getattr(e, k) for k in _EVIDENCE)
                if e.case_id == case_id and key not in stored:
                    fresh.setdefault(key, e)
        if fresh:
            insert_rows(self.conn, exposures, seal_exposures(self.days, fresh.values()))
        return list(fresh.values())

    def _where(self, column: Any, values: dict[str, int]) -> list[Row[Any]]:
        """Rows whose `column` holds one of `values` (stored value -> its day), on that day."""
        found: list[Row[Any]] = []
        for where in each_in(self.conn, column, sorted(values)):
            rows = self.conn.execute(select(exposures).where(where))
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
        return self._of_case(case_id, self.days.keys())

    def _of_case(self, case_id: str, keys: Mapping[int, DayKey]) -> list[StoredExposure]:
        values = {v: day for day, key in keys.items() for v in key.find_records([case_id])}
        return open_exposures(keys, self._where(exposures.c.case_id, values))

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
