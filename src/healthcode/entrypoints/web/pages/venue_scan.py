"""The guard's scanner: a page that reads health codes through the camera and decides admit or
refuse in the browser, offline, against our city's signed trust list.

The page carries what its script needs to verify on its own: the trust-list anchor's
fingerprint (so a cached or tampered list signed by another key is refused, as
verifier/trustlist.py refuses it), the verifier's policy (clock skew, refused colours), the city
and the venue. A service worker (`/venue/sw.js`, scope `/venue/`) keeps the page, its scripts
and the trust list for when the network is gone; admitted scans wait in the browser and are
uploaded to `POST /venues/{id}/uploads` (services/checkins.upload_scans) when it is back.

Who scans: venue staff signed in as usual, or a registered scanner device. A device signs in
once by pasting its token here; the token then rides in the same HttpOnly session cookie that
staff get (services/auth.authenticate already accepts a device token wherever a session token
is accepted).
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from healthcode.domain.accounts import PrincipalKind
from healthcode.domain.errors import DomainError, InvalidInput, Unauthenticated
from healthcode.entrypoints.web.deps import Ctx, limit_key
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages.rendering import PAGE_HEADERS, PageRoute, redirect, render
from healthcode.entrypoints.web.security import Caller, set_session_cookie
from healthcode.services import auth, keys, venues
from healthcode.services.verify import verify_policy
from healthcode.verifier.verify import MESSAGES, Reason

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/venue/scan"): "page.venue",
    ("GET", "/venue/sw.js"): "page.public",  # the worker's code: no data in it
    ("GET", "/venue/device"): "page.public",
    ("POST", "/venue/device"): "auth.login",
}

# A device token lives until its venue admin revokes it; the browser keeps it this long.
DEVICE_COOKIE_SECONDS = 90 * 86400
SERVICE_WORKER = "venue-sw.js"


def _(text: str) -> str:
    """Marks a text for the catalogue; the template translates it."""
    return text


# What the guard reads for each verifier reason (verify.py MESSAGES, in the reader's language).
REASONS: dict[Reason, str] = {
    Reason.OK: _("Valid code"),
    Reason.NOT_TEXT: _("Not a health code"),
    Reason.WRONG_PREFIX: _("Not a health code"),
    Reason.TOO_LARGE: _("Not a health code: too large"),
    Reason.BAD_BASE45: _("The code is damaged"),
    Reason.BAD_COMPRESSION: _("The code is damaged"),
    Reason.MALFORMED: _("The code is damaged"),
    Reason.WRONG_ALGORITHM: _("The code uses a signature that is not accepted"),
    Reason.UNKNOWN_KEY: _("The code is not signed by a key on the trust list"),
    Reason.KEY_WITHDRAWN: _("The code is signed by a withdrawn key"),
    Reason.BAD_SIGNATURE: _("Forged or altered code: the signature does not verify"),
    Reason.BAD_CLAIMS: _("The signed content is not a health code"),
    Reason.WRONG_ISSUER: _("The code names another city than its key"),
    Reason.LIFETIME_TOO_LONG: _("The code lives longer than any code may"),
    Reason.OUTSIDE_KEY_VALIDITY: _("The code was issued outside its key's validity"),
    Reason.NOT_YET_VALID: _("The code is not valid yet: check this device's clock"),
    Reason.EXPIRED: _("The code has expired: ask for a fresh one"),
    Reason.STATUS_EXPIRED: _("The status in the code has expired: ask for a fresh code"),
    Reason.STATUS_YELLOW: _("Yellow code"),
    Reason.STATUS_RED: _("Red code"),
}
assert set(REASONS) == set(MESSAGES)  # noqa: S101 - every reason the verifier gives has words

Text = Annotated[str, Form()]


@router.get("/venue/scan", response_class=HTMLResponse)
def scanner(request: Request, caller: Caller, ctx: Ctx) -> HTMLResponse:
    venue_id = caller.venue_id or ""
    venue = venues.venue_with_poster(ctx, venue_id).venue
    policy = verify_policy(ctx)
    settings = request.app.state.healthcode.settings
    return render(
        request,
        "venue/scan.html",
        venue=venue,
        anchor=keys.our_trust_list(ctx).anchor_fingerprint,
        own_city=ctx.policy.city,
        skew=policy.max_skew_seconds,
        lifetime=policy.max_lifetime_seconds,
        refused=" ".join(sorted(c.label for c in policy.refused_colours)),
        timezone=settings.display_timezone,
        reasons={r.value: text for r, text in REASONS.items()},
    )


@router.get("/venue/sw.js")
def service_worker() -> Response:
    """Served under /venue/ (not /static/) so that its scope can be the venue pages."""
    code = (
        resources.files("healthcode.entrypoints.web")
        .joinpath("static", "js", SERVICE_WORKER)
        .read_text("utf-8")
    )
    headers = PAGE_HEADERS | {"Cache-Control": "no-cache", "Service-Worker-Allowed": "/venue/"}
    return Response(code, media_type="text/javascript", headers=headers)


@router.get("/venue/device", response_class=HTMLResponse)
def device_sign_in_page(request: Request) -> HTMLResponse:
    return render(request, "venue/device.html", error=None)


@router.post("/venue/device", response_model=None)
def device_sign_in(request: Request, ctx: Ctx, token: Text = "") -> HTMLResponse | RedirectResponse:
    """A scanner device signs in once with the token its venue admin registered."""
    limit_key(request, "login", request.client.host if request.client else "unknown")
    token = token.strip()
    if not token:
        missing = InvalidInput("paste the device token", field="token")
        return render(request, "venue/device.html", status_of(missing), error=missing)
    try:
        principal = auth.authenticate(ctx, token)
        if principal.kind != PrincipalKind.DEVICE:
            raise Unauthenticated("this is not a valid device token", field="token")
    except DomainError as exc:
        error = Unauthenticated("this is not a valid device token", field="token")
        return render(request, "venue/device.html", status_of(exc), error=error)
    response = redirect("/venue/scan")
    signed = auth.SignedIn(token, principal, DEVICE_COOKIE_SECONDS, DEVICE_COOKIE_SECONDS)
    set_session_cookie(request, response, signed)
    return response
