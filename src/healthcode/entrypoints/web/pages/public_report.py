"""The transparency report for everyone: what the system did each day, as charts and tables.

The numbers are the API's (`GET /report`, services/report.py), computed from the public log, so
anyone holding an export can recompute them. Counts of people from 1 to 9 are withheld by the
report and shown as "fewer than 10" (hatched in the charts), never as 0. The charts are SVG
drawn on the server (pages/charts.py). Days are the city's (its time zone, named on the axis),
as in the report.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from healthcode.domain.anomalies import DETECTORS
from healthcode.domain.calendar import day_in
from healthcode.domain.errors import DomainError, InvalidInput
from healthcode.domain.report import (
    APPEAL_CELLS,
    CHANGE_CELLS,
    ORDER_STEPS,
    STAFF_STEPS,
    DayReport,
)
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages import i18n
from healthcode.entrypoints.web.pages.charts import Chart, Series, svg
from healthcode.entrypoints.web.pages.rendering import PageRoute, render
from healthcode.services import report

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {("GET", "/public/report"): "page.public"}

Gettext = Callable[[str], str]
DateText = Annotated[str | None, Query(max_length=10)]


def series_labels(_: Gettext) -> dict[str, str]:
    return {
        "to_green": _("Back to green"),
        "yellow_rule": _("Yellow by a rule"),
        "yellow_order": _("Yellow by a manual order"),
        "red_rule": _("Red by a rule"),
        "red_order": _("Red by a manual order"),
        "proposed": _("Proposed"),
        "approved": _("Approved"),
        "frozen": _("Frozen for an auditor"),
        "released": _("Released by an auditor"),
        "release_refused": _("Refused by an auditor"),
        "rejected": _("Rejected"),
        "revoked": _("Revoked"),
        "expired": _("Expired"),
        "refused": _("Refused attempts"),
        "filed": _("Appeals filed"),
        "granted": _("Granted"),
        "upheld": _("Upheld"),
        "lapsed": _("Lapsed (not decided in time)"),
        "trace_runs": _("Contact traces run"),
        "personal_data_reads": _("Reads of personal data"),
        "access_refused": _("Refused access attempts"),
        "unlinked_change": _("Colour change without a basis"),
        "order_burst": _("Burst of manual orders"),
        "non_health_cluster": _("Colours clustered on a non-health attribute"),
        "rule_cluster": _("A rule set's colours concentrated on one place or hour"),
        "lab_surge": _("A surge of positives from one lab"),
        "change_requested": _("Staff changes asked for"),
        "created": _("Accounts created"),
        "role_changed": _("Roles changed"),
        "enabled": _("Accounts re-enabled"),
        "disabled": _("Accounts disabled"),
        "change_refused": _("Staff changes refused"),
    }


def refusal_labels(_: Gettext) -> dict[str, str]:
    """Refused attempts by what was attempted (the family of the log action)."""
    return {
        "access": _("Reading a record"),
        "auth": _("Signing in"),
        "order": _("Manual orders"),
        "staff": _("Staff changes"),
        "ruleset": _("Rule changes"),
        "case": _("Case work"),
        "lab_results": _("Lab results"),
        "lab": _("Labs"),
    }


def role_labels(_: Gettext) -> dict[str, str]:
    return {
        "authority_admin": _("Authority admins"),
        "health_officer": _("Health officers"),
        "tracer": _("Tracers"),
        "auditor": _("Auditors"),
        "venue_admin": _("Venue admins"),
        "venue_staff": _("Venue staff"),
    }


def _parse_day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("a date is written YYYY-MM-DD", field=field, code="bad_date") from None


def date_range(
    today: date, days: int | None, start: str | None, end: str | None
) -> tuple[date, date]:
    """(first day, last day) of the city's calendar: the last `days` days, or `from`..`to`."""
    if not start and not end:
        return today - timedelta(days=(days or 7) - 1), today
    last = _parse_day(end, "to") if end else today
    first = _parse_day(start, "from") if start else last - timedelta(days=6)
    if last > today:
        raise InvalidInput("the report ends today at the latest", field="to", code="range")
    if first > last:
        raise InvalidInput("the first day comes before the last", field="from", code="range")
    if first < today - timedelta(days=report.MAX_DAYS - 1):
        raise InvalidInput("the report goes back at most %(max_days)s days",
                           field="from", code="range",
                           params={"max_days": report.MAX_DAYS})  # fmt: skip
    return first, last


