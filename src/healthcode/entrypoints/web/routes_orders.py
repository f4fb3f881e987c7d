"""Manual health orders (two officers of different roles; large ones frozen until an auditor
releases them) and appeals (the person contests; a health officer decides before the deadline,
or a contested order lapses by itself). What the person sees: the order, its legal basis in
words, its reason, its period, and the way to appeal."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from healthcode.domain.appeals import Appeal
from healthcode.domain.orders import ManualOrder
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.schemas_orders import (
    AppealIn,
    AppealOut,
    DecisionIn,
    LegalBasisOut,
    MyOrderOut,
    OrderIn,
    OrderOut,
)
from healthcode.entrypoints.web.schemas_status import TextOut
from healthcode.entrypoints.web.security import Caller
from healthcode.services import appeals, orders
from healthcode.services.access import gate_subject

router = APIRouter(tags=["manual orders and appeals"])


def order_out(o: ManualOrder) -> OrderOut:
    return OrderOut(**asdict(o))


def appeal_out(a: Appeal) -> AppealOut:
    return AppealOut(**asdict(a))


@router.get("/legal-bases", response_model=list[LegalBasisOut])
def legal_bases(ctx: Ctx) -> list[LegalBasisOut]:
    """The published list of legal bases a manual order must cite."""
    return [
        LegalBasisOut(basis_id=b.basis_id, text=TextOut(zh=b.zh, en=b.en))
        for b in orders.legal_bases(ctx)
    ]


@router.post("/orders", status_code=201, response_model=OrderOut)
def propose(body: OrderIn, caller: Caller, ctx: Ctx) -> OrderOut:
    """Propose an order; nothing changes colour until a second officer of another role
    approves it."""
    return order_out(
        orders.propose_order(
            ctx, caller, body.subject_ids, body.colour, body.legal_basis, body.reason, body.days
        )
    )


@router.get("/orders/awaiting", response_model=list[OrderOut])
def awaiting(caller: Caller, ctx: Ctx) -> list[OrderOut]:
    """Proposals waiting for a second officer; for an auditor, frozen orders."""
    return [order_out(o) for o in orders.awaiting(ctx, caller)]


@router.get("/orders/{order_id}", response_model=OrderOut)
def one_order(order_id: str, caller: Caller, ctx: Ctx) -> OrderOut:
    return order_out(orders.get_order(ctx, caller, order_id))


@router.post("/orders/{order_id}/approve", response_model=OrderOut)
def approve(order_id: str, caller: Caller, ctx: Ctx) -> OrderOut:
    return order_out(orders.approve_order(ctx, caller, order_id))


@router.post("/orders/{order_id}/reject", response_model=OrderOut)
def reject(order_id: str, caller: Caller, ctx: Ctx) -> OrderOut:
    return order_out(orders.reject_order(ctx, caller, order_id))


@router.post("/orders/{order_id}/revoke", response_model=OrderOut)
def revoke(order_id: str, caller: Caller, ctx: Ctx) -> OrderOut:
    return order_out(orders.revoke_order(ctx, caller, order_id))


@router.post("/orders/{order_id}/release", response_model=OrderOut)
def release(order_id: str, caller: Caller, ctx: Ctx) -> OrderOut:
    """An auditor lets a frozen order take effect."""
    return order_out(orders.release_order(ctx, caller, order_id))


@router.post("/orders/{order_id}/refuse", response_model=OrderOut)
def refuse(order_id: str, caller: Caller, ctx: Ctx) -> OrderOut:
    """An auditor refuses a frozen order: it never takes effect."""
    return order_out(orders.refuse_release(ctx, caller, order_id))


@router.get("/residents/{subject_id}/orders", response_model=list[MyOrderOut])
def my_orders(subject_id: str, caller: Caller, ctx: Ctx) -> list[MyOrderOut]:
    """Every approved order naming me: basis in words, reason, period, state, my appeal."""
    gate_subject(ctx, caller, subject_id, "resident.orders.read")
    return [
        MyOrderOut(
            order_id=v.order_id,
            colour=v.colour,
            legal_basis=LegalBasisOut(
                basis_id=v.legal_basis.basis_id,
                text=TextOut(zh=v.legal_basis.zh, en=v.legal_basis.en),
            ),
            reason=v.reason,
            state=v.state,
            starts_at=v.starts_at,
            ends_at=v.ends_at,
            appeal_id=v.appeal_id,
            appealable=v.appealable,
        )
        for v in orders.orders_of(ctx, subject_id)
    ]


@router.post("/residents/{subject_id}/appeals", status_code=201, response_model=AppealOut)
def file(subject_id: str, body: AppealIn, caller: Caller, ctx: Ctx) -> AppealOut:
    """Contest an order naming me, or a piece of evidence behind my colour."""
    gate_subject(ctx, caller, subject_id, "resident.appeal.file")
    return appeal_out(appeals.file_appeal(ctx, caller, subject_id, body.target_id, body.reason))


@router.get("/residents/{subject_id}/appeals", response_model=list[AppealOut])
def my_appeals(subject_id: str, caller: Caller, ctx: Ctx) -> list[AppealOut]:
    gate_subject(ctx, caller, subject_id, "resident.appeals.read")
    return [appeal_out(a) for a in appeals.appeals_of(ctx, subject_id)]


@router.get("/appeals", response_model=list[AppealOut])
def appeal_queue(caller: Caller, ctx: Ctx) -> list[AppealOut]:
    """Open appeals, the nearest deadline first (each read of one is logged)."""
    return [appeal_out(a) for a in appeals.queue(ctx, caller)]


@router.post("/appeals/{appeal_id}/decide", response_model=AppealOut)
def decide(appeal_id: str, body: DecisionIn, caller: Caller, ctx: Ctx) -> AppealOut:
    return appeal_out(appeals.decide_appeal(ctx, caller, appeal_id, body.outcome))
