"""Rule sets for the authority: read every version, load a new one, dry-run it on today's data
(how many colours would change, and why), and activate it with two people.

Loading is the service of POST /rulesets (checked, dry-run on sample facts, published under its
version, never changed after). The city-wide dry run is services/rule_dry_run.py (logged). An
activation is asked for by a health officer or an authority admin and approved by another
authority admin (services/rule_approval.py); both steps are on the public log.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from healthcode.domain.access import allowed
from healthcode.domain.accounts import Principal
from healthcode.domain.errors import DomainError, InvalidInput
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages.rendering import PageRoute, redirect, render
from healthcode.entrypoints.web.security import Caller
from healthcode.services import rule_approval, rules
from healthcode.services.auth import actor_for
from healthcode.services.context import ServiceContext
from healthcode.services.rule_dry_run import dry_run_ruleset

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/office/rules"): "rules.load",
    ("POST", "/office/rules"): "rules.load",
    ("GET", "/office/rules/{set_id}/{version}"): "rules.load",
    ("POST", "/office/rules/{set_id}/{version}/dry-run"): "rules.dry_run",
    ("POST", "/office/rules/{set_id}/{version}/request"): "rules.activation.request",
    ("POST", "/office/rules/requests/{seq}/approve"): "rules.activate",
}

SetId = Annotated[str, Path(max_length=10)]
Version = Annotated[int, Path(ge=1, le=999)]
Seq = Annotated[int, Path(ge=0)]


def _index(
    request: Request, ctx: ServiceContext, status: int = 200, **extra: object
) -> HTMLResponse:
    context: dict[str, object] = {"error": None, "document": ""}
    context.update(extra)
    return render(
        request, "office/rules.html", status,
        versions=rules.list_rulesets(ctx), requests=rule_approval.pending(ctx), **context,
    )  # fmt: skip


@router.get("/office/rules", response_class=HTMLResponse)
def rules_page(request: Request, ctx: Ctx) -> HTMLResponse:
    return _index(request, ctx)


@router.post("/office/rules", response_model=None)
async def load(
    request: Request,
    caller: Caller,
    ctx: Ctx,
    document: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse | RedirectResponse:
    """A pasted document, or an uploaded JSON file (which wins when both are given)."""
    text = document
    try:
        if file is not None and file.filename:
            data = await file.read(rules.MAX_DOCUMENT + 1)
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise InvalidInput("the file is not UTF-8 text", field="document") from None
        if not text.strip():
            raise InvalidInput("paste a rule set (JSON) or choose a file", field="document")
        actor = actor_for(ctx, caller)
        info = await run_in_threadpool(rules.load_ruleset, ctx, text, actor)
    except DomainError as exc:
        return _index(request, ctx, status_of(exc), error=exc, document=text[:200_000])
    return redirect(f"/office/rules/{info.ruleset.set_id}/{info.ruleset.version}?loaded=1")


def _logic(info: rules.RuleSetInfo) -> dict[str, str]:
    """Each rule's CertLogic, as indented JSON for the reader."""
    return {
        r.rule_id: json.dumps(r.logic, ensure_ascii=False, indent=1) for r in info.ruleset.rules
    }


def _version(
    request: Request,
    ctx: ServiceContext,
    caller: Principal,
    set_id: str,
    version: int,
    status: int = 200,
    **extra: object,
) -> HTMLResponse:
    info = rules.get_ruleset(ctx, set_id, version)
    mine = [r for r in rule_approval.pending(ctx) if (r.set_id, r.version) == (set_id, version)]
    context: dict[str, object] = {"error": None, "notice": None, "dry_run": None, "seq": None}
    context.update(extra)
    return render(
        request, "office/ruleset.html", status,
        info=info, requests=mine, logic=_logic(info),
        can_dry_run=allowed("rules.dry_run", caller.role),
        can_request=allowed("rules.activation.request", caller.role),
        can_approve=allowed("rules.activate", caller.role), **context,
    )  # fmt: skip


@router.get("/office/rules/{set_id}/{version}", response_class=HTMLResponse)
def version_page(
    request: Request,
    set_id: SetId,
    version: Version,
    caller: Caller,
    ctx: Ctx,
    loaded: str = "",
    requested: str = "",
    activated: str = "",
) -> HTMLResponse:
    notice = "loaded" if loaded else "requested" if requested else None
    if activated:
        notice = "activated"
    changes = int(activated) if activated.isdigit() else 0
    return _version(request, ctx, caller, set_id, version, notice=notice, changes=changes)


@router.post("/office/rules/{set_id}/{version}/dry-run", response_class=HTMLResponse)
async def dry_run(
    request: Request, set_id: SetId, version: Version, caller: Caller, ctx: Ctx
) -> HTMLResponse:
    actor = actor_for(ctx, caller)
    result = await run_in_threadpool(dry_run_ruleset, ctx, set_id, version, actor)
    return _version(request, ctx, caller, set_id, version, dry_run=result)


@router.post("/office/rules/{set_id}/{version}/request", response_model=None)
def request_activation(
    request: Request, set_id: SetId, version: Version, caller: Caller, ctx: Ctx
) -> HTMLResponse | RedirectResponse:
    try:
        made = rule_approval.request_activation(ctx, caller, set_id, version)
    except DomainError as exc:
        return _version(request, ctx, caller, set_id, version, status_of(exc), error=exc)
    return redirect(f"/office/rules/{set_id}/{version}?requested={made.seq}")


@router.post("/office/rules/requests/{seq}/approve", response_model=None)
def approve(
    request: Request, seq: Seq, caller: Caller, ctx: Ctx
) -> HTMLResponse | RedirectResponse:
    try:
        done = rule_approval.approve_activation(ctx, caller, seq)
    except DomainError as exc:
        return _index(request, ctx, status_of(exc), error=exc)
    rs = done.info.ruleset
    return redirect(f"/office/rules/{rs.set_id}/{rs.version}?activated={len(done.changes)}")
