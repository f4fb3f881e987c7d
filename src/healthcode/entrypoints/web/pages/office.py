"""The health authority's pages: the start page, open cases, assigning a case, tracing it.

The start page links only to what the policy table lets the officer's role do. Cases and traces go
through the same services and gates as the API (routes_labs.py, routes_staff.py): a tracer sees
and traces only the cases assigned to them, and any other case answers 404, like a missing one
(the refusal is on the log). A new trace is a post; the trace page is a GET of the stored trace
(its summary and the transmission graph as an inline SVG drawn on the server), and the contacts
workspace lists each contact, filtered, paged and exportable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Request
from fastapi import Query as QueryParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from healthcode.domain.access import OFFICERS, Role, allowed
from healthcode.domain.accounts import Principal
from healthcode.domain.cases import Case
from healthcode.domain.errors import DomainError, InvalidInput
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages import i18n
from healthcode.entrypoints.web.pages.charts import Chart, Series, svg
from healthcode.entrypoints.web.pages.office_graph import layout
from healthcode.entrypoints.web.pages.rendering import PageRoute, redirect, render
from healthcode.entrypoints.web.security import Caller
from healthcode.services import labs, orders, staff, status_queue
from healthcode.services.access import access_case
from healthcode.services.auth import actor_for
from healthcode.services.context import ServiceContext
from healthcode.services.trace import trace_case
from healthcode.services.trace_evidence import traced_case
from healthcode.services.trace_workspace import (
    PURPOSES,
    Filters,
    contacts_csv,
    contacts_page,
)
from healthcode.services.tracing_figures import DayFigures, tracing_figures

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/office"): "page.office",
    ("GET", "/office/cases"): "case.list",
    ("POST", "/office/cases/{case_id}/assign"): "case.assign",
    ("GET", "/office/cases/{case_id}"): "case.trace",
    ("POST", "/office/cases/{case_id}/trace"): "case.trace",
    ("GET", "/office/cases/{case_id}/trace"): "case.trace",
    ("GET", "/office/cases/{case_id}/contacts"): "case.trace",
    ("GET", "/office/cases/{case_id}/contacts.csv"): "case.trace",
}

# What the start page offers, in this order: (action the policy must allow, link, title).
TASKS = (
    ("page.office", "/office/labs", "labs"),
    ("case.list", "/office/cases", "cases"),
    ("order.propose", "/office/orders/new", "propose"),
    ("order.decide", "/office/orders", "orders"),
    ("appeal.queue", "/office/appeals", "appeals"),
    ("rules.load", "/office/rules", "rules"),
)

CaseId = Annotated[str, Path(max_length=40)]
Text = Annotated[str, Form()]


def _my_cases(ctx: ServiceContext, caller: Principal) -> list[Case]:
    """Open cases: all of them for a health officer, the assigned ones for a tracer."""
    mine = None if caller.role is Role.HEALTH_OFFICER else set(staff.cases_of(ctx, caller.ref))
    return [c for c in labs.open_cases(ctx) if mine is None or c.case_id in mine]


@router.get("/office", response_class=HTMLResponse)
def dashboard(request: Request, caller: Caller, ctx: Ctx) -> HTMLResponse:
    tasks = [(href, key) for action, href, key in TASKS if allowed(action, caller.role)]
    cases = len(_my_cases(ctx, caller)) if allowed("case.list", caller.role) else None
    waiting = len(orders.awaiting(ctx, caller)) if allowed("order.decide", caller.role) else None
    zone = request.app.state.healthcode.settings.display_timezone
    figures = tracing_figures(ctx, zone)
    _ = i18n.translations(i18n.negotiate(request)).gettext
    drawn = [(c, svg(c)) for c in figure_charts(figures, zone, _)]
    return render(request, "office/dashboard.html", tasks=tasks, cases=cases, waiting=waiting,
                  figures=drawn)  # fmt: skip


def figure_charts(days: list[DayFigures], zone: str, _: Callable[[str], str]) -> list[Chart]:
    """The dashboard's charts: what tracing is judged by, per day of the city's calendar."""
    labels = [d.day.isoformat() for d in days]
    ticks = [d.day.isoformat()[5:] for d in days]
    axis = _("Day (%(zone)s)") % {"zone": zone}

    def chart(cid: str, title: str, desc: str, y: str, series: list[Series]) -> Chart:
        return Chart(cid, title, desc, labels, series, axis, y, stacked=False, ticks=ticks)

    def whole(value: float | None) -> int:
        return round(value) if value is not None else 0

    return [
        chart("chart-cases", _("Cases opened per day"),
              _("Bars per day: cases opened by a positive result."), _("Cases"),
              [Series("cases", _("Cases"), [d.cases for d in days])]),
        chart("chart-contacts", _("Close contacts found per case"),
              _("Bars per day: the mean number of close contacts found for the cases opened "
                "that day."), _("Contacts"),
              [Series("contacts", _("Close contacts per case (mean)"),
                      [whole(d.contacts_per_case) for d in days])]),
        chart("chart-notice-time", _("Hours from sample to notice"),
              _("Bars per day: for the exposure notices sent that day, the hours from the "
                "sample of the case that found the contact to the notice: the median and the "
                "90th percentile."), _("Hours"),
              [Series("median", _("Median"), [whole(d.sample_to_notice_median_h) for d in days]),
               Series("p90", _("90th percentile"),
                      [whole(d.sample_to_notice_p90_h) for d in days])]),
    ]  # fmt: skip


def _officers(ctx: ServiceContext) -> list[tuple[str, str, str]]:
    """Who a case can be given to: active tracers and health officers (id, username, role)."""
    return [
        (a.staff_id, a.username, a.role)
        for a in staff.list_staff(ctx)
        if a.disabled_at is None and Role(a.role) in OFFICERS
    ]


def _cases_page(
    request: Request, ctx: Ctx, caller: Principal, status: int = 200, **extra: object
) -> HTMLResponse:
    can_assign = allowed("case.assign", caller.role)
    context: dict[str, object] = {"error": None, "error_case": None, "assigned": None}
    context.update(extra)
    cases = _my_cases(ctx, caller)
    return render(
        request, "office/cases.html", status,
        cases=cases, states=labs.case_states(ctx, [c.case_id for c in cases]),
        now=ctx.clock.now(), officers=_officers(ctx) if can_assign else [],
        can_assign=can_assign, **context,
    )  # fmt: skip


@router.get("/office/cases", response_class=HTMLResponse)
def cases_page(request: Request, caller: Caller, ctx: Ctx, assigned: str = "") -> HTMLResponse:
    return _cases_page(request, ctx, caller, assigned=assigned[:40] or None)


@router.post("/office/cases/{case_id}/assign", response_model=None)
def assign(
    request: Request, case_id: CaseId, caller: Caller, ctx: Ctx, staff_id: Text = ""
) -> HTMLResponse | RedirectResponse:
    try:
        if not staff_id.strip():
            raise InvalidInput("choose a tracer or health officer", field="staff_id")
        staff.assign_case(ctx, caller, case_id, staff_id.strip())
    except DomainError as exc:
        return _cases_page(request, ctx, caller, status_of(exc), error=exc, error_case=case_id)
    return redirect(f"/office/cases?assigned={case_id}")


@router.get("/office/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: CaseId, caller: Caller, ctx: Ctx) -> HTMLResponse:
    with ctx.uow(read_only=True) as uow:  # the API's gate: assigned tracer or health officer
        access_case(uow, caller, case_id, "case.trace")
    return render(request, "office/case.html", case_id=case_id, case=_open_case(ctx, case_id),
                  error=None)  # fmt: skip


def _open_case(ctx: ServiceContext, case_id: str) -> Case | None:
    return next((c for c in labs.open_cases(ctx) if c.case_id == case_id), None)


def _depth(text: str) -> int:
    if text not in ("1", "2"):
        raise InvalidInput("1 (close contacts) or 2 (and secondary contacts)", field="depth")
    return int(text)


@router.post("/office/cases/{case_id}/trace", response_model=None)
async def trace_page(
    request: Request, case_id: CaseId, caller: Caller, ctx: Ctx, depth: Text = "2"
) -> HTMLResponse | RedirectResponse:
    """A new trace: computed, stored and logged (as POST /cases/{id}/trace), then shown by the
    trace page (a GET: a reload does not trace again)."""

    def gate() -> None:
        with ctx.uow(read_only=True) as uow:
            access_case(uow, caller, case_id, "case.trace")

    await run_in_threadpool(gate)
    try:
        levels = _depth(depth)
    except InvalidInput as exc:
        case = await run_in_threadpool(_open_case, ctx, case_id)
        return render(request, "office/case.html", 422, case_id=case_id, case=case, error=exc)
    actor = actor_for(ctx, caller)
    result = await run_in_threadpool(trace_case, ctx, case_id, actor, levels, settle=False)
    done = urlencode({"new": result.new_exposures, "queued": result.colours_queued,
                      "depth": levels})  # fmt: skip
    answer = redirect(f"/office/cases/{case_id}/trace?{done}")
    # The contacts first; their colours right after the answer is sent (services/status_queue.py).
    people = sorted({c.subject_id for c in [*result.close, *result.secondary]})
    answer.background = BackgroundTask(status_queue.settle_quietly, ctx, people)
    return answer


Count = Annotated[int | None, QueryParam(ge=0, le=10**9)]


@router.get("/office/cases/{case_id}/trace", response_class=HTMLResponse)
def traced_page(
    request: Request, case_id: CaseId, caller: Caller, ctx: Ctx, new: Count = None,
    queued: Count = None, depth: Annotated[int | None, QueryParam(ge=1, le=2)] = None,
) -> HTMLResponse:  # fmt: skip
    """The trace page: the stored trace (summary and graph, services/trace_evidence.py); after a
    new trace, what it added."""
    traced = traced_case(ctx, caller, case_id, chinese=i18n.negotiate(request) == "zh_CN")
    return render(
        request, "office/trace.html", traced=traced, graph=layout(traced), depth=depth,
        new=new, queued=queued, can_propose=allowed("order.propose", caller.role),
    )  # fmt: skip


Query = Annotated[str, QueryParam(max_length=64)]


def _filters(level: str, venue: str, day: str, colour: str) -> Filters:
    return Filters(level.strip(), venue.strip(), day.strip(), colour.strip())


@router.get("/office/cases/{case_id}/contacts", response_class=HTMLResponse)
def contacts_workspace(
    request: Request, case_id: CaseId, caller: Caller, ctx: Ctx, level: Query = "",
    venue: Query = "", day: Query = "", colour: Query = "", page: int = 1,
) -> HTMLResponse:  # fmt: skip
    """The tracer's workspace: the case's stored contacts by venue and visit, filtered and
    paged (services/trace_workspace.py); each view is on the log."""
    zone = request.app.state.healthcode.settings.display_timezone
    form = {"level": level, "venue": venue, "day": day, "colour": colour}
    try:
        filters = _filters(level, venue, day, colour)
        shown = contacts_page(ctx, caller, case_id, zone, filters, page,
                              chinese=i18n.negotiate(request) == "zh_CN")  # fmt: skip
    except InvalidInput as exc:
        return render(request, "office/contacts.html", 422, case_id=case_id, shown=None,
                      form=form, error=exc, query="", zone=zone, can_propose=False,
                      purposes=PURPOSES)  # fmt: skip
    query = urlencode({k: v for k, v in form.items() if v})
    return render(request, "office/contacts.html", case_id=case_id, shown=shown, form=form,
                  error=None, query=query, zone=zone, purposes=PURPOSES,
                  can_propose=allowed("order.propose", caller.role))  # fmt: skip


@router.get("/office/cases/{case_id}/contacts.csv", response_model=None)
def contacts_export(
    request: Request, case_id: CaseId, caller: Caller, ctx: Ctx, purpose: str = "",
    level: Query = "", venue: Query = "", day: Query = "", colour: Query = "",
) -> Response:  # fmt: skip
    """The contacts matching the filters as CSV: the purpose is required and logged."""
    zone = request.app.state.healthcode.settings.display_timezone
    text = contacts_csv(ctx, caller, case_id, zone, _filters(level, venue, day, colour),
                        purpose[:64], chinese=i18n.negotiate(request) == "zh_CN")  # fmt: skip
    return Response(
        text.encode("utf-8-sig"),  # the byte order mark: spreadsheets then read Chinese right
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="contacts-{case_id}.csv"'},
    )
