"""Deny by default over HTTP (AUTHZ-1): every route names its action here, the app refuses to
start if one does not, and one dependency on every route signs the caller in and checks the
action against the policy table (domain/access.py) before the endpoint runs.

Who the caller is comes from `Authorization: Bearer <token>` (API clients, venue devices) or the
`hc_session` cookie (the web app): HttpOnly, SameSite=Strict, Secure unless served on loopback.
Which *object* they may touch is the business of the access gates in services/access.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated
from urllib.parse import urlparse

from fastapi import Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute, APIRouter

from healthcode.domain.access import POLICY, Role
from healthcode.domain.accounts import PUBLIC, Principal
from healthcode.domain.errors import Forbidden, InvalidInput, Unauthenticated
from healthcode.domain.labs import SIGNATURE_HEADER, parse_signature
from healthcode.services import access, auth, lab_registry, labs

COOKIE = "hc_session"

# (method, path) -> action. One row per API route; the roles × routes matrix test reads this
# table. The web pages keep theirs beside their routes (pages/__init__.py: PAGE_ACTIONS).
ROUTE_ACTIONS: dict[tuple[str, str], str] = {
    ("GET", "/health"): "ops.health",
    # Signing in and out, staff and devices.
    ("POST", "/auth/staff"): "auth.login",
    ("POST", "/auth/code"): "auth.login",
    ("POST", "/auth/code/verify"): "auth.login",
    ("GET", "/auth/session"): "auth.session",
    ("POST", "/auth/logout"): "auth.logout",
    ("GET", "/staff"): "staff.read",
    ("POST", "/staff"): "staff.request",
    ("POST", "/staff/{staff_id}/role"): "staff.request",
    ("POST", "/staff/{staff_id}/enable"): "staff.request",
    ("POST", "/staff/{staff_id}/disable"): "staff.request",
    ("GET", "/staff/requests"): "staff.read",
    ("POST", "/staff/requests/{request_id}/approve"): "staff.decide",
    ("POST", "/staff/requests/{request_id}/refuse"): "staff.decide",
    ("GET", "/venues/{venue_id}/devices"): "venue.device.manage",
    ("POST", "/venues/{venue_id}/devices"): "venue.device.manage",
    ("POST", "/venues/{venue_id}/devices/{device_id}/revoke"): "venue.device.manage",
    ("POST", "/cases/{case_id}/assign"): "case.assign",
    # Residents.
    ("POST", "/residents"): "resident.enrol",
    ("POST", "/residents/{subject_id}/dependants"): "resident.dependant.add",
    ("GET", "/residents/{subject_id}/dependants"): "resident.dependant.list",
    ("POST", "/residents/{subject_id}/code"): "resident.code.issue",
    ("GET", "/residents/{subject_id}/status"): "resident.status.read",
    ("POST", "/residents/{subject_id}/status/what-if"): "resident.status.what_if",
    ("GET", "/residents/{subject_id}/notices"): "resident.notices.read",
    ("POST", "/residents/{subject_id}/symptoms"): "resident.symptoms.report",
    ("POST", "/residents/{subject_id}/quarantine"): "fact.quarantine",
    ("POST", "/residents/{subject_id}/vaccinations"): "fact.vaccination",
    ("POST", "/residents/{subject_id}/checkins"): "resident.checkin",
    ("GET", "/residents/{subject_id}/checkins"): "resident.checkins.read",
    ("POST", "/residents/{subject_id}/checkins/{venue_id}/{checkin_id}/checkout"): (
        "resident.checkin"
    ),
    ("GET", "/residents/{subject_id}/log"): "resident.log.read",
    # Colours and rules.
    ("POST", "/statuses/sweep"): "status.sweep",
    ("GET", "/rulesets"): "rules.read",
    ("GET", "/rulesets/active"): "rules.read",
    ("GET", "/rulesets/{set_id}/{version}"): "rules.read",
    ("POST", "/rulesets"): "rules.load",
    ("POST", "/rulesets/{set_id}/{version}/dry-run"): "rules.dry_run",
    ("POST", "/rulesets/{set_id}/{version}/activation-requests"): "rules.activation.request",
    ("GET", "/rulesets/activation-requests"): "rules.load",
    ("POST", "/rulesets/activation-requests/{seq}/approve"): "rules.activate",
    # Venues and gates.
    ("POST", "/venues"): "venue.register",
    ("GET", "/venues/{venue_id}"): "venue.read",
    ("POST", "/venues/{venue_id}/poster/rotate"): "venue.poster.rotate",
    ("GET", "/venues/{venue_id}/poster.{fmt}"): "venue.poster.read",
    ("POST", "/venues/{venue_id}/scans"): "venue.scan",
    ("POST", "/venues/{venue_id}/uploads"): "venue.upload",
    ("POST", "/place-codes/check"): "place_code.check",
    ("POST", "/verify"): "code.verify",
    ("POST", "/verify/image"): "code.verify",
    # Labs, cases, tracing.
    ("GET", "/labs"): "lab.read",
    ("POST", "/labs"): "lab.register",
    ("POST", "/labs/{lab_id}/approve"): "lab.approve",
    ("POST", "/labs/{lab_id}/revoke"): "lab.register",
    ("POST", "/lab-results"): "lab.submit",
    ("POST", "/lab-results/csv"): "lab.submit",
    ("POST", "/lab-results/fhir"): "lab.submit",
    ("GET", "/cases"): "case.list",
    ("POST", "/cases/trace"): "case.trace_outbreak",
    ("POST", "/cases/{case_id}/trace"): "case.trace",
    # Keys and trust lists.
    ("GET", "/trust-list"): "trust.read",
    ("GET", "/trust-lists"): "trust.read",
    ("GET", "/trust-lists/documents"): "trust.read",
    ("POST", "/trust-lists"): "trust.import",
    ("GET", "/keys"): "keys.read",
    ("POST", "/keys/{use}/rotate"): "keys.manage",
    ("POST", "/keys/{kid}/withdraw"): "keys.manage",
    # Manual orders and appeals.
    ("GET", "/legal-bases"): "rules.read",
    ("POST", "/orders"): "order.propose",
    ("GET", "/orders/awaiting"): "order.review",
    ("GET", "/orders/{order_id}"): "order.review",
    ("POST", "/orders/{order_id}/approve"): "order.decide",
    ("POST", "/orders/{order_id}/reject"): "order.decide",
    ("POST", "/orders/{order_id}/revoke"): "order.revoke",
    ("POST", "/orders/{order_id}/release"): "order.release",
    ("POST", "/orders/{order_id}/refuse"): "order.release",
    ("GET", "/residents/{subject_id}/orders"): "resident.orders.read",
    ("POST", "/residents/{subject_id}/appeals"): "resident.appeal.file",
    ("GET", "/residents/{subject_id}/appeals"): "resident.appeals.read",
    ("GET", "/appeals"): "appeal.queue",
    ("POST", "/appeals/{appeal_id}/decide"): "appeal.decide",
    # Transparency.
    ("GET", "/report"): "report.read",
    ("GET", "/anomalies"): "anomaly.read",
    # The public log.
    ("GET", "/log/checkpoint"): "log.read",
    ("GET", "/log/checkpoints"): "log.read",
    ("GET", "/log/vkey"): "log.read",
    ("GET", "/log/entries"): "log.read",
    ("GET", "/log/proof/inclusion"): "log.read",
    ("GET", "/log/proof/consistency"): "log.read",
    ("GET", "/log/export"): "log.read",
}


def api_routes(app: FastAPI, routers: Iterable[APIRouter]) -> list[tuple[str, str]]:
    """Every (method, path) the app serves through FastAPI, from the app and its routers."""
    found = [r for r in app.router.routes if isinstance(r, APIRoute)]
    for router in routers:
        found += [r for r in router.routes if isinstance(r, APIRoute)]
    return sorted({(m, r.path) for r in found for m in (r.methods or ())})


def check_routes(served: list[tuple[str, str]], table: dict[tuple[str, str], str]) -> None:
    """AUTHZ-1: refuse to start with a route that names no action, or an action nobody knows."""
    unmapped = [f"{m} {p}" for m, p in served if (m, p) not in table]
    if unmapped:
        raise RuntimeError("routes without an action (deny by default): " + ", ".join(unmapped))
    unknown = sorted({a for a in table.values() if a not in POLICY})
    if unknown:
        raise RuntimeError("actions missing from the policy table: " + ", ".join(unknown))


def route_action(request: Request) -> str:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        raise RuntimeError("authorisation ran outside a route")
    table: dict[tuple[str, str], str] = request.app.state.route_actions
    return table[(request.method, route.path)]


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.cookies.get(COOKIE) or None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cross_site(request: Request) -> bool:
    """A state-changing request that carries the session cookie but comes from another site's
    page. SameSite=Strict already keeps browsers from sending the cookie there; this is the
    second lock (Sec-Fetch-Site, else Origin against Host), for older browsers and proxies."""
    if request.method in SAFE_METHODS or COOKIE not in request.cookies:
        return False
    if request.headers.get("authorization"):
        return False  # a bearer token is never attached by a browser on its own
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is not None and urlparse(origin).netloc != request.headers.get("host")


# Routes whose use case reads the session itself, in its one transaction (the hot path of a
# check-in, services/checkins.py: check_in_own; "show my code" has its own, in front of the
# routes: fast_path.py); each falls back to `signed_in` below for
# anything but the plain case, so the same checks run as on every other route.
DEFERRED: frozenset[tuple[str, str]] = frozenset({("POST", "/residents/{subject_id}/checkins")})


def deferred_token(request: Request) -> str | None:
    """The bearer token of a deferred route, still to be checked by its use case; None when
    the caller was resolved here as on every other route."""
    token: str | None = getattr(request.state, "deferred_token", None)
    return token


async def authorise(request: Request) -> Principal:
    """Run on every route (and cached for the request): who is calling, and may their role
    attempt this route's action? A signed-in caller's refusal goes on the log. On a deferred
    route a session token is left to the use case (which reads it in its own transaction) and
    the public is returned here: nothing on such a route may act on it (`signed_in`)."""
    if cross_site(request):
        raise Forbidden("a request from another site may not use this session")
    token = bearer(request)
    if (
        token
        and SIGNATURE_HEADER not in request.headers
        and (request.method, getattr(request.scope.get("route"), "path", "")) in DEFERRED
    ):
        request.state.deferred_token = token
        return PUBLIC
    return await signed_in(request)


async def signed_in(request: Request) -> Principal:
    """Who is calling, and may their role attempt this route's action (the second half of
    `authorise`, also what a deferred route falls back to)."""
    request.state.deferred_token = None
    built = request.app.state.healthcode
    token = bearer(request)
    signed = request.headers.get(SIGNATURE_HEADER)
    if signed is not None:  # a lab: its key signs the request (domain/labs.py)
        principal = await _lab(request, built, signed)
    elif token:
        principal = await run_in_threadpool(auth.authenticate, built.ctx, token)
    else:  # No token, no database read: the public is answered without a thread hop.
        principal = PUBLIC
    request.state.principal = principal
    action = route_action(request)
    if principal.role is Role.PUBLIC and Role.PUBLIC not in POLICY[action]:
        raise Unauthenticated("sign in first")
    try:
        access.require(principal, action)
    except Forbidden:
        subject = request.path_params.get("subject_id")
        await run_in_threadpool(access.log_route_refusal, built.ctx, principal, action, subject)
        raise
    return principal


async def _lab(request: Request, built: object, header: str) -> Principal:
    """The lab whose key signed this request's body for this route, now; 401 otherwise."""
    ctx = built.ctx  # type: ignore[attr-defined]
    body = await request.body()
    try:
        signed = parse_signature(header)
        lab = await run_in_threadpool(
            lab_registry.authenticate_lab, ctx, signed, request.url.path, body
        )
    except (InvalidInput, Forbidden) as exc:
        raise Unauthenticated(exc.template, field=SIGNATURE_HEADER, params=exc.params) from None
    return labs.lab_principal(lab)


Caller = Annotated[Principal, Depends(authorise)]


def set_session_cookie(request: Request, response: Response, signed: auth.SignedIn) -> None:
    """The web app's session: HttpOnly (no script reads it), SameSite=Strict (no other site's
    page can send it, which is also the CSRF defence), Secure except on loopback."""
    loopback = request.url.hostname in ("127.0.0.1", "localhost", "::1")
    response.set_cookie(
        COOKIE,
        signed.token,
        max_age=signed.absolute_seconds,
        httponly=True,
        secure=not loopback,
        samesite="strict",
    )
