"""Request dependencies: the service context, the acting principal as the log names them, and
rate limits (RL-1). Who may call which route is decided in security.py.

They are `async def` on purpose: none of them blocks, and FastAPI runs a plain `def` dependency
in the thread pool, a thread hop per dependency per request (the endpoint itself, which does
the database work, still runs in the pool)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from healthcode.adapters.ratelimit import RateLimiter
from healthcode.adapters.shared_ratelimit import SharedRateLimiter, SharedStore
from healthcode.bootstrap import App
from healthcode.config import Settings
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.domain.audit import Actor
from healthcode.entrypoints.web.security import authorise
from healthcode.services import auth, enrolment
from healthcode.services.context import ServiceContext


def get_app(request: Request) -> App:
    built: App = request.app.state.healthcode
    return built


async def get_ctx(request: Request) -> ServiceContext:
    return get_app(request).ctx


def limit_key(request: Request, kind: str, key: str) -> None:
    """Take one token for `key` from the `kind` bucket, or answer 429 + Retry-After."""
    _limit(request, kind, key)


# Scope key: (kind, key, wait) of the token the fast path took for this request in front of the
# routes (fast_path.py), so that the route's limit neither takes a second one nor lets it pass.
TAKEN = "healthcode.rate_taken"


def _limit(request: Request, kind: str, key: str) -> None:
    taken = request.scope.get(TAKEN)
    if taken is not None and taken[:2] == (kind, key):
        wait = taken[2]
    else:
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


async def limit_client(request: Request) -> None:
    """Verification by anyone is limited per client address."""
    _limit(request, "client", request.client.host if request.client else "unknown")


async def limit_venue(request: Request, venue_id: str) -> None:
    """Floods of scans or uploads from one venue's devices are refused (429 + Retry-After)."""
    _limit(request, "venue", venue_id)


def limit_enrolment(request: Request, phone_tag: str, doc_type: str, doc_number: str) -> None:
    """An applicant's enrolments are limited per phone, per document and per address, so that
    nobody can try many ID numbers (the answer tells nothing, but the session does later)."""
    _limit(request, "enrol_phone", phone_tag)
    _limit(request, "enrol_document", enrolment.document_key(doc_type, doc_number))
    _limit(request, "enrol_address", request.client.host if request.client else "unknown")


def limiters(settings: Settings, shared: SharedStore | None = None) -> dict[str, RateLimiter]:
    """Each kind's limiter: in memory, per process (the embedded default), or counted in Redis by
    every process of the city when `shared` is given (the cluster: shared_ratelimit.py)."""
    per_hour = settings.rate_enrolments_per_hour / 60
    per_address_hour = settings.rate_enrolments_per_address_hour / 60
    kinds: dict[str, tuple[float, int | None]] = {
        "enrol_phone": (per_hour, settings.rate_enrolments_per_hour),
        "enrol_document": (per_hour, settings.rate_enrolments_per_hour),
        "enrol_address": (per_address_hour, settings.rate_enrolments_per_address_hour),
        "resident": (settings.rate_checkins_per_minute, None),
        "venue": (settings.rate_device_per_minute, None),
        "login": (settings.rate_logins_per_minute, None),
        "code": (settings.rate_codes_per_minute, None),
        "client": (settings.rate_verify_per_minute, None),
    }
    if shared is None:
        return {kind: RateLimiter(rate, burst) for kind, (rate, burst) in kinds.items()}
    return {
        kind: SharedRateLimiter(shared, kind, rate, burst) for kind, (rate, burst) in kinds.items()
    }


async def acting(request: Request, caller: Annotated[Principal, Depends(authorise)]) -> Actor:
    """The caller as the log names them: staff and devices by id, residents by commitment."""
    ctx = get_app(request).ctx
    if caller.kind == PrincipalKind.RESIDENT:  # a read of the vault: not on the event loop
        return await run_in_threadpool(auth.actor_for, ctx, caller)
    return auth.actor_for(ctx, caller)


Ctx = Annotated[ServiceContext, Depends(get_ctx)]
Acting = Annotated[Actor, Depends(acting)]
ResidentLimit = Depends(limit_resident)
VenueLimit = Depends(limit_venue)
ClientLimit = Depends(limit_client)
