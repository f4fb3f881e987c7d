"""The labs that may send results: who they are, their keys, and their registration by two
admins (services/lab_registry.py; the same service as POST /labs).

No member of staff imports results here or anywhere: a lab sends them itself, signed with its own
key, to POST /lab-results, /lab-results/csv or /lab-results/fhir. An authority admin asks for a
lab with the public key the lab made; a second, independent admin approves it; any admin revokes
a lab at once. Health officers see the list. A positive on paper is recorded as a manual order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthcode.domain.access import Role
from healthcode.domain.errors import DomainError
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages.rendering import PageRoute, redirect, render
from healthcode.entrypoints.web.security import Caller
from healthcode.services import lab_registry

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/office/labs"): "page.office",
    ("POST", "/office/labs"): "lab.register",
    ("POST", "/office/labs/{lab_id}/approve"): "lab.approve",
    ("POST", "/office/labs/{lab_id}/revoke"): "lab.register",
}

Text = Annotated[str, Form(max_length=1000)]
LabId = Annotated[str, Path(max_length=40)]


def _page(
    request: Request, ctx: Ctx, caller: Caller, status: int = 200, **context: object
) -> HTMLResponse:
    values: dict[str, object] = {"error": None, "form": {}, "done": None}
    values.update(context)
    return render(
        request, "office/labs.html", status, labs=lab_registry.list_labs(ctx),
        admin=caller.role is Role.AUTHORITY_ADMIN, me=caller.ref, **values,
    )  # fmt: skip


@router.get("/office/labs", response_class=HTMLResponse)
def labs_page(request: Request, caller: Caller, ctx: Ctx, done: str = "") -> HTMLResponse:
    return _page(request, ctx, caller, done=done[:20] or None)


@router.post("/office/labs", response_model=None)
def request_lab(
    request: Request, caller: Caller, ctx: Ctx, code: Text = "", name: Text = "",
    public_key: Text = "",
) -> HTMLResponse | RedirectResponse:  # fmt: skip
    try:
        lab_registry.request_lab(ctx, caller, code, name, public_key)
    except DomainError as exc:
        form = {"code": code, "name": name, "public_key": public_key}
        return _page(request, ctx, caller, status_of(exc), error=exc, form=form)
    return redirect("/office/labs?done=requested")


def _decide(
    request: Request, ctx: Ctx, caller: Caller, step: Callable[[], object], done: str
) -> HTMLResponse | RedirectResponse:
    """Approve or revoke: the list again with the error, or back to it saying what was done."""
    try:
        step()
    except DomainError as exc:
        return _page(request, ctx, caller, status_of(exc), error=exc)
    return redirect(f"/office/labs?done={done}")


@router.post("/office/labs/{lab_id}/approve", response_model=None)
def approve_lab(
    request: Request, lab_id: LabId, caller: Caller, ctx: Ctx
) -> HTMLResponse | RedirectResponse:
    step = lambda: lab_registry.approve_lab(ctx, caller, lab_id)  # noqa: E731
    return _decide(request, ctx, caller, step, "approved")


@router.post("/office/labs/{lab_id}/revoke", response_model=None)
def revoke_lab(
    request: Request, lab_id: LabId, caller: Caller, ctx: Ctx
) -> HTMLResponse | RedirectResponse:
    step = lambda: lab_registry.revoke_lab(ctx, caller, lab_id)  # noqa: E731
    return _decide(request, ctx, caller, step, "revoked")