def charts(days: list[DayReport], _: Gettext, zone: str) -> list[Chart]:
    words = series_labels(_)
    refused = refusal_labels(_)
    families = sorted({k for d in days for k in d.refusals} | {"access", "order", "staff"})
    labs = sorted({lab for d in days for lab in d.labs})
    labels = [d.day for d in days]
    ticks = [d.day[5:] for d in days]
    day_axis = _("Day (%(zone)s)") % {"zone": zone}
    count_axis, hidden = _("Count"), _("fewer than 10")

    def chart(cid: str, title: str, desc: str, series: list[Series], stacked: bool) -> Chart:
        return Chart(cid, title, desc, labels, series, day_axis, count_axis, hidden, stacked, ticks)

    def of(keys: tuple[str, ...], pick: Callable[[DayReport, str], int | None]) -> list[Series]:
        return [Series(k, words[k], [pick(d, k) for d in days]) for k in keys]

    return [
        chart("chart-colours", _("Colour changes by colour and basis"),
              _("Stacked bars per day: codes that changed colour, by the colour they turned and "
                "whether a published rule or a manual order caused it."),
              of(CHANGE_CELLS, lambda d, k: d.colour_changes.cells[k]), True),
        chart("chart-orders", _("Manual orders"),
              _("Stacked bars per day: steps of manual health orders, and refused attempts."),
              of((*ORDER_STEPS, "refused"), lambda d, k: d.orders.get(k, 0)), True),
        chart("chart-appeals", _("Appeals and their outcomes"),
              _("Bars side by side per day: appeals filed, granted, upheld and lapsed."),
              of(APPEAL_CELLS, lambda d, k: d.appeals.cells[k]), False),
        chart("chart-tracing", _("Contact tracing and reads of personal data"),
              _("Bars side by side per day: trace runs for confirmed cases, reads of personal "
                "data, and refused access attempts."),
              of(("trace_runs", "personal_data_reads", "access_refused"),
                 lambda d, k: int(getattr(d, k))), False),
        chart("chart-anomalies", _("Anomaly alerts"),
              _("Stacked bars per day: alerts of the anomaly watch, by detector."),
              of(DETECTORS, lambda d, k: d.anomaly_alerts.get(k, 0)), True),
        chart("chart-staff", _("Staff accounts"),
              _("Bars side by side per day: staff changes asked for, accounts created (each "
                "by two admins), roles changed, accounts re-enabled and disabled, and changes "
                "the second person refused."),
              of(STAFF_STEPS, lambda d, k: d.staff.get(k, 0)), False),
        chart("chart-refusals", _("Refused attempts"),
              _("Stacked bars per day: every attempt the system refused, by what was "
                "attempted."),
              [Series(k, refused.get(k, k), [d.refusals.get(k, 0) for d in days])
               for k in families], True),
    ] + ([
        chart("chart-labs", _("Positive results by lab"),
              _("Stacked bars per day: the positive results each registered lab reported."),
              [Series(lab, lab, [d.labs.get(lab, {}).get("positives", 0) for d in days])
               for lab in labs], True),
    ] if labs else [])  # fmt: skip


@router.get("/public/report", response_class=HTMLResponse)
def report_page(
    request: Request,
    ctx: Ctx,
    days: Annotated[int | None, Query(ge=1, le=report.MAX_DAYS)] = None,
    start: Annotated[DateText, Query(alias="from")] = None,
    end: Annotated[DateText, Query(alias="to")] = None,
) -> HTMLResponse:
    _ = i18n.translations(i18n.negotiate(request)).gettext
    zone = ctx.policy.timezone
    today = day_in(zone, ctx.clock.now())
    form = {"from": start or "", "to": end or "", "days": days}
    try:
        first, last = date_range(today, days, start, end)
        made = report.report(ctx, (today - first).days + 1)
    except DomainError as exc:
        return render(request, "public/report.html", status_of(exc), error=exc, form=form,
                      made=None, figures=[], current=None, staff_now=[])  # fmt: skip
    shown = [d for d in made.days if d.day <= last.isoformat()]
    form.update({"from": shown[0].day, "to": shown[-1].day})
    totals = [d.colour_changes.total for d in shown]  # may be withheld too
    figures: list[tuple[Chart, Markup, list[int | None] | None]] = [
        (c, svg(c), totals if c.chart_id == "chart-colours" else None)
        for c in charts(shown, _, zone)
    ]
    latest = made.days[-1]
    roles = role_labels(_)
    staff_now = [(roles.get(r, r), n) for r, n in (latest.current_staff or {}).items()]
    return render(
        request, "public/report.html", error=None, form=form, made=made, figures=figures,
        current=latest.current_colours if last == today else None,
        staff_now=staff_now if last == today else [],
    )  # fmt: skip
