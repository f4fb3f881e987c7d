"""My dependants (children, elders without a phone): their list, each one's code, and adding one.
The same use cases as the API's `/residents/{id}/dependants` and `/residents/{id}/code`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthcode.domain.access import Role
from healthcode.domain.errors import DomainError, Refused
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages.rendering import PageRoute, redirect, render
from healthcode.entrypoints.web.pages.resident_code import code_card
from healthcode.entrypoints.web.pages.resident_enrol import document_types
from healthcode.entrypoints.web.security import Caller
from healthcode.services import enrolment
from healthcode.services.access import gate_subject

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/me/dependants"): "page.resident",
    ("POST", "/me/dependants"): "resident.dependant.add",
    ("GET", "/me/dependants/{subject_id}"): "page.resident",
}

RELATIONS = tuple(r.value for r in enrolment.Relation)
Text = Annotated[str, Form(max_length=200)]


def _list(
    request: Request,
    ctx: Ctx,
    caller: Caller,
    status: int = 200,
    error: DomainError | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    gate_subject(ctx, caller, caller.ref, "resident.dependant.list")
    held = enrolment.dependants(ctx, caller.ref)
    return render(
        request,
        "resident/dependants.html",
        status,
        cards=[(code_card(request, ctx, caller, s), relation) for s, relation in held],
        relations=RELATIONS,
        doc_types=document_types(request),
        form=form or {"name": "", "relation": "child", "doc_type": "", "doc_number": ""},
        error=error,
    )


@router.get("/me/dependants", response_class=HTMLResponse)
def my_dependants(request: Request, caller: Caller, ctx: Ctx) -> HTMLResponse:
    return _list(request, ctx, caller)


@router.post("/me/dependants", response_model=None)
def add_dependant(
    request: Request,
    caller: Caller,
    ctx: Ctx,
    name: Text = "",
    relation: Text = "",
    doc_type: Text = "",
    doc_number: Text = "",
) -> HTMLResponse | RedirectResponse:
    form = {"name": name, "relation": relation, "doc_type": doc_type, "doc_number": doc_number}
    cmd = enrolment.AddDependant(
        caller.ref, name, relation, doc_type.strip() or None, doc_number.strip() or None
    )
    try:
        gate_subject(ctx, caller, caller.ref, "resident.dependant.add")
        done = enrolment.add_dependant(ctx, cmd)
    except DomainError as exc:
        return _list(request, ctx, caller, status_of(exc), exc, form)
    return redirect(f"/me/dependants/{done.subject_id}")


@router.get("/me/dependants/{subject_id}", response_class=HTMLResponse)
def dependant_code(request: Request, subject_id: str, caller: Caller, ctx: Ctx) -> HTMLResponse:
    """One dependant's code, big enough for a gate's scanner."""
    grant = gate_subject(ctx, caller, subject_id, "resident.code.issue")
    if grant.role is not Role.GUARDIAN:
        raise Refused(
            "no such dependant", field="subject_id", action="resident.code.issue",
            kind="subject", ref="self",
        )  # fmt: skip
    relation = dict(enrolment.dependants(ctx, caller.ref)).get(subject_id, "")
    return render(
        request, "resident/dependant.html", card=code_card(request, ctx, caller, subject_id),
        relation=relation,
    )  # fmt: skip
