"""Lab results and cases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, and_, insert, select

from healthcode.adapters.db.repositories import as_row, each_in, from_row, tests_present
from healthcode.adapters.db.tables import cases, lab_results
from healthcode.domain.cases import Case, LabResult, TestResult


class SqlCases:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_results(self, results: list[LabResult]) -> None:
        if results:
            self.conn.execute(
                insert(lab_results), [{**as_row(r), "result": r.result.value} for r in results]
            )

    def known_tests(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        return tests_present(self.conn, lab_results, keys)

    def add_case(self, case: Case) -> None:
        self.conn.execute(insert(cases).values(**as_row(case)))

    def open_case_of(self, subject_id: str) -> Case | None:
        row = self.conn.execute(
            select(cases)
            .where(and_(cases.c.subject_id == subject_id, cases.c.closed_at.is_(None)))
            .order_by(cases.c.opened_at.desc())
            .limit(1)
        ).first()
        return self._case(row) if row else None

    def get_case(self, case_id: str) -> Case | None:
        row = self.conn.execute(select(cases).where(cases.c.case_id == case_id)).first()
        return self._case(row) if row else None

    def open_cases(self) -> list[Case]:
        rows = self.conn.execute(
            select(cases).where(cases.c.closed_at.is_(None)).order_by(cases.c.opened_at)
        )
        return [self._case(r) for r in rows]

    def opened_since(self, since: int) -> list[Case]:
        rows = self.conn.execute(
            select(cases).where(cases.c.opened_at >= since).order_by(cases.c.opened_at)
        )
        return [self._case(r) for r in rows]

    def results_of(self, subject_ids: list[str]) -> dict[str, list[LabResult]]:
        found: dict[str, list[LabResult]] = {s: [] for s in subject_ids}
        for where in each_in(self.conn, lab_results.c.subject_id, subject_ids):
            rows = self.conn.execute(
                select(lab_results)
                .where(where)
                .order_by(lab_results.c.sample_time, lab_results.c.lab, lab_results.c.test_id)
            )
            for r in rows:
                found[r.subject_id].append(
                    LabResult(r.lab, r.test_id, r.subject_id, r.sample_time,
                              TestResult(r.result), r.imported_at)
                )  # fmt: skip
        return found

    def cases_of(self, subject_ids: list[str]) -> dict[str, list[Case]]:
        found: dict[str, list[Case]] = {s: [] for s in subject_ids}
        for where in each_in(self.conn, cases.c.subject_id, subject_ids):
            rows = self.conn.execute(select(cases).where(where).order_by(cases.c.opened_at))
            for r in rows:
                found[r.subject_id].append(self._case(r))
        return found

    @staticmethod
    def _case(row: Row[Any]) -> Case:
        return from_row(Case, row)
