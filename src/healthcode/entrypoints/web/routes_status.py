"""A resident's colour and why, "what if", exposure notices, and the health facts a resident
reports (symptoms) or an officer records (quarantine, vaccination)."""

from __future__ import annotations

from fastapi import APIRouter

from healthcode.domain.facts import hypothetical
from healthcode.entrypoints.web.deps import Ctx, ResidentLimit
from healthcode.entrypoints.web.routes_rules import rule_out
from healthcode.entrypoints.web.schemas import LIMITED_RESPONSES
from healthcode.entrypoints.web.schemas_status import (
    EvidenceOut,
    FindingOut,
    NoticeOut,
    QuarantineIn,
    RecordedOut,
    StatusOut,
    SweepOut,
    SymptomsIn,
    TextOut,
    VaccinationIn,
    WhatIfIn,
)
from healthcode.entrypoints.web.security import Caller
from healthcode.services import health_facts, notices, status
from healthcode.services.access import gate_subject
from healthcode.services.auth import actor_for

router = APIRouter(tags=["colours and notices"])


def status_out(v: status.StatusView) -> StatusOut:
    s = v.status
    return StatusOut(
        subject_id=v.subject_id,
        colour=s.colour,
        rule_ref=s.rule_ref,
        since=s.since,
        until=s.until,
        ruleset=v.ruleset.ref().partition("#")[0],
        ruleset_title=TextOut(**v.ruleset.title.as_dict()),
        rule=rule_out(s.rule_ref, v.rule) if v.rule else None,
        evidence=[
            EvidenceOut(fact_id=e.fact_id, kind=e.kind, time=e.time, summary=e.summary)
            for e in v.evidence
        ],
        also_applies=[
            FindingOut(
                rule_ref=v.ruleset.ref(f.rule.rule_id),
                colour=f.rule.colour,
                fact_id=f.fact.fact_id,
                until=f.until,
            )
            for f in s.findings
        ],
        problems=list(s.problems),
    )


@router.get("/residents/{subject_id}/status", response_model=StatusOut)
def my_status(subject_id: str, caller: Caller, ctx: Ctx) -> StatusOut:
    """The colour now, the rule behind it in words, the evidence, and when it runs out. The
    resident, their guardian, or an officer with an assigned open case (the read is logged)."""
    gate_subject(ctx, caller, subject_id, "resident.status.read")
    return status_out(status.status_of(ctx, subject_id))


@router.post("/residents/{subject_id}/status/what-if", response_model=StatusOut)
def what_if(subject_id: str, body: WhatIfIn, caller: Caller, ctx: Ctx) -> StatusOut:
    """What the colour would be with these hypothetical facts added. Nothing is stored."""
    gate_subject(ctx, caller, subject_id, "resident.status.what_if")
    extra = [hypothetical(i, f.kind, f.time, f.attrs()) for i, f in enumerate(body.facts)]
    return status_out(status.what_if(ctx, subject_id, extra, body.at))


@router.get("/residents/{subject_id}/notices", response_model=list[NoticeOut])
def my_notices(subject_id: str, caller: Caller, ctx: Ctx) -> list[NoticeOut]:
    gate_subject(ctx, caller, subject_id, "resident.notices.read")
    return [
        NoticeOut(
            notice_id=n.notice.notice_id,
            kind=n.notice.kind,
            venue_id=n.notice.venue_id,
            venue_name=n.venue_name,
            venue_name_en=n.venue_name_en,
            day=n.notice.day,
            level=n.level,
            colour=n.colour,
            rule_ref=n.notice.rule_ref,
            rule=TextOut(**n.rule.description.as_dict()) if n.rule else None,
            advice=TextOut(**n.rule.advice.as_dict()) if n.rule else None,
            created_at=n.notice.created_at,
        )
        for n in notices.my_notices(ctx, subject_id)
    ]


def recorded_out(done: health_facts.Recorded) -> RecordedOut:
    return RecordedOut(
        fact_id=done.fact.fact_id,
        kind=done.fact.kind.value,
        time=done.fact.time,
        colour_changes=len(done.changes),
    )


@router.post(
    "/residents/{subject_id}/symptoms",
    status_code=201,
    response_model=RecordedOut,
    dependencies=[ResidentLimit],
    responses=LIMITED_RESPONSES,
)
def report_symptoms(subject_id: str, body: SymptomsIn, caller: Caller, ctx: Ctx) -> RecordedOut:
    """The resident (or guardian) reports symptoms; the colour follows the rules."""
    gate_subject(ctx, caller, subject_id, "resident.symptoms.report")
    actor = actor_for(ctx, caller)
    return recorded_out(
        health_facts.report_symptoms(ctx, subject_id, body.symptoms, body.onset, actor)
    )


@router.post(
    "/residents/{subject_id}/quarantine",
    status_code=201,
    response_model=RecordedOut,
)
def record_quarantine(subject_id: str, body: QuarantineIn, caller: Caller, ctx: Ctx) -> RecordedOut:
    """An officer with an assigned open case involving the person records a completed
    quarantine."""
    gate_subject(ctx, caller, subject_id, "fact.quarantine")
    actor = actor_for(ctx, caller)
    return recorded_out(
        health_facts.record_quarantine(ctx, subject_id, body.completed_at, body.days, actor)
    )


@router.post(
    "/residents/{subject_id}/vaccinations",
    status_code=201,
    response_model=RecordedOut,
)
def record_vaccination(
    subject_id: str, body: VaccinationIn, caller: Caller, ctx: Ctx
) -> RecordedOut:
    """A vaccine dose recorded by a health officer (only where the city records vaccinations).
    A write, not a read: the person need not be in a case."""
    actor = actor_for(ctx, caller)
    return recorded_out(
        health_facts.record_vaccination(
            ctx, subject_id, body.dose, body.product, body.given_at, actor
        )
    )


@router.post("/statuses/sweep", response_model=SweepOut)
def sweep(ctx: Ctx) -> SweepOut:
    """Re-derive colours that ran out (the server also does this every minute)."""
    return SweepOut(colour_changes=len(status.sweep(ctx)))
