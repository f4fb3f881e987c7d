"""Signing in and out: staff (password + TOTP), residents (one-time code), and who is signed in.

A sign-in answers with the session token once, and also sets it as an HttpOnly, SameSite=Strict
cookie for the web app; signing in again rotates it, signing out ends it on the server.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from healthcode.domain.accounts import PrincipalKind
from healthcode.entrypoints.web.deps import Ctx, limit_key
from healthcode.entrypoints.web.schemas import LIMITED_RESPONSES
from healthcode.entrypoints.web.schemas_auth import (
    CodeRequestIn,
    CodeSentOut,
    CodeSignInIn,
    SessionOut,
    StaffSignInIn,
)
from healthcode.entrypoints.web.security import COOKIE, Caller, bearer, set_session_cookie
from healthcode.services import auth

router = APIRouter(prefix="/auth", tags=["signing in"])


def _session_out(signed: auth.SignedIn) -> SessionOut:
    p = signed.principal
    return SessionOut(
        kind=p.kind,
        role=p.role.value,
        ref="" if p.kind == PrincipalKind.APPLICANT else p.ref,
        venue_id=p.venue_id,
        idle_seconds=signed.idle_seconds,
        absolute_seconds=signed.absolute_seconds,
        token=signed.token,
    )


@router.post("/staff", response_model=SessionOut, responses=LIMITED_RESPONSES)
def staff_sign_in(
    body: StaffSignInIn, request: Request, response: Response, ctx: Ctx
) -> SessionOut:
    limit_key(request, "login", body.username.strip().lower())
    signed = auth.sign_in_staff(ctx, body.username, body.password, body.totp, bearer(request))
    set_session_cookie(request, response, signed)
    return _session_out(signed)


@router.post("/code", response_model=CodeSentOut, status_code=202, responses=LIMITED_RESPONSES)
def request_code(body: CodeRequestIn, request: Request, ctx: Ctx) -> CodeSentOut:
    limit_key(request, "code", body.phone.strip())
    return CodeSentOut(expires_in=auth.send_code(ctx, body.phone))


@router.post("/code/verify", response_model=SessionOut, responses=LIMITED_RESPONSES)
def code_sign_in(body: CodeSignInIn, request: Request, response: Response, ctx: Ctx) -> SessionOut:
    limit_key(request, "login", body.phone.strip())
    signed = auth.sign_in_resident(ctx, body.phone, body.code, bearer(request))
    set_session_cookie(request, response, signed)
    return _session_out(signed)


@router.get("/session", response_model=SessionOut)
def who_am_i(caller: Caller) -> SessionOut:
    ref = "" if caller.kind == PrincipalKind.APPLICANT else caller.ref
    return SessionOut(kind=caller.kind, role=caller.role.value, ref=ref, venue_id=caller.venue_id)


@router.post("/logout", status_code=204)
def sign_out(caller: Caller, response: Response, ctx: Ctx) -> None:
    auth.sign_out(ctx, caller)
    response.delete_cookie(COOKIE)
