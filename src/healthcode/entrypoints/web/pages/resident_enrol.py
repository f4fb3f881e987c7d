"""A new resident enrols: someone who proved their phone number with a one-time code (an
applicant) gives their identity document and name. The same use case as the API's
`POST /residents` (services/auth.enrol_applicant); their session then continues as the resident's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthcode.domain.documents import DocumentType
from healthcode.domain.errors import DomainError
from healthcode.entrypoints.web.deps import Ctx, limit_enrolment
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages import i18n
from healthcode.entrypoints.web.pages.rendering import PageRoute, redirect, render
from healthcode.entrypoints.web.security import Caller
from healthcode.services import auth, enrolment

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/me/enrol"): "page.enrol",
    ("POST", "/me/enrol"): "resident.enrol",
    ("GET", "/me/enrol/done"): "auth.session",  # an applicant, or the resident they became
}

Text = Annotated[str, Form(max_length=200)]


def document_types(request: Request) -> list[tuple[str, str]]:
    """(value, name in the reader's language) of every accepted identity document."""
    zh = i18n.negotiate(request) == "zh_CN"
    return [(d.value, d.name_zh if zh else d.name_en) for d in DocumentType]


def _form(
    request: Request, status: int = 200, error: DomainError | None = None, **values: str
) -> HTMLResponse:
    form = {"name": "", "doc_type": DocumentType.PRC_ID.value, "doc_number": "", "phone": ""}
    form.update(values)
    return render(
        request, "resident/enrol.html", status, form=form, error=error,
        doc_types=document_types(request),
    )  # fmt: skip


@router.get("/me/enrol", response_class=HTMLResponse)
def enrol_page(request: Request) -> HTMLResponse:
    return _form(request)


@router.post("/me/enrol", response_model=None)
def enrol(
    request: Request,
    caller: Caller,
    ctx: Ctx,
    name: Text = "",
    doc_type: Text = "",
    doc_number: Text = "",
    phone: Text = "",
) -> HTMLResponse | RedirectResponse:
    cmd = enrolment.EnrolResident(name=name, doc_type=doc_type, doc_number=doc_number, phone=phone)
    try:
        limit_enrolment(request, caller.ref, doc_type, doc_number)
        auth.enrol_applicant(ctx, caller, cmd)  # a known document answers alike: /me tells
    except DomainError as exc:
        return _form(
            request, status_of(exc), exc, name=name, doc_type=doc_type,
            doc_number=doc_number, phone=phone,
        )  # fmt: skip
    return redirect("/me/enrol/done")  # the same answer whether or not the document was known


@router.get("/me/enrol/done", response_class=HTMLResponse)
def enrol_done(request: Request, caller: Caller) -> HTMLResponse:
    """Enrolled: on to the code. Still an applicant: the document was enrolled before (it is
    said nowhere else); the person whose document it is can enrol at a desk, and its holder
    saw the attempt in their record."""
    enrolled = caller.role.value == "resident"
    return render(request, "resident/enrol_done.html", enrolled=enrolled)
