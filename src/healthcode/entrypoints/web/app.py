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
    errors,
    routes_checkins,
    routes_labs,
    routes_log,
    routes_residents,
    routes_trust,
    routes_venues,
    routes_verify,
)
from healthcode.entrypoints.web.schemas import ERROR_RESPONSES
from healthcode.services import audit

log = logging.getLogger("healthcode.web")


async def checkpoint_ticker(built: App) -> None:
    """The T-seconds half of the checkpoint rule (AUD-3): sign waiting entries periodically."""
    while True:
        await asyncio.sleep(built.settings.checkpoint_every_seconds)
        try:
            await asyncio.to_thread(audit.checkpoint_now, built.ctx)
        except Exception:  # keep ticking; the failure is logged loudly
            log.exception("periodic checkpoint failed")


def create_app(settings: Settings | None = None, built: App | None = None) -> FastAPI:
    if built is None:
        built = build(settings or Settings())
        initialise(built)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ticker = asyncio.create_task(checkpoint_ticker(built))
        try:
            yield
        finally:
            ticker.cancel()

    app = FastAPI(
        title="healthcode",
        version=__version__,
        summary="Health codes, place codes and a public transparency log",
        lifespan=lifespan,
    )
    app.state.healthcode = built
    errors.install(app)
    routers = (
        routes_residents,
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
