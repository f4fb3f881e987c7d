"""Manual health orders, the people they name, and appeals.

The people an order names and the subject of an appeal are stored sealed under the subject-links
key; an order's reason and an appeal's reason, which speak about people, under the vault key
(adapters/db/sealing.py). Sunset destroys both keys, so a copy taken before names nobody after.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Row, and_, insert, select, update

from healthcode.adapters.db.repositories import as_row, each_in, from_row
from healthcode.adapters.db.sealing import Seals
from healthcode.adapters.db.tables import appeals, manual_orders, order_subjects
from healthcode.domain.appeals import Appeal, AppealState
from healthcode.domain.orders import ManualOrder, OrderState, OrderSubject, SubjectState

_MUTABLE = (
    "state", "decided_by", "decided_role", "decided_at", "released_by", "released_at",
    "starts_at", "ends_at", "ended_by", "ended_at",
)  # fmt: skip


REASON = "order_reason"


class SqlOrders:
    def __init__(self, conn: Connection, seals: Seals) -> None:
        self.conn = conn
        self.seals = seals

    def _orders(self, rows: Iterable[Row[Any]]) -> list[ManualOrder]:
        """Stored orders read back, their reasons opened with one look at the vault key."""
        text = self.seals.text_opener()
        found = [from_row(ManualOrder, r) for r in rows]
        return [replace(o, reason=text(REASON, o.order_id, o.reason)) for o in found]

    def _sealed(self, subject_id: str) -> str | None:
        return self.seals.links.find_one(subject_id)

    def _opened(self, rows: list[Row[Any]]) -> list[str | None]:
        """The subject of each row; None for all once the key is gone (sunset)."""
        people = self.seals.links.open([r.subject_id for r in rows])
        return [None] * len(rows) if people is None else list(people)

    def add(self, order: ManualOrder, subject_ids: Sequence[str]) -> None:
        reason = self.seals.seal_text(REASON, order.order_id, order.reason)
        self.conn.execute(insert(manual_orders).values(**{**as_row(order), "reason": reason}))
        rows = [
            {"order_id": order.order_id, "subject_id": s, "state": SubjectState.APPLIES.value}
            for s in self.seals.links.seal(list(subject_ids))
        ]
        self.conn.execute(insert(order_subjects), rows)

    def get(self, order_id: str) -> ManualOrder | None:
        row = self.conn.execute(
            select(manual_orders).where(manual_orders.c.order_id == order_id)
        ).first()
        return self._orders([row])[0] if row else None

    def save(self, order: ManualOrder) -> None:
        self.conn.execute(
            update(manual_orders)
            .where(manual_orders.c.order_id == order.order_id)
            .values(**{k: getattr(order, k) for k in _MUTABLE})
        )

    def subjects_of(self, order_id: str) -> list[OrderSubject]:
        rows = list(
            self.conn.execute(select(order_subjects).where(order_subjects.c.order_id == order_id))
        )
        found = [
            replace(from_row(OrderSubject, r), subject_id=who)
            for r, who in zip(rows, self._opened(rows), strict=True)
            if who is not None
        ]
        return sorted(found, key=lambda s: s.subject_id)

    def subject(self, order_id: str, subject_id: str) -> OrderSubject | None:
        sealed = self._sealed(subject_id)
        if sealed is None:
            return None
        row = self.conn.execute(
            select(order_subjects).where(
                and_(
                    order_subjects.c.order_id == order_id,
                    order_subjects.c.subject_id == sealed,
                )
            )
        ).first()
        return replace(from_row(OrderSubject, row), subject_id=subject_id) if row else None

    def end_for_subject(
        self, order_id: str, subject_id: str, state: str, appeal_id: str, now: int
    ) -> None:
        sealed = self._sealed(subject_id)
        if sealed is None:
            return
        self.conn.execute(
            update(order_subjects)
            .where(
                and_(
                    order_subjects.c.order_id == order_id,
                    order_subjects.c.subject_id == sealed,
                )
            )
            .values(state=state, ended_at=now, appeal_id=appeal_id)
        )

    def of_subject(self, subject_id: str) -> list[tuple[ManualOrder, OrderSubject]]:
        sealed = self._sealed(subject_id)
        if sealed is None:
            return []
        rows = self.conn.execute(
            select(manual_orders, order_subjects.c.state.label("ss"),
                   order_subjects.c.ended_at.label("se"), order_subjects.c.appeal_id)
            .join(order_subjects, order_subjects.c.order_id == manual_orders.c.order_id)
            .where(order_subjects.c.subject_id == sealed)
            .order_by(manual_orders.c.proposed_at, manual_orders.c.order_id)
        )  # fmt: skip
        rows = list(rows)
        return [
            (order, OrderSubject(r.order_id, subject_id, r.ss, r.se, r.appeal_id))
            for order, r in zip(self._orders(rows), rows, strict=True)
        ]

    def in_force_for(self, subject_ids: list[str]) -> dict[str, list[ManualOrder]]:
        found: dict[str, list[ManualOrder]] = {s: [] for s in subject_ids}
        whose = {v: s for s, v in self.seals.links.find(subject_ids).items()}
        for where in each_in(self.conn, order_subjects.c.subject_id, sorted(whose)):
            rows = self.conn.execute(
                select(manual_orders, order_subjects.c.subject_id)
                .join(order_subjects, order_subjects.c.order_id == manual_orders.c.order_id)
                .where(
                    and_(
                        where,
                        order_subjects.c.state == SubjectState.APPLIES.value,
                        manual_orders.c.state == OrderState.ACTIVE.value,
                    )
                )
                .order_by(manual_orders.c.starts_at, manual_orders.c.order_id)
            )
            rows = list(rows)
            for order, r in zip(self._orders(rows), rows, strict=True):
                found[whose[r.subject_id]].append(order)
        return found

    def proposed_by_since(self, staff_id: str, since: int) -> list[tuple[int, int]]:
        rows = self.conn.execute(
            select(manual_orders.c.proposed_at, manual_orders.c.subject_count)
            .where(
                and_(manual_orders.c.proposed_by == staff_id, manual_orders.c.proposed_at > since)
            )
            .order_by(manual_orders.c.proposed_at)
        )
        return [(r.proposed_at, r.subject_count) for r in rows]

    def proposed_since(self, since: int) -> list[tuple[int, int]]:
        rows = self.conn.execute(
            select(manual_orders.c.proposed_at, manual_orders.c.subject_count)
            .where(manual_orders.c.proposed_at > since)
            .order_by(manual_orders.c.proposed_at)
        )
        return [(r.proposed_at, r.subject_count) for r in rows]

    def started_since(self, since: int) -> list[tuple[str, int]]:
        rows = self.conn.execute(
            select(manual_orders.c.proposed_by, manual_orders.c.subject_count).where(
                manual_orders.c.starts_at > since
            )
        )
        return [(r.proposed_by, r.subject_count) for r in rows]

    def with_states(self, states: Sequence[str]) -> list[ManualOrder]:
        rows = self.conn.execute(
            select(manual_orders)
            .where(manual_orders.c.state.in_(list(states)))
            .order_by(manual_orders.c.proposed_at, manual_orders.c.order_id)
        )
        return self._orders(rows)

    def due_to_expire(self, now: int) -> list[ManualOrder]:
        rows = self.conn.execute(
            select(manual_orders)
            .where(
                and_(
                    manual_orders.c.state == OrderState.ACTIVE.value,
                    manual_orders.c.ends_at <= now,
                )
            )
            .order_by(manual_orders.c.ends_at, manual_orders.c.order_id)
        )
        return self._orders(rows)


APPEAL_REASON = "appeal_reason"


class SqlAppeals:
    def __init__(self, conn: Connection, seals: Seals) -> None:
        self.conn = conn
        self.seals = seals

    def _appeals(self, rows: Any) -> list[Appeal]:
        """Stored rows read back; none once the subject-links key is gone (sunset)."""
        rows = list(rows)
        people = self.seals.links.open([r.subject_id for r in rows])
        if people is None:
            return []
        text = self.seals.text_opener()  # one look at the vault key for all the reasons
        found = []
        for r, who in zip(rows, people, strict=True):
            appeal = from_row(Appeal, r)
            reason = text(APPEAL_REASON, appeal.appeal_id, appeal.reason)
            found.append(replace(appeal, subject_id=who, reason=reason))
        return found

    def _sealed(self, subject_id: str) -> str | None:
        return self.seals.links.find_one(subject_id)

    def add(self, appeal: Appeal) -> None:
        (subject,) = self.seals.links.seal([appeal.subject_id])
        reason = self.seals.seal_text(APPEAL_REASON, appeal.appeal_id, appeal.reason)
        row = {**as_row(appeal), "subject_id": subject, "reason": reason}
        self.conn.execute(insert(appeals).values(**row))

    def get(self, appeal_id: str) -> Appeal | None:
        rows = self.conn.execute(select(appeals).where(appeals.c.appeal_id == appeal_id))
        return next(iter(self._appeals(rows)), None)

    def of_subject(self, subject_id: str) -> list[Appeal]:
        sealed = self._sealed(subject_id)
        if sealed is None:
            return []
        return self._appeals(
            self.conn.execute(
                select(appeals)
                .where(appeals.c.subject_id == sealed)
                .order_by(appeals.c.filed_at, appeals.c.appeal_id)
            )
        )

    def pending_about(self, subject_id: str, target_id: str) -> Appeal | None:
        sealed = self._sealed(subject_id)
        if sealed is None:
            return None
        rows = self.conn.execute(
            select(appeals).where(
                and_(
                    appeals.c.subject_id == sealed,
                    appeals.c.target_id == target_id,
                    appeals.c.state == AppealState.PENDING.value,
                )
            )
        )
        return next(iter(self._appeals(rows)), None)

    def pending(self, limit: int) -> list[Appeal]:
        rows = self.conn.execute(
            select(appeals)
            .where(appeals.c.state == AppealState.PENDING.value)
            .order_by(appeals.c.deadline, appeals.c.appeal_id)
            .limit(limit)
        )
        return self._appeals(rows)

    def overdue(self, target_kind: str, now: int, limit: int) -> list[Appeal]:
        rows = self.conn.execute(
            select(appeals)
            .where(
                and_(
                    appeals.c.state == AppealState.PENDING.value,
                    appeals.c.deadline <= now,
                    appeals.c.target_kind == target_kind,
                )
            )
            .order_by(appeals.c.deadline, appeals.c.appeal_id)
            .limit(limit)
        )
        return self._appeals(rows)

    def close(self, appeal_id: str, state: str, decided_by: str | None, now: int) -> None:
        self.conn.execute(
            update(appeals)
            .where(appeals.c.appeal_id == appeal_id)
            .values(state=state, decided_by=decided_by, decided_at=now)
        )
