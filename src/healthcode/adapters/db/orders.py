"""Manual health orders, the people they name, and appeals."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, and_, insert, select, update

from healthcode.adapters.db.repositories import as_row, chunks, from_row
from healthcode.adapters.db.tables import appeals, manual_orders, order_subjects
from healthcode.domain.appeals import Appeal, AppealState
from healthcode.domain.orders import ManualOrder, OrderState, OrderSubject, SubjectState

_MUTABLE = (
    "state", "decided_by", "decided_role", "decided_at", "released_by", "released_at",
    "starts_at", "ends_at", "ended_by", "ended_at",
)  # fmt: skip


class SqlOrders:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, order: ManualOrder, subject_ids: Sequence[str]) -> None:
        self.conn.execute(insert(manual_orders).values(**as_row(order)))
        rows = [
            {"order_id": order.order_id, "subject_id": s, "state": SubjectState.APPLIES.value}
            for s in subject_ids
        ]
        self.conn.execute(insert(order_subjects), rows)

    def get(self, order_id: str) -> ManualOrder | None:
        row = self.conn.execute(
            select(manual_orders).where(manual_orders.c.order_id == order_id)
        ).first()
        return from_row(ManualOrder, row) if row else None

    def save(self, order: ManualOrder) -> None:
        self.conn.execute(
            update(manual_orders)
            .where(manual_orders.c.order_id == order.order_id)
            .values(**{k: getattr(order, k) for k in _MUTABLE})
        )

    def subjects_of(self, order_id: str) -> list[OrderSubject]:
        rows = self.conn.execute(
            select(order_subjects)
            .where(order_subjects.c.order_id == order_id)
            .order_by(order_subjects.c.subject_id)
        )
        return [from_row(OrderSubject, r) for r in rows]

    def subject(self, order_id: str, subject_id: str) -> OrderSubject | None:
        row = self.conn.execute(
            select(order_subjects).where(
                and_(
                    order_subjects.c.order_id == order_id,
                    order_subjects.c.subject_id == subject_id,
                )
            )
        ).first()
        return from_row(OrderSubject, row) if row else None

    def end_for_subject(
        self, order_id: str, subject_id: str, state: str, appeal_id: str, now: int
    ) -> None:
        self.conn.execute(
            update(order_subjects)
            .where(
                and_(
                    order_subjects.c.order_id == order_id,
                    order_subjects.c.subject_id == subject_id,
                )
            )
            .values(state=state, ended_at=now, appeal_id=appeal_id)
        )

    def of_subject(self, subject_id: str) -> list[tuple[ManualOrder, OrderSubject]]:
        rows = self.conn.execute(
            select(manual_orders, order_subjects.c.subject_id, order_subjects.c.state.label("ss"),
                   order_subjects.c.ended_at.label("se"), order_subjects.c.appeal_id)
            .join(order_subjects, order_subjects.c.order_id == manual_orders.c.order_id)
            .where(order_subjects.c.subject_id == subject_id)
            .order_by(manual_orders.c.proposed_at, manual_orders.c.order_id)
        )  # fmt: skip
        return [
            (
                from_row(ManualOrder, r),
                OrderSubject(r.order_id, r.subject_id, r.ss, r.se, r.appeal_id),
            )
            for r in rows
        ]

    def in_force_for(self, subject_ids: list[str]) -> dict[str, list[ManualOrder]]:
        found: dict[str, list[ManualOrder]] = {s: [] for s in subject_ids}
        for chunk in chunks(subject_ids):
            rows = self.conn.execute(
                select(manual_orders, order_subjects.c.subject_id)
                .join(order_subjects, order_subjects.c.order_id == manual_orders.c.order_id)
                .where(
                    and_(
                        order_subjects.c.subject_id.in_(chunk),
                        order_subjects.c.state == SubjectState.APPLIES.value,
                        manual_orders.c.state == OrderState.ACTIVE.value,
                    )
                )
                .order_by(manual_orders.c.starts_at, manual_orders.c.order_id)
            )
            for r in rows:
                found[r.subject_id].append(from_row(ManualOrder, r))
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
        return [from_row(ManualOrder, r) for r in rows]

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
        return [from_row(ManualOrder, r) for r in rows]


class SqlAppeals:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, appeal: Appeal) -> None:
        self.conn.execute(insert(appeals).values(**as_row(appeal)))

    def get(self, appeal_id: str) -> Appeal | None:
        row = self.conn.execute(select(appeals).where(appeals.c.appeal_id == appeal_id)).first()
        return from_row(Appeal, row) if row else None

    def of_subject(self, subject_id: str) -> list[Appeal]:
        rows = self.conn.execute(
            select(appeals)
            .where(appeals.c.subject_id == subject_id)
            .order_by(appeals.c.filed_at, appeals.c.appeal_id)
        )
        return [from_row(Appeal, r) for r in rows]

    def pending_about(self, subject_id: str, target_id: str) -> Appeal | None:
        row = self.conn.execute(
            select(appeals).where(
                and_(
                    appeals.c.subject_id == subject_id,
                    appeals.c.target_id == target_id,
                    appeals.c.state == AppealState.PENDING.value,
                )
            )
        ).first()
        return from_row(Appeal, row) if row else None

    def pending(self, limit: int) -> list[Appeal]:
        rows = self.conn.execute(
            select(appeals)
            .where(appeals.c.state == AppealState.PENDING.value)
            .order_by(appeals.c.deadline, appeals.c.appeal_id)
            .limit(limit)
        )
        return [from_row(Appeal, r) for r in rows]

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
        return [from_row(Appeal, r) for r in rows]

    def close(self, appeal_id: str, state: str, decided_by: str | None, now: int) -> None:
        self.conn.execute(
            update(appeals)
            .where(appeals.c.appeal_id == appeal_id)
            .values(state=state, decided_by=decided_by, decided_at=now)
        )
