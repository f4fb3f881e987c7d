"""Rule sets: published (anyone may read them, in Chinese and English), loaded and activated
by the authority (each step on the log)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from healthcode.domain.rulesets import Rule
from healthcode.entrypoints.web.deps import Acting, Ctx
from healthcode.entrypoints.web.schemas_status import ActivationOut, RuleOut, RuleSetOut, TextOut
from healthcode.services import rules

router = APIRouter(prefix="/rulesets", tags=["rules"])
SET_ID = Annotated[str, Path(max_length=10)]
VERSION = Annotated[int, Path(ge=1, le=999)]


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


@router.post("/{set_id}/{version}/activate", response_model=ActivationOut)
def activate(set_id: SET_ID, version: VERSION, ctx: Ctx, actor: Acting) -> ActivationOut:
    """Make a published version the active rule set; colours are re-derived and each change
    is logged."""
    done = rules.activate_ruleset(ctx, set_id, version, actor)
    return ActivationOut(ruleset=ruleset_out(done.info), colour_changes=len(done.changes))
