"""The public transparency report and the anomaly alerts (for auditors; aggregated in the
report for everyone)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.schemas_orders import AlertOut, ReportOut
from healthcode.services import anomalies, report

router = APIRouter(tags=["transparency"])


@router.get("/report", response_model=ReportOut)
def transparency_report(ctx: Ctx, days: Annotated[int, Query(ge=1, le=31)] = 7) -> ReportOut:
    """Per day: colour changes by colour and basis, manual orders, appeals and outcomes, trace
    runs, reads of personal data, refused attempts and anomaly alerts. Computed from the public
    log alone (anyone can recompute it from the export); counts of people below 10 suppressed."""
    return ReportOut(**report.report(ctx, days).as_dict())  # type: ignore[arg-type]


@router.get("/anomalies", response_model=list[AlertOut])
def anomaly_alerts(ctx: Ctx, since: Annotated[int | None, Query(ge=0)] = None) -> list[AlertOut]:
    """Alerts of the anomaly watch (default: the last 24 hours), read back from the log."""
    return [AlertOut(**asdict(a)) for a in anomalies.alerts(ctx, since)]
