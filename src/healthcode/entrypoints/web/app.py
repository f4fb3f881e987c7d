"""create_app(settings): the HTTP API, with OpenAPI published at /openapi.json and /docs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine

from fastapi import Depends, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp

from healthcode import __version__
from healthcode.adapters.db.leadership import Leadership, leadership_for
from healthcode.adapters.shared_ratelimit import SharedStore
from healthcode.bootstrap import App, build, initialise
from healthcode.config import Settings
from healthcode.entrypoints.web import (
    deps,
    errors,
    fast_path,
    public_reads,
    routes_auth,
    routes_checkins,
    routes_labs,
    routes_log,
    routes_orders,
    routes_report,
    routes_residents,
    routes_rules,
    routes_staff,
    routes_status,
    routes_trust,
    routes_venues,
    routes_verify,
    security,
)
from healthcode.entrypoints.web.pages import site as pages
from healthcode.entrypoints.web.schemas import AUTH_RESPONSES, ERROR_RESPONSES, HealthOut
from healthcode.services import anomalies, audit, retention, status, status_queue, trace

log = logging.getLogger("healthcode.web")
STATUS_SWEEP_SECONDS = 60
ANOMALY_WATCH_SECONDS = 300
# The published bound on the delay between a state change's commit and its entry's place in the
# log: each commit sequences its own entries at once; this job sequences, every second, what a
# process left in the queue by dying between its commit and its sequencing.
LOG_SEQUENCE_SECONDS = 1
PURGE_SECONDS = 3600
ARCHIVE_SECONDS = 3600


async def every(
    seconds: float,
    job: Callable[[], object],
    what: str,
    leader: Leadership,
    *,
    at_start: bool = False,
) -> None:
    """Run `job` in a thread every `seconds` (and once at start, if asked), for as long as the
    server runs, whenever this process leads the city's background work (one process of all,
    adapters/db/leadership.py); a failure is logged loudly and the next tick tries again."""
    first = at_start
    while True:
        if not first:
            await asyncio.sleep(seconds)
        first = False
        try:
            await asyncio.to_thread(_led, leader, job)
        except Exception:
            log.exception("%s failed", what)


def _led(leader: Leadership, job: Callable[[], object]) -> None:
    if leader.lead():
        job()


def background_jobs(built: App, leader: Leadership) -> list[Coroutine[None, None, None]]:
    """The city's background work, each job run by whichever process leads (`leader`)."""
    ctx = built.ctx
    return [
        # The log's queue: nothing waits longer than LOG_SEQUENCE_SECONDS to be sequenced.
        every(LOG_SEQUENCE_SECONDS, lambda: audit.sequence(ctx), "log sequencer", leader),
        # The T-seconds half of the checkpoint rule (AUD-3): sign waiting entries.
        every(built.settings.checkpoint_every_seconds, lambda: audit.checkpoint_now(ctx),
              "periodic checkpoint", leader),
        # A trace's colour work, if its own request did not get to it (a process died).
        every(status_queue.QUEUE_BOUND_SECONDS, lambda: status_queue.settle(ctx), "colour work",
              leader),
        # Colours run out by themselves: re-derive (and log) the expired ones.
        every(STATUS_SWEEP_SECONDS, lambda: status.sweep(ctx), "status sweep", leader),
        # Alerts on colour changes without a health basis, order bursts, non-health clusters.
        every(ANOMALY_WATCH_SECONDS, lambda: anomalies.watch(ctx), "anomaly watch", leader),
        # Closed days of check-ins into the contact archive (when the city keeps one).
        *([every(ARCHIVE_SECONDS, lambda: trace.archive_days(ctx), "contact archive", leader,
                 at_start=True)] if ctx.archive is not None else []),
        # Personal data past retention is deleted (and its day keys destroyed).
        every(PURGE_SECONDS, lambda: retention.purge(ctx), "retention purge", leader,
              at_start=True),
    ]  # fmt: skip


# FastAPI's own OpenTelemetry spans, metrics and logs stay off, whatever the environment says:
# they would carry request paths (a resident's id is in many), validation failures and
# exception messages to whatever exporter the environment names, outside the public log and
# its accountability. (Off, each request also skips looking for a configured provider.)
TELEMETRY_OFF: TelemetryConfig = {
    "tracing": False, "metrics": False, "logs": False, "operation_spans": False,
    "auto_configure": False,
}  # fmt: skip


class CityApi(FastAPI):
    """FastAPI with the fast path (`state.front`, fast_path.py) in front of its middleware
    stack: the hottest requests skip the error, telemetry and body-limit layers, which the
    fast path does not need (it answers only what cannot fail, and hands on everything else)."""

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        front = getattr(self.state, "front", None)
        return stack if front is None else front(stack)


VENDOR = "/static/vendor"
# The docs pages load and connect to this server only (ReDoc's sidebar would fetch its maker's
# logo from a CDN: the browser does not ask); Swagger UI starts from an inline script, ReDoc
# searches in a worker of its own.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; font-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _api_docs(app: FastAPI) -> None:
    """The API's docs, /docs (Swagger UI) and /redoc (ReDoc), from the vendored copies
    (scripts/vendor-js), so that they work offline and ask no other host for anything."""

    async def swagger(_: Request) -> Response:
        return _own_only(
            get_swagger_ui_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=f"{app.title} API",
                swagger_js_url=f"{VENDOR}/swagger-ui-dist/swagger-ui-bundle.js",
                swagger_css_url=f"{VENDOR}/swagger-ui-dist/swagger-ui.css",
                swagger_favicon_url="/static/icon.svg",
            )
        )

    async def redoc(_: Request) -> Response:
        return _own_only(
            get_redoc_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=f"{app.title} API",
                redoc_js_url=f"{VENDOR}/redoc/redoc.standalone.js",
                redoc_favicon_url="/static/icon.svg",
                with_google_fonts=False,
            )
        )

    app.add_route("/docs", swagger, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)


