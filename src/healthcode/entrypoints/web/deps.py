"""Request dependencies: the service context, and the admin bearer token for privileged routes.

They are `async def` on purpose: none of them blocks, and FastAPI runs a plain `def` dependency
in the thread pool, a thread hop per dependency per request (the endpoint itself, which does
the database work, still runs in the pool)."""

from __future__ import annotations

import hmac
import math
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from healthcode.adapters.ratelimit import RateLimiter
from healthcode.bootstrap import App
from healthcode.config import Settings
from healthcode.domain.audit import Actor
from healthcode.services.context import ServiceContext


def get_app(request: Request) -> App:
    built: App = request.app.state.healthcode
    return built


async def get_ctx(request: Request) -> ServiceContext:
    return get_app(request).ctx


async def require_admin(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Actor:
    """Until staff accounts exist, administration needs the configured bearer token."""
    expected = get_app(request).settings.admin_token.get_secret_value()
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            401,
            "administration needs Authorization: Bearer <admin token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Actor("authority_admin", "admin-token")


def _limit(request: Request, kind: str, key: str) -> None:
    limiter: RateLimiter = request.app.state.limiters[kind]
    wait = limiter.take(key)
    if wait > 0:
        raise HTTPException(
            429,
            f"too many requests for this {kind}: try again in {math.ceil(wait)} s",
            headers={"Retry-After": str(math.ceil(wait))},
        )


async def limit_resident(request: Request, subject_id: str) -> None:
    """Floods of check-ins or reports from one resident are refused (429 + Retry-After)."""
    _limit(request, "resident", subject_id)


async def limit_venue(request: Request, venue_id: str) -> None:
    """Floods of scans or uploads from one venue's devices are refused (429 + Retry-After)."""
    _limit(request, "venue", venue_id)


def limiters(settings: Settings) -> dict[str, RateLimiter]:
    return {
        "resident": RateLimiter(settings.rate_checkins_per_minute),
        "venue": RateLimiter(settings.rate_device_per_minute),
    }


Ctx = Annotated[ServiceContext, Depends(get_ctx)]
Admin = Annotated[Actor, Depends(require_admin)]
ResidentLimit = Depends(limit_resident)
VenueLimit = Depends(limit_venue)
