"""The rules for everyone: the active rule set in plain words, every published version with who
published and activated it according to the log and what changed, and the legal bases a manual
order must cite.

The words are the rule set's own (each rule's description and advice, published in Chinese and
English, the same texts a resident reads under "why this colour" and `healthcode rules show`
prints); the CertLogic condition is shown beside them for anyone who wants to check the words
against what the engine runs. Same services as `GET /rulesets` and `GET /legal-bases`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.pages.rendering import PageRoute, render
from healthcode.services import orders, rule_history, rules

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/public/rules"): "page.public",
    ("GET", "/public/rules/{set_id}/{version}"): "page.public",
}

SetId = Annotated[str, Path(max_length=10)]
Version = Annotated[int, Path(ge=1, le=999)]


def _page(request: Request, ctx: Ctx, info: rules.RuleSetInfo) -> HTMLResponse:
    return render(
        request,
        "public/rules.html",
        info=info,
        history=rule_history.history(ctx),
        bases=orders.legal_bases(ctx),
    )


@router.get("/public/rules", response_class=HTMLResponse)
def rules_page(request: Request, ctx: Ctx) -> HTMLResponse:
    return _page(request, ctx, rules.get_ruleset(ctx, "active"))


@router.get("/public/rules/{set_id}/{version}", response_class=HTMLResponse)
def version_page(request: Request, ctx: Ctx, set_id: SetId, version: Version) -> HTMLResponse:
    """One published version, active or not, in the same words."""
    return _page(request, ctx, rules.get_ruleset(ctx, set_id, version))
