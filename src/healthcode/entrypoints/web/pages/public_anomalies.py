"""The auditor's page: the anomaly watch's alerts, and the frozen manual orders that wait for an
auditor to release or refuse them.

Alerts are public log entries (the transparency report counts them for everyone); this page
lists them with their evidence for the auditor, who acts on them. A manual order naming more
people than the freeze threshold does not take effect until an auditor releases it here (the
Zhengzhou defence): same services as `GET /anomalies`, `GET /orders/awaiting` and
`POST /orders/{id}/release|refuse`, each step on the log.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthcode.domain.errors import DomainError, Refused
from healthcode.domain.published import DAY, from_token
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages.rendering import PageRoute, redirect, render
from healthcode.entrypoints.web.security import Caller
from healthcode.services import anomalies, orders

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/public/anomalies"): "page.auditor",
    ("POST", "/public/orders/{order_id}/release"): "order.release",
    ("POST", "/public/orders/{order_id}/refuse"): "order.release",
}

PAGE = "/public/anomalies"
ORDER_ID = re.compile(r"^[a-z2-7]{1,16}$")
DONE = ("released", "refused")
Days = Annotated[int, Query(ge=1, le=anomalies.ALERTS_MAX_DAYS)]
# An alert's counts in reading order: what was seen, then the thresholds it crossed.
COUNT_ORDER = (
    "orders", "residents", "people", "coloured", "by_order", "share_percent", "changes",
    "first_seq", "last_seq", "limit_orders", "limit_residents", "limit_people",
    "limit_share_percent",
)  # fmt: skip


def in_order(counts: dict[str, int]) -> list[tuple[str, int]]:
    rank = {k: i for i, k in enumerate(COUNT_ORDER)}
    return sorted(counts.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def _page(
    request: Request,
    ctx: Ctx,
    caller: Caller,
    days: int = 1,
    error: DomainError | None = None,
    done: tuple[str, str] | None = None,
) -> HTMLResponse:
    since = ctx.clock.now() - days * DAY
    alerts = list(reversed(anomalies.alerts(ctx, since)))  # newest first
    return render(
        request,
        "public/anomalies.html",
        status_of(error) if error else 200,
        alerts=alerts,
        values={a.seq: from_token(a.value) for a in alerts},
        counts={a.seq: in_order(a.counts) for a in alerts},
        frozen=orders.awaiting(ctx, caller),
        bases={b.basis_id: b for b in orders.legal_bases(ctx)},
        days=days,
        error=error,
        done=done,
    )


@router.get(PAGE, response_class=HTMLResponse)
def anomalies_page(
    request: Request, ctx: Ctx, caller: Caller, days: Days = 1, done: str = "", order: str = ""
) -> HTMLResponse:
    shown = (done, order) if done in DONE and ORDER_ID.match(order) else None
    return _page(request, ctx, caller, days, done=shown)


def _decide(request: Request, ctx: Ctx, caller: Caller, order_id: str, release: bool
            ) -> HTMLResponse | RedirectResponse:  # fmt: skip
    step = orders.release_order if release else orders.refuse_release
    try:
        step(ctx, caller, order_id)
    except Refused:
        raise  # answered as not found, and logged, by the app
    except DomainError as exc:
        return _page(request, ctx, caller, error=exc)
    return redirect(f"{PAGE}?done={DONE[0] if release else DONE[1]}&order={order_id}")


@router.post("/public/orders/{order_id}/release", response_model=None)
def release(
    request: Request, ctx: Ctx, caller: Caller, order_id: str
) -> HTMLResponse | RedirectResponse:
    """The auditor lets a frozen order take effect."""
    return _decide(request, ctx, caller, order_id, release=True)


@router.post("/public/orders/{order_id}/refuse", response_model=None)
def refuse(
    request: Request, ctx: Ctx, caller: Caller, order_id: str
) -> HTMLResponse | RedirectResponse:
    """The auditor refuses a frozen order: it never takes effect."""
    return _decide(request, ctx, caller, order_id, release=False)
