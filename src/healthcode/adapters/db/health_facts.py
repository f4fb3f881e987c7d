"""Exposures found by tracing and the health facts people and officers record."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from healthcode.adapters.db.repositories import as_row, chunks, from_row
from healthcode.adapters.db.tables import exposures, health_facts
from healthcode.domain.facts import FactKind, RecordedFact
from healthcode.services.ports import StoredExposure

_EVIDENCE = ("case_id", "subject_id", "contact_checkin_id", "source_checkin_id")


class SqlExposures:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_new(self, found: list[StoredExposure]) -> list[StoredExposure]:
        fresh: dict[tuple[str, ...], StoredExposure] = {}
        for case_id in sorted({e.case_id for e in found}):
            stored = {tuple(getattr(e, k) for k in _EVIDENCE) for e in self.of_case(case_id)}
            for e in found:
                key = tuple(getattr(e, k) for k in _EVIDENCE)
                if e.case_id == case_id and key not in stored:
                    fresh.setdefault(key, e)
        if fresh:
            self.conn.execute(insert(exposures), [as_row(e) for e in fresh.values()])
        return list(fresh.values())

    def of_subject(self, subject_id: str) -> list[StoredExposure]:
        rows = self.conn.execute(
            select(exposures)
            .where(exposures.c.subject_id == subject_id)
            .order_by(exposures.c.start, exposures.c.exposure_id)
        )
        return [from_row(StoredExposure, r) for r in rows]

    def of_subjects(self, subject_ids: list[str]) -> dict[str, list[StoredExposure]]:
        found: dict[str, list[StoredExposure]] = {s: [] for s in subject_ids}
        for chunk in chunks(subject_ids):
            rows = self.conn.execute(
                select(exposures)
                .where(exposures.c.subject_id.in_(chunk))
                .order_by(exposures.c.start, exposures.c.exposure_id)
            )
            for r in rows:
                found[r.subject_id].append(from_row(StoredExposure, r))
        return found

    def of_case(self, case_id: str) -> list[StoredExposure]:
        rows = self.conn.execute(
            select(exposures)
            .where(exposures.c.case_id == case_id)
            .order_by(exposures.c.start, exposures.c.exposure_id)
        )
        return [from_row(StoredExposure, r) for r in rows]

    def withdraw(self, exposure_id: str, appeal_id: str, now: int) -> None:
        self.conn.execute(
            update(exposures)
            .where(exposures.c.exposure_id == exposure_id)
            .values(withdrawn_at=now, withdrawn_by_appeal=appeal_id)
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
        for chunk in chunks(subject_ids):
            rows = self.conn.execute(
                select(health_facts)
                .where(health_facts.c.subject_id.in_(chunk))
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