def _own_only(page: Response) -> Response:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


def create_app(settings: Settings | None = None, built: App | None = None) -> FastAPI:
    # No access log, however the server was started (`healthcode serve` also tells uvicorn not
    # to write one): it would write every request's path, many with a resident's id in them, to
    # the server's output, a record of who asked about whom outside the public log.
    logging.getLogger("uvicorn.access").disabled = True
    if built is None:
        built = build(settings or Settings())
        initialise(built)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        leader = leadership_for(built.engine)
        app.state.leader = leader
        tasks = [asyncio.create_task(job) for job in background_jobs(built, leader)]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            leader.close()

    app = CityApi(
        title="healthcode",
        version=__version__,
        summary="Health codes, place codes and a public transparency log",
        lifespan=lifespan,
        dependencies=[Depends(security.authorise)],  # deny by default, on every route
        docs_url=None,  # served below from the vendored Swagger UI and ReDoc: no CDN
        redoc_url=None,
        telemetry=TELEMETRY_OFF,
    )
    app.state.healthcode = built
    app.state.route_actions = security.ROUTE_ACTIONS | pages.PAGE_ACTIONS
    _api_docs(app)
    shared = None
    if built.settings.redis_url:  # a cluster: every process counts the same limits
        secret = built.keyring.shared_secret("rate-limit")
        shared = SharedStore(built.settings.redis_url, built.settings.city, secret)
    app.state.limiters = deps.limiters(built.settings, shared)
    errors.install(app)

    def health_now() -> public_reads.Encoded:
        leader: Leadership | None = getattr(app.state, "leader", None)  # set once serving
        purge = retention.purge_health(built.ctx)
        queue = audit.log_queue(built.ctx)
        colours = status_queue.state(built.ctx)
        return public_reads.encoded(
            503 if purge.degraded else 200,
            {
                "status": "degraded" if purge.degraded else "ok",
                "city": built.settings.city,
                "log_size": audit.log_size(built.ctx),
                "log_queue": {
                    "pending": queue.pending,
                    "oldest_seconds": queue.oldest_seconds,
                    "bound_seconds": LOG_SEQUENCE_SECONDS,
                },
                "colour_queue": {
                    "pending": colours.pending,
                    "oldest_seconds": colours.oldest_seconds or 0,
                    "bound_seconds": status_queue.QUEUE_BOUND_SECONDS,
                },
                "jobs_leader": leader is not None and leader.held,
                "purge": {
                    "status": purge.status,
                    "last_run_at": purge.last_run_at,
                    "last_ok_at": purge.last_ok_at,
                    "error": purge.error,
                },
                **replica_health(),
            },
        )

    def replica_health() -> dict[str, object]:
        """Where the public reads come from, and the bound they are held to (a cluster)."""
        replica = built.ctx.replica
        if replica is None:
            return {}
        lag = replica.lag()
        return {
            "public_reads": {
                "serving": replica.serving(),
                "replica_lag_seconds": round(lag, 3) if lag != float("inf") else None,
                "bound_seconds": replica.bound,
            }
        }

    app.state.health = public_reads.PublicRead(health_now)
    app.state.checkpoint = public_reads.PublicRead(lambda: routes_log.latest_now(built.ctx))
    # "Show my code" by a resident's app and the public reads from memory, answered in front
    # of the whole middleware stack (entrypoints/web/fast_path.py); everything else goes on.
    public = {"/health": app.state.health, "/log/checkpoint": app.state.checkpoint}
    app.state.front = lambda stack: fast_path.FastPath(
        stack, ctx=built.ctx, public=public, limiters=app.state.limiters
    )

    @app.get(
        "/health",
        tags=["operations"],
        response_model=HealthOut,
        responses={503: {"description": "Degraded: the retention purge failed or is overdue"}},
    )
    async def health(request: Request) -> Response:
        """Up, and whether personal data is being purged on time (RET-2: a failed or overdue
        purge makes the server report itself degraded, 503). At most a second old."""
        return await app.state.health.answer(request)

    # Routes are matched in order: the hot ones (show my code, check-ins, gate checks, public
    # reads) come first, so that they are found before the rest is tried.
    routers = (
        routes_residents,
        routes_checkins,
        routes_verify,
        routes_log,
        routes_trust,
        routes_auth,
        routes_staff,
        routes_status,
        routes_rules,
        routes_labs,
        routes_venues,
        routes_orders,
        routes_report,
    )
    for module in routers:
        app.include_router(module.router, responses=ERROR_RESPONSES | AUTH_RESPONSES)
    for router in pages.ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("healthcode.entrypoints.web", "static")]), "static")
    security.check_routes(
        security.api_routes(app, [m.router for m in routers] + list(pages.ROUTERS)),
        app.state.route_actions,
    )
    return app
