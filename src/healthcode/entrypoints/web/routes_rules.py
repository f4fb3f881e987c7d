"""Rule sets: published (anyone may read them, in Chinese and English), loaded, dry-run on
today's data and activated by the authority, each step on the log.

Activation takes two people (services/rule_approval.py): a health officer or an authority admin
asks (`.../activation-requests`), and a different authority admin approves the request by its
log number (`/rulesets/activation-requests/{seq}/approve`). There is no one-step route."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from healthcode.domain.rulesets import Rule
from healthcode.entrypoints.web.deps import Acting, Ctx
from healthcode.entrypoints.web.schemas_status import (
    ActivationOut,
    ActivationRequestOut,
    CountOut,
    DryRunOut,
    RuleOut,
    RuleProblemOut,
    RuleSetOut,
    ShiftOut,
    SpreadOut,
    TextOut,
)
from healthcode.entrypoints.web.security import Caller
from healthcode.services import rule_approval, rules
from healthcode.services.rule_dry_run import DryRun, Spread, dry_run_ruleset

router = APIRouter(prefix="/rulesets", tags=["rules"])
SET_ID = Annotated[str, Path(max_length=10)]
VERSION = Annotated[int, Path(ge=1, le=999)]
SEQ = Annotated[int, Path(ge=0, le=2**53 - 1, description="The request's entry on the log")]


def rule_out(ref: str, rule: Rule) -> RuleOut:
    return RuleOut(
        id=rule.rule_id,
        ref=ref,
        colour=rule.colour,
        fact=rule.fact.value,
        lasts_days=rule.lasts_days,
        description=TextOut(**rule.description.as_dict()),
        advice=TextOut(**rule.advice.as_dict()),
        logic=rule.logic,
    )


def ruleset_out(info: rules.RuleSetInfo) -> RuleSetOut:
    rs = info.ruleset
    return RuleSetOut(
        ruleset=rs.set_id,
        version=rs.version,
        ref=f"{rs.set_id}@{rs.version}",
        title=TextOut(**rs.title.as_dict()),
        description=TextOut(**rs.description.as_dict()),
        refuse_at_gate=sorted(rs.refuse_at_gate),
        active=info.active,
        digest=info.stored.digest,
        loaded_at=info.stored.loaded_at,
        activated_at=info.stored.activated_at,
        rules=[rule_out(rs.ref(r.rule_id), r) for r in rs.rules],
    )


@router.get("", response_model=list[RuleSetOut])
def list_rulesets(ctx: Ctx) -> list[RuleSetOut]:
    """Every published rule set and version, the active one marked."""
    return [ruleset_out(info) for info in rules.list_rulesets(ctx)]


@router.get("/active", response_model=RuleSetOut)
def active(ctx: Ctx) -> RuleSetOut:
    return ruleset_out(rules.get_ruleset(ctx, "active"))


@router.get("/{set_id}/{version}", response_model=RuleSetOut)
def one(set_id: SET_ID, version: VERSION, ctx: Ctx) -> RuleSetOut:
    return ruleset_out(rules.get_ruleset(ctx, set_id, version))


@router.post("", status_code=201, response_model=RuleSetOut)
def load(document: Annotated[dict[str, Any], Body()], ctx: Ctx, actor: Acting) -> RuleSetOut:
    """Publish a rule set (checked and dry-run first; not yet active)."""
    return ruleset_out(rules.load_ruleset(ctx, json.dumps(document, ensure_ascii=False), actor))


def request_out(r: rule_approval.ActivationRequest) -> ActivationRequestOut:
    return ActivationRequestOut(
        seq=r.seq,
        ruleset=r.set_id,
        version=r.version,
        ref=f"{r.set_id}@{r.version}",
        requested_by=r.requested_by,
        requester_role=r.requester_role,
        requested_at=r.requested_at,
        expires_at=r.expires_at,
    )


def dry_run_out(d: DryRun) -> DryRunOut:
    return DryRunOut(
        candidate=d.candidate,
        active=d.active,
        at=d.at,
        people=d.people,
        changed=d.changed,
        shifts=[ShiftOut(before=s.before, after=s.after, rule_ref=s.rule_ref, people=s.people)
                for s in d.shifts],
        problems=[RuleProblemOut(rule_ref=ref, people=n) for ref, n in d.problems],
        spread=spread_out(d.spread),
    )  # fmt: skip


def spread_out(s: Spread) -> SpreadOut:
    def counts(found: tuple[tuple[object, int], ...]) -> list[CountOut]:
        return [CountOut(value=str(v), people=n) for v, n in found]

    where = None
    if s.concentrated is not None:
        dimension, value, people = s.concentrated
        where = CountOut(value=f"{dimension}:{value}", people=people)
    return SpreadOut(coloured=s.coloured, venues=counts(s.venues), districts=counts(s.districts),
                     days=counts(s.days), hours=counts(s.hours), concentrated=where)  # fmt: skip


@router.get("/activation-requests", response_model=list[ActivationRequestOut])
def pending_requests(ctx: Ctx) -> list[ActivationRequestOut]:
    """The activation requests that may still be approved (not expired, not overtaken by a
    later activation), oldest first."""
    return [request_out(r) for r in rule_approval.pending(ctx)]


@router.post("/{set_id}/{version}/dry-run", response_model=DryRunOut)
def dry_run(set_id: SET_ID, version: VERSION, ctx: Ctx, actor: Acting) -> DryRunOut:
    """How many colours would change, and why, if this version were activated now. Nothing
    changes; the run is logged (counts only, never a person)."""
    return dry_run_out(dry_run_ruleset(ctx, set_id, version, actor))


@router.post(
    "/{set_id}/{version}/activation-requests",
    status_code=201,
    response_model=ActivationRequestOut,
)
def request_activation(
    set_id: SET_ID, version: VERSION, ctx: Ctx, caller: Caller
) -> ActivationRequestOut:
    """Ask for a published version to be activated (logged). Nothing changes until a different
    authority admin approves the request, within 24 hours."""
    return request_out(rule_approval.request_activation(ctx, caller, set_id, version))


@router.post("/activation-requests/{seq}/approve", response_model=ActivationOut)
def approve_activation(seq: SEQ, ctx: Ctx, caller: Caller) -> ActivationOut:
    """A second person approves: the version becomes the active rule set, colours are re-derived
    and each change is logged. The one who asked cannot approve (403 `two_person_rule`, logged);
    an expired request or one overtaken by another activation is refused (409)."""
    done = rule_approval.approve_activation(ctx, caller, seq)
    return ActivationOut(ruleset=ruleset_out(done.info), colour_changes=len(done.changes),
                         request=seq)  # fmt: skip
