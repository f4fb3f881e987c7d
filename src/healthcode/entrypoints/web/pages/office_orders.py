"""Manual health orders and appeals, for the officers who propose and decide them: the same
services as routes_orders.py.

An order cites a legal basis from the published list, gives a reason (shown to the people it
names, never logged), a colour and a number of days; nothing changes colour until an officer of
another role approves it (the services enforce the two-person rule, the quotas, and the freeze of
large orders until an auditor releases them: that is the auditor's page, not this one). Open
appeals are read (the read is logged) and decided here by a health officer.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthcode.domain.access import allowed
from healthcode.domain.accounts import Principal
from healthcode.domain.errors import DomainError, InvalidInput
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages.rendering import PageRoute, redirect, render
from healthcode.entrypoints.web.security import Caller
from healthcode.services import appeals, orders
from healthcode.services.context import ServiceContext

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/office/orders"): "order.decide",
    ("GET", "/office/orders/new"): "order.propose",
    ("POST", "/office/orders"): "order.propose",
    ("POST", "/office/orders/{order_id}/approve"): "order.decide",
    ("POST", "/office/orders/{order_id}/reject"): "order.decide",
    ("POST", "/office/orders/{order_id}/revoke"): "order.revoke",
    ("GET", "/office/appeals"): "appeal.queue",
    ("POST", "/office/appeals/{appeal_id}/decide"): "appeal.decide",
}

DONE = frozenset({"proposed", "approved", "rejected", "revoked", "upheld", "granted"})
SUBJECT_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_IDS = 10_000
ObjectId = Annotated[str, Path(max_length=40)]
Text = Annotated[str, Form()]


def _orders_page(
    request: Request, ctx: ServiceContext, caller: Principal, status: int = 200, **extra: object
) -> HTMLResponse:
    context: dict[str, object] = {"error": None, "error_order": None, "done": None, "order": ""}
    context.update(extra)
    return render(
        request, "office/orders.html", status,
        awaiting=orders.awaiting(ctx, caller), open_orders=orders.open_orders(ctx, caller),
        bases={b.basis_id: b for b in orders.legal_bases(ctx)},
        can_revoke=allowed("order.revoke", caller.role),
        can_propose=allowed("order.propose", caller.role), **context,
    )  # fmt: skip


@router.get("/office/orders", response_class=HTMLResponse)
def orders_page(
    request: Request, caller: Caller, ctx: Ctx, done: str = "", order: str = ""
) -> HTMLResponse:
    return _orders_page(request, ctx, caller, done=done if done in DONE else None, order=order[:40])


def _form(
    request: Request, ctx: ServiceContext, status: int = 200, **values: object
) -> HTMLResponse:
    form: dict[str, object] = {"subject_ids": "", "colour": "yellow", "legal_basis": "",
                               "reason": "", "days": "7", "error": None}  # fmt: skip
    form.update(values)
    return render(
        request, "office/order_new.html", status,
        bases=orders.legal_bases(ctx), max_days=ctx.orders.max_days, **form,
    )  # fmt: skip


@router.get("/office/orders/new", response_class=HTMLResponse)
def new_order(
    request: Request,
    ctx: Ctx,
    subject_ids: Annotated[list[str] | None, Query(max_length=MAX_IDS)] = None,
) -> HTMLResponse:
    picked = [s for s in (subject_ids or []) if SUBJECT_ID.match(s)]
    return _form(request, ctx, subject_ids="\n".join(picked))


def _ids(text: str) -> list[str]:
    found = [s for s in re.split(r"[\s,;]+", text.strip()) if s]
    if not found:
        raise InvalidInput("name at least one resident (their pseudonym)", field="subject_ids")
    bad = next((s for s in found if not SUBJECT_ID.match(s)), None)
    if bad is not None:
        raise InvalidInput(
            "not a resident pseudonym: %(bad)s", field="subject_ids", params={"bad": bad[:40]}
        )
    return list(dict.fromkeys(found))


def _days(text: str) -> int:
    if not text.strip().isdigit() or len(text.strip()) > 4:
        raise InvalidInput("a whole number of days", field="days")
    return int(text.strip())


@router.post("/office/orders", response_model=None)
def propose(
    request: Request,
    caller: Caller,
    ctx: Ctx,
    subject_ids: Text = "",
    colour: Text = "",
    legal_basis: Text = "",
    reason: Text = "",
    days: Text = "",
) -> HTMLResponse | RedirectResponse:
    try:
        made = orders.propose_order(
            ctx, caller, _ids(subject_ids), colour, legal_basis, reason, _days(days)
        )
    except DomainError as exc:
        return _form(
            request, ctx, status_of(exc), subject_ids=subject_ids, colour=colour,
            legal_basis=legal_basis, reason=reason, days=days, error=exc,
        )  # fmt: skip
    return redirect(f"/office/orders?done=proposed&order={made.order_id}")


def _decide(
    request: Request, ctx: ServiceContext, caller: Principal, order_id: str, step: str
) -> HTMLResponse | RedirectResponse:
    act = {"approved": orders.approve_order, "rejected": orders.reject_order,
           "revoked": orders.revoke_order}[step]  # fmt: skip
    try:
        act(ctx, caller, order_id)
    except DomainError as exc:
        return _orders_page(request, ctx, caller, status_of(exc), error=exc, error_order=order_id)
    return redirect(f"/office/orders?done={step}&order={order_id}")


@router.post("/office/orders/{order_id}/approve", response_model=None)
def approve(
    request: Request, order_id: ObjectId, caller: Caller, ctx: Ctx
) -> HTMLResponse | RedirectResponse:
    return _decide(request, ctx, caller, order_id, "approved")


@router.post("/office/orders/{order_id}/reject", response_model=None)
def reject(
    request: Request, order_id: ObjectId, caller: Caller, ctx: Ctx
) -> HTMLResponse | RedirectResponse:
    return _decide(request, ctx, caller, order_id, "rejected")


@router.post("/office/orders/{order_id}/revoke", response_model=None)
def revoke(
    request: Request, order_id: ObjectId, caller: Caller, ctx: Ctx
) -> HTMLResponse | RedirectResponse:
    return _decide(request, ctx, caller, order_id, "revoked")


def _appeals_page(
    request: Request, ctx: ServiceContext, caller: Principal, status: int = 200, **extra: object
) -> HTMLResponse:
    context: dict[str, object] = {"error": None, "error_appeal": None, "done": None}
    context.update(extra)
    queue = appeals.queue(ctx, caller)  # logged: the reasons are personal data
    return render(request, "office/appeals.html", status, appeals=queue, **context)


@router.get("/office/appeals", response_class=HTMLResponse)
def appeals_page(request: Request, caller: Caller, ctx: Ctx, done: str = "") -> HTMLResponse:
    return _appeals_page(request, ctx, caller, done=done if done in DONE else None)


@router.post("/office/appeals/{appeal_id}/decide", response_model=None)
def decide(
    request: Request, appeal_id: ObjectId, caller: Caller, ctx: Ctx, outcome: Text = ""
) -> HTMLResponse | RedirectResponse:
    try:
        decided = appeals.decide_appeal(ctx, caller, appeal_id, outcome)
    except DomainError as exc:
        return _appeals_page(request, ctx, caller, status_of(exc), error=exc,
                             error_appeal=appeal_id)  # fmt: skip
    return redirect(f"/office/appeals?done={decided.state}")
