"""What every command shares: settings from the environment, the app, and error handling.

A mistake the user can make (bad value, unknown id, weak secret, unreadable file) prints one
clear line and exits with status 2; nothing has been written by then.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from healthcode.adapters.crypto.keystore import KeyStoreError
from healthcode.bootstrap import App, build
from healthcode.config import Settings, SettingsWarning
from healthcode.domain.errors import DomainError
from healthcode.services.ports import Clock

P = ParamSpec("P")
R = TypeVar("R")
EXIT_USAGE = 2

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(EXIT_USAGE)


def load_settings() -> Settings:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            settings = Settings()
        for warning in caught:
            if issubclass(warning.category, SettingsWarning):
                err.print(f"[yellow]warning:[/yellow] {warning.message}")
            else:  # not ours (a driver's resource warning at garbage collection): as it was
                warnings.warn_explicit(
                    warning.message,
                    warning.category,
                    warning.filename,
                    warning.lineno,
                    source=warning.source,
                )
        return settings
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise fail(f"{where}: {first.get('msg')}") from None


@dataclass(frozen=True, slots=True)
class CliContext:
    """What a caller of the command line may inject: a clock (tests and drills pass a fixed one;
    the operator's shell passes nothing and gets the system clock). Given as Click's `obj`:
    `CliRunner().invoke(app, args, obj=CliContext(clock=...))`."""

    clock: Clock | None = None


_injected: ContextVar[CliContext | None] = ContextVar("healthcode_cli_context", default=None)


def _remember(ctx: typer.Context) -> None:
    found = ctx.find_root().obj
    _injected.set(found if isinstance(found, CliContext) else None)


def command_group(**options: Any) -> typer.Typer:
    """A group of commands that hands the caller's CliContext (if any) to `open_app`."""
    group = typer.Typer(**options)
    group.callback()(_remember)
    return group


def injected_clock() -> Clock | None:
    found = _injected.get()
    return found.clock if found is not None else None


def open_app() -> App:
    return build(load_settings(), clock=injected_clock())


def handles_errors(func: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            field = f" ({exc.field})" if exc.field else ""
            raise fail(f"{exc.message}{field} [{exc.code}]") from None
        except KeyStoreError as exc:
            raise fail(str(exc)) from None

    return wrapper


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, ensure_ascii=False, default=str))


def uvicorn_options() -> dict[str, str | bool]:
    """The fastest event loop and HTTP parser uvicorn can use here: uvloop and httptools (both
    in our dependencies; uvloop is not built for Windows), else asyncio and h11. No access log:
    it would write every request's path, many with a resident's id in them, to the server's
    output, a record of who asked about whom outside the public log and its retention."""
    import importlib.util

    fast_loop = importlib.util.find_spec("uvloop") is not None
    fast_http = importlib.util.find_spec("httptools") is not None
    return {
        "loop": "uvloop" if fast_loop else "asyncio",
        "http": "httptools" if fast_http else "h11",
        "access_log": False,
    }
