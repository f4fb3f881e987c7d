"""My code: a fresh signed health code, drawn as a QR code in the browser, with its colour and
valid-until, refreshed before it runs out and kept (for its validity) for when the phone is
offline; and "why this colour": the rule in plain words and the evidence behind it.

The code comes from the same use case as the API's `POST /residents/{id}/code`, the colour's
explanation from the one behind `GET /residents/{id}/status`. The service worker that keeps the
page for offline use is served from /me/sw.js so that it may control /me (Service-Worker-Allowed).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from healthcode.domain.orders import ORDER_PREFIX
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.pages.rendering import PageRoute, render
from healthcode.entrypoints.web.pages.resident_texts import in_language, masked_name
from healthcode.entrypoints.web.security import Caller
from healthcode.services import codes, enrolment, notices, status
from healthcode.services.access import gate_subject

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/me"): "page.resident",
    ("POST", "/me/code"): "resident.code.issue",
    ("GET", "/me/sw.js"): "page.resident",
    ("GET", "/me/why"): "page.resident",
}

OPTIONAL = Annotated[str, Form(max_length=64)]


@dataclass(frozen=True, slots=True)
class CodeCard:
    subject_id: str
    issued: codes.IssuedCode
    masked_name: str | None
    view: status.StatusView
    rule_text: str  # the rule behind the colour, in the reader's language ("" when green)

    @property
    def by_order(self) -> bool:
        return self.view.status.rule_ref.startswith(ORDER_PREFIX)


def code_card(request: Request, ctx: Ctx, caller: Caller, subject_id: str) -> CodeCard:
    """A fresh code for `subject_id` (me or my dependant) and the colour's rule in brief."""
    gate_subject(ctx, caller, subject_id, "resident.code.issue")
    issued = codes.issue_health_code(ctx, subject_id)
    view = status.status_of(ctx, subject_id)
    rule = in_language(request, view.rule.description if view.rule else None)
    return CodeCard(subject_id, issued, masked_name(issued.text), view, rule)


@router.get("/me", response_class=HTMLResponse)
def my_code(request: Request, caller: Caller, ctx: Ctx) -> HTMLResponse:
    return render(
        request,
        "resident/code.html",
        card=code_card(request, ctx, caller, caller.ref),
        notices=len(notices.my_notices(ctx, caller.ref)),
        dependants=enrolment.dependants(ctx, caller.ref),
    )


@router.post("/me/code")
def fresh_code(caller: Caller, ctx: Ctx, subject_id: OPTIONAL = "") -> JSONResponse:
    """A new signed code for the page to draw (mine, or a dependant's), before the last one
    runs out."""
    subject = subject_id or caller.ref
    gate_subject(ctx, caller, subject, "resident.code.issue")
    issued = codes.issue_health_code(ctx, subject)
    body = {
        "subject_id": subject,
        "code": issued.text,
        "colour": issued.colour,
        "issued_at": issued.issued_at,
        "expires_at": issued.expires_at,
        "rule_ref": issued.rule_ref,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/me/sw.js")
def service_worker() -> Response:
    script = resources.files("healthcode.entrypoints.web").joinpath("static/js/resident-sw.js")
    return Response(
        script.read_text(encoding="utf-8"),
        media_type="text/javascript",
        headers={
            "Service-Worker-Allowed": "/me",
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/me/why", response_class=HTMLResponse)
def why(request: Request, caller: Caller, ctx: Ctx, dependant: str = "") -> HTMLResponse:
    """The colour now, the rule behind it in words, the evidence, when it runs out, and what
    else applies; a dependant's too, for their guardian."""
    subject = dependant or caller.ref
    grant = gate_subject(ctx, caller, subject, "resident.status.read")
    view = status.status_of(ctx, subject)
    return render(
        request,
        "resident/why.html",
        view=view,
        dependant=dependant if grant.subject_id != caller.ref else "",
        by_order=view.status.rule_ref.startswith(ORDER_PREFIX),
        rule_text=in_language(request, view.rule.description if view.rule else None),
        advice=in_language(request, view.rule.advice if view.rule else None),
        ruleset_title=in_language(request, view.ruleset.title),
        also=[
            (f, in_language(request, f.rule.description))
            for f in view.status.findings
            if f.fact.fact_id not in view.status.evidence
        ],
        contestable={
            f.fact.fact_id
            for f in view.status.findings
            if f.fact.kind.value in ("exposure", "symptoms", "quarantine", "vaccination")
        },
    )
