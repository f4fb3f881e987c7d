"""create_app(settings): the HTTP API, with OpenAPI published at /openapi.json and /docs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from healthcode import __version__
from healthcode.bootstrap import App, build, initialise
from healthcode.config import Settings
from healthcode.entrypoints.web import (
    deps,
    errors,
    routes_checkins,
    routes_labs,
    routes_log,
    routes_residents,
    routes_rules,
    routes_status,
    routes_trust,
    routes_venues,
    routes_verify,
)
from healthcode.entrypoints.web.schemas import ERROR_RESPONSES
from healthcode.services import audit, status

log = logging.getLogger("healthcode.web")
STATUS_SWEEP_SECONDS = 60


async def checkpoint_ticker(built: App) -> None:
    """The T-seconds half of the checkpoint rule (AUD-3): sign waiting entries periodically."""
    while True:
        await asyncio.sleep(built.settings.checkpoint_every_seconds)
        try:
            await asyncio.to_thread(audit.checkpoint_now, built.ctx)
        except Exception:  # keep ticking; the failure is logged loudly
            log.exception("periodic checkpoint failed")


async def status_sweeper(built: App) -> None:
    """Colours run out by themselves: re-derive (and log) the expired ones every minute."""
    while True:
        await asyncio.sleep(STATUS_SWEEP_SECONDS)
        try:
            await asyncio.to_thread(status.sweep, built.ctx)
        except Exception:  # keep sweeping; the failure is logged loudly
            log.exception("status sweep failed")


def create_app(settings: Settings | None = None, built: App | None = None) -> FastAPI:
    if built is None:
        built = build(settings or Settings())
        initialise(built)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(checkpoint_ticker(built)),
            asyncio.create_task(status_sweeper(built)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()

    app = FastAPI(
        title="healthcode",
        version=__version__,
        summary="Health codes, place codes and a public transparency log",
        lifespan=lifespan,
    )
    app.state.healthcode = built
    app.state.limiters = deps.limiters(built.settings)
    errors.install(app)
    routers = (
        routes_residents,
        routes_status,
        routes_rules,
        routes_checkins,
        routes_labs,
        routes_venues,
        routes_verify,
        routes_trust,
        routes_log,
    )
    for module in routers:
        app.include_router(module.router, responses=ERROR_RESPONSES)

    @app.get("/health", tags=["operations"])
    def health() -> dict[str, object]:
        return {"status": "ok", "city": built.settings.city, "log_size": audit.log_size(built.ctx)}

    return app
