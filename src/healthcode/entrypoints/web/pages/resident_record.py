"""What the system holds and did about me: exposure notices, manual health orders naming me and
my appeals against them (or against evidence behind my colour), and who read my record, in
which role, why and when. The same use cases as the API's `/residents/{id}/notices`, `/orders`,
`/appeals` and `/log`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthcode.domain.appeals import REASON_MAX, REASON_MIN
from healthcode.domain.errors import DomainError
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages.rendering import PageRoute, redirect, render
from healthcode.entrypoints.web.pages.resident_texts import chinese, in_language
from healthcode.entrypoints.web.security import Caller
from healthcode.services import appeals, audit, notices, orders
from healthcode.services.access import gate_subject

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/me/notices"): "page.resident",
    ("GET", "/me/orders"): "page.resident",
    ("GET", "/me/appeals"): "page.resident",
    ("GET", "/me/appeals/new"): "page.resident",
    ("POST", "/me/appeals"): "resident.appeal.file",
    ("GET", "/me/record"): "page.resident",
}


@router.get("/me/notices", response_class=HTMLResponse)
def my_notices(request: Request, caller: Caller, ctx: Ctx) -> HTMLResponse:
    gate_subject(ctx, caller, caller.ref, "resident.notices.read")
    found = notices.my_notices(ctx, caller.ref)  # by the exposure's day, the latest first
    zh = chinese(request)
    return render(
        request,
        "resident/notices.html",
        notices=[
            (n, n.venue_in(zh), in_language(request, n.rule.description if n.rule else None),
             in_language(request, n.rule.advice if n.rule else None))
            for n in found
        ],
    )  # fmt: skip


@router.get("/me/orders", response_class=HTMLResponse)
def my_orders(request: Request, caller: Caller, ctx: Ctx) -> HTMLResponse:
    gate_subject(ctx, caller, caller.ref, "resident.orders.read")
    zh = chinese(request)
    return render(
        request,
        "resident/orders.html",
        orders=[
            (o, o.legal_basis.zh if zh else o.legal_basis.en)
            for o in orders.orders_of(ctx, caller.ref)
        ],
    )


@router.get("/me/appeals", response_class=HTMLResponse)
def my_appeals(request: Request, caller: Caller, ctx: Ctx, filed: str = "") -> HTMLResponse:
    gate_subject(ctx, caller, caller.ref, "resident.appeals.read")
    found = appeals.appeals_of(ctx, caller.ref)
    found.sort(key=lambda a: a.filed_at, reverse=True)
    return render(request, "resident/appeals.html", appeals=found, filed=filed)


def _appeal_form(
    request: Request,
    target: str,
    reason: str = "",
    status: int = 200,
    error: DomainError | None = None,
) -> HTMLResponse:
    return render(
        request, "resident/appeal_new.html", status, target=target, reason=reason, error=error,
        reason_min=REASON_MIN, reason_max=REASON_MAX,
    )  # fmt: skip


@router.get("/me/appeals/new", response_class=HTMLResponse)
def appeal_form(request: Request, target: str = "") -> HTMLResponse:
    """Contest an order naming me, or a piece of evidence behind my colour (linked from the
    order or from "why this colour")."""
    return _appeal_form(request, target[:24])


@router.post("/me/appeals", response_model=None)
def file_appeal(
    request: Request,
    caller: Caller,
    ctx: Ctx,
    target_id: Annotated[str, Form(max_length=24)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse | RedirectResponse:
    try:
        gate_subject(ctx, caller, caller.ref, "resident.appeal.file")
        filed = appeals.file_appeal(ctx, caller, caller.ref, target_id.strip(), reason)
    except DomainError as exc:
        return _appeal_form(request, target_id, reason, status_of(exc), exc)
    return redirect(f"/me/appeals?filed={filed.appeal_id}")


@router.get("/me/record", response_class=HTMLResponse)
def who_read_my_record(request: Request, caller: Caller, ctx: Ctx) -> HTMLResponse:
    """Every log entry about me, newest first, in plain words: reads of my record by officers
    (with the case that was their purpose), refused attempts, colour changes, sign-ins."""
    gate_subject(ctx, caller, caller.ref, "resident.log.read")
    return render(
        request,
        "resident/record.html",
        entries=audit.about_subject(ctx, caller.ref),
        found=audit.visits_found_by_case(ctx, caller.ref),
    )
