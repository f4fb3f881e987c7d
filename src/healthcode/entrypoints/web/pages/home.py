"""The front door: the home page, the language switch, signing in and out.

Residents sign in with their phone number and a one-time code; staff with username, password and
TOTP. Both go through the same services as the API (services/auth.py) and get the same session,
as an HttpOnly, SameSite=Strict cookie. A new phone number signs in as an applicant, who is sent
to enrol. After signing in, each role lands on its own start page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthcode.domain.access import Role
from healthcode.domain.errors import DomainError
from healthcode.entrypoints.web.deps import Ctx, limit_key
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages import i18n
from healthcode.entrypoints.web.pages.rendering import (
    PageRoute,
    principal_of,
    redirect,
    render,
    safe_next,
)
from healthcode.entrypoints.web.security import COOKIE, Caller, bearer, set_session_cookie
from healthcode.services import auth

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/"): "page.public",
    ("GET", "/language"): "page.public",
    ("GET", "/sign-in"): "page.public",
    ("POST", "/sign-in/code"): "auth.login",
    ("POST", "/sign-in/code/verify"): "auth.login",
    ("GET", "/sign-in/staff"): "page.public",
    ("POST", "/sign-in/staff"): "auth.login",
    ("POST", "/sign-out"): "auth.logout",
}

# Where each role starts after signing in.
START = {
    Role.APPLICANT: "/me/enrol",
    Role.RESIDENT: "/me",
    Role.GUARDIAN: "/me",
    Role.VENUE_DEVICE: "/venue/scan",
    Role.VENUE_STAFF: "/venue",
    Role.VENUE_ADMIN: "/venue",
    Role.TRACER: "/office",
    Role.HEALTH_OFFICER: "/office",
    Role.AUTHORITY_ADMIN: "/office",
    Role.AUDITOR: "/public/anomalies",
}

Text = Annotated[str, Form()]


def start_page(role: Role) -> str:
    return START.get(role, "/")


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return render(request, "home.html", start=start_page(principal_of(request).role))


@router.get("/language")
def choose_language(to: str, next: str = "/") -> RedirectResponse:
    """The language switch: remembered for a year, in a cookie that holds nothing else."""
    response = redirect(safe_next(next))
    chosen = i18n.normalise(to)
    if chosen:
        response.set_cookie(
            i18n.LANG_COOKIE, chosen, max_age=365 * 86400, samesite="lax", httponly=True
        )
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str = "") -> HTMLResponse:
    return render(request, "sign_in.html", next=safe_next(next, ""), phone="", error=None)


@router.post("/sign-in/code", response_class=HTMLResponse)
def send_code(request: Request, ctx: Ctx, phone: Text, next: Text = "") -> HTMLResponse:
    limit_key(request, "code", phone.strip())
    try:
        seconds = auth.send_code(ctx, phone)
    except DomainError as exc:
        return render(request, "sign_in.html", status_of(exc), next=next, phone=phone, error=exc)
    return render(
        request, "sign_in_code.html", next=safe_next(next, ""), phone=phone.strip(),
        expires_in=seconds, error=None,
    )  # fmt: skip


@router.post("/sign-in/code/verify", response_model=None)
def verify_code(
    request: Request,
    ctx: Ctx,
    phone: Text,
    code: Text,
    next: Text = "",
) -> HTMLResponse | RedirectResponse:
    limit_key(request, "login", phone.strip())
    try:
        signed = auth.sign_in_resident(ctx, phone, code, bearer(request))
    except DomainError as exc:
        return render(
            request, "sign_in_code.html", status_of(exc),
            next=next, phone=phone, expires_in=None, error=exc,
        )  # fmt: skip
    response = redirect(safe_next(next, start_page(signed.principal.role)))
    set_session_cookie(request, response, signed)
    return response


@router.get("/sign-in/staff", response_class=HTMLResponse)
def staff_sign_in_page(request: Request, next: str = "") -> HTMLResponse:
    return render(request, "sign_in_staff.html", next=safe_next(next, ""), username="", error=None)


@router.post("/sign-in/staff", response_model=None)
def staff_sign_in(
    request: Request,
    ctx: Ctx,
    username: Text,
    password: Text,
    totp: Text,
    next: Text = "",
) -> HTMLResponse | RedirectResponse:
    limit_key(request, "login", username.strip().lower())
    try:
        signed = auth.sign_in_staff(ctx, username, password, totp, bearer(request))
    except DomainError as exc:
        return render(
            request, "sign_in_staff.html", status_of(exc),
            next=next, username=username, error=exc,
        )  # fmt: skip
    response = redirect(safe_next(next, start_page(signed.principal.role)))
    set_session_cookie(request, response, signed)
    return response


@router.post("/sign-out")
def sign_out(caller: Caller, ctx: Ctx) -> RedirectResponse:
    auth.sign_out(ctx, caller)
    response = redirect("/")
    response.delete_cookie(COOKIE)
    return response
