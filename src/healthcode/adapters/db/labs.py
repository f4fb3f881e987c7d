"""Registered labs and the samples they registered before a result (domain/labs.py)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update

from healthcode.adapters.db.repositories import as_row, from_row, tests_present
from healthcode.adapters.db.tables import lab_samples, labs
from healthcode.domain.labs import Lab, LabSample


def _lab(row: object) -> Lab:
    found = from_row(Lab, row)  # type: ignore[arg-type]
    return Lab(**{**as_row(found), "public_key": bytes(found.public_key)})


class SqlLabs:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, lab: Lab) -> None:
        self.conn.execute(insert(labs).values(**as_row(lab)))

    def get(self, lab_id: str) -> Lab | None:
        row = self.conn.execute(select(labs).where(labs.c.lab_id == lab_id)).first()
        return _lab(row) if row else None

    def by_code(self, code: str) -> Lab | None:
        row = self.conn.execute(select(labs).where(labs.c.code == code)).first()
        return _lab(row) if row else None

    def all(self) -> list[Lab]:
        return [_lab(r) for r in self.conn.execute(select(labs).order_by(labs.c.code))]

    def save(self, lab: Lab) -> None:
        self.conn.execute(
            update(labs)
            .where(labs.c.lab_id == lab.lab_id)
            .values(
                approved_by=lab.approved_by,
                approved_at=lab.approved_at,
                revoked_by=lab.revoked_by,
                revoked_at=lab.revoked_at,
            )
        )

    def register_samples(self, samples: list[LabSample]) -> int:
        keys = [(s.lab, s.test_id) for s in samples]
        known = self.registered(keys)
        fresh = {(s.lab, s.test_id): s for s in samples if (s.lab, s.test_id) not in known}
        if fresh:
            self.conn.execute(insert(lab_samples), [as_row(s) for s in fresh.values()])
        return len(fresh)

    def registered(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        return tests_present(self.conn, lab_samples, keys)

    def purge_samples(self, before: int) -> int:
        done = self.conn.execute(delete(lab_samples).where(lab_samples.c.sample_time < before))
        return int(done.rowcount)
