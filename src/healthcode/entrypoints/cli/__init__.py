"""`healthcode`: the command line of the platform (Typer + Rich).

healthcode demo | init | serve | staff | resident | code | venue | checkin | lab | case | rules
           | status | keys | trust | log | retention | verify | audit
"""

from __future__ import annotations

from typing import Annotated

import typer

from healthcode.bootstrap import initialise
from healthcode.entrypoints.cli.checkins import checkin_app
from healthcode.entrypoints.cli.common import (
    command_group,
    console,
    fail,
    handles_errors,
    injected_clock,
    load_settings,
    open_app,
    uvicorn_options,
)
from healthcode.entrypoints.cli.demo import demo_app
from healthcode.entrypoints.cli.ingest import ingest
from healthcode.entrypoints.cli.keys import keys_app, trust_app
from healthcode.entrypoints.cli.labs import case_app, lab_app
from healthcode.entrypoints.cli.log import log_app
from healthcode.entrypoints.cli.residents import code_app, residents
from healthcode.entrypoints.cli.retention import retention_app
from healthcode.entrypoints.cli.rules import rules_app, status_app
from healthcode.entrypoints.cli.staff import staff_app
from healthcode.entrypoints.cli.venues import venue_app
from healthcode.entrypoints.cli.worker import worker
from healthcode.entrypoints.launch import loading
from healthcode.services import keys
from healthcode.services.verify import verify_policy
from healthcode.verifier import cli as verifier_cli
from healthcode.verifier.verify import verify_health_code

app = command_group(
    help="healthcode: accountable health codes, place codes and a public log.", no_args_is_help=True
)
app.add_typer(demo_app, name="demo")
app.command()(worker)
app.command()(ingest)
app.add_typer(staff_app, name="staff")
app.add_typer(residents, name="resident")
app.add_typer(code_app, name="code")
app.add_typer(venue_app, name="venue")
app.add_typer(checkin_app, name="checkin")
app.add_typer(lab_app, name="lab")
app.add_typer(case_app, name="case")
app.add_typer(rules_app, name="rules")
app.add_typer(status_app, name="status")
app.add_typer(keys_app, name="keys")
app.add_typer(trust_app, name="trust")
app.add_typer(log_app, name="log")
app.add_typer(retention_app, name="retention")
app.add_typer(verifier_cli.audit_app, name="audit")


@app.command()
@handles_errors
def init() -> None:
    """Create the key store, the database schema and the keys; publish the trust list."""
    built = open_app()
    created = initialise(built)
    stored = keys.our_trust_list(built.ctx)
    console.print(f"database: {built.engine.url.render_as_string(hide_password=True)}")
    console.print(f"keys: {len(created)} created; trust list v{stored.version}")
    console.print(f"anchor fingerprint: {stored.anchor_fingerprint}")


@app.command()
@handles_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Default: settings (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Default: settings (8000)")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes (one per core); background work runs in one of them. Set "
            "HEALTHCODE_REDIS_URL so that rate limits count across them.",
        ),
    ] = 1,
) -> None:
    """Initialise if needed, then serve the HTTP API (OpenAPI at /docs)."""
    import uvicorn

    settings = load_settings()
    if workers > 1 and injected_clock() is not None:
        raise fail("--workers: each worker process runs on the system clock; serve one")
    built = open_app()  # migrations and the first status rebuild: garbage by the row
    initialise(built)
    bind_host, bind_port = host or settings.host, port or settings.port
    console.print(f"healthcode API on http://{bind_host}:{bind_port}  (docs: /docs)")
    if workers > 1:
        if not settings.redis_url:
            console.print("[yellow]rate limits count per process: set HEALTHCODE_REDIS_URL[/]")
        built.close()  # each worker opens its own (create_app reads the same settings)
        uvicorn.run(
            "healthcode.entrypoints.web.app:create_app",
            factory=True,
            workers=workers,
            host=bind_host,
            port=bind_port,
            log_level="info",
            **uvicorn_options(),
        )
        return
    with loading():  # the app lives as long as the process: loaded and built once, then frozen
        from healthcode.entrypoints.web.app import create_app

        served = create_app(built=built)
    uvicorn.run(
        served,
        host=bind_host,
        port=bind_port,
        log_level="info",
        **uvicorn_options(),
    )


@app.command()
@handles_errors
def verify(
    code: Annotated[str, typer.Argument(help="Code text, or a PNG/JPEG/text file")],
    trust: Annotated[
        list[str] | None,
        typer.Option(help="FILE:FINGERPRINT; default: the trust lists in this server's database"),
    ] = None,
    now: Annotated[int | None, typer.Option(help="Verify as of this epoch second")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Admit / refuse / invalid, offline. Exit 0 admit, 1 refuse, 3 invalid, 2 bad input."""
    if trust:
        clock = injected_clock()
        verifier_cli.verify(code, trust, now or (clock.now() if clock else None), 300, as_json)
        return
    built = open_app()
    verdict = verify_health_code(
        verifier_cli.read_code(code),
        keys.trust_store(built.ctx),
        now or built.ctx.clock.now(),
        verify_policy(built.ctx),
    )
    verifier_cli.show_verdict(verdict, as_json)
    verifier_cli.exit_for(verdict)


def main() -> None:
    app()


__all__ = ["app", "main"]
