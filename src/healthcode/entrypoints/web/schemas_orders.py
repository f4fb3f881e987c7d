"""Bodies of manual health orders, appeals, the transparency report and anomaly alerts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from healthcode.entrypoints.web.schemas import Strict
from healthcode.entrypoints.web.schemas_status import TextOut


class LegalBasisOut(BaseModel):
    basis_id: str
    text: TextOut


class OrderIn(Strict):
    subject_ids: list[str] = Field(min_length=1, max_length=10_000)
    colour: str = Field(max_length=8, examples=["red"])
    legal_basis: str = Field(max_length=40, description="An id from GET /legal-bases.")
    reason: str = Field(max_length=2000, description="Shown to each person; never logged.")
    days: int = Field(ge=1, le=366)


class OrderOut(BaseModel):
    """An order as the officers, admins and auditors who decide on it see it (no names)."""

    order_id: str
    colour: str
    legal_basis: str
    reason: str
    days: int
    subject_count: int
    state: str
    proposed_by: str
    proposer_role: str
    proposed_at: int
    decided_by: str | None
    decided_role: str | None
    decided_at: int | None
    released_by: str | None
    released_at: int | None
    starts_at: int | None
    ends_at: int | None


class MyOrderOut(BaseModel):
    """An order as the person it names sees it: why, on what legal basis, until when, and how
    to appeal."""

    order_id: str
    colour: str
    legal_basis: LegalBasisOut
    reason: str
    state: str
    starts_at: int | None
    ends_at: int | None
    appeal_id: str | None
    appealable: bool


class AppealIn(Strict):
    target_id: str = Field(max_length=24, description="An order id, or an evidence fact id.")
    reason: str = Field(max_length=2000)


class DecisionIn(Strict):
    outcome: str = Field(max_length=16, examples=["granted", "upheld"])


class AppealOut(BaseModel):
    appeal_id: str
    subject_id: str
    target_kind: str
    target_id: str
    reason: str
    filed_by: str
    filed_at: int
    deadline: int
    state: str
    decided_by: str | None
    decided_at: int | None


class AlertOut(BaseModel):
    detector: str
    scope: str
    value: str
    window_start: int
    window_end: int
    counts: dict[str, int]
    seq: int | None
    time: int | None


class ReportOut(BaseModel):
    """The public transparency report, per day of the city's calendar (`timezone`),
    recomputable from the log export alone."""

    format: str
    timezone: str
    generated_at: int
    first_seq: int
    log_size: int
    suppression: dict[str, Any]
    days: list[dict[str, Any]]
