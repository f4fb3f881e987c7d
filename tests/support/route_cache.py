"""Each route's request handling built once per test process, not once per app.

FastAPI builds a route's parameter and response models (pydantic schemas, one TypeAdapter per
parameter) when an app first routes a request, for every route of each router it passes on the
way: about 0.15 s per app here. A server builds one app per process; the suite builds one per
test that talks HTTP (well over a thousand), from the same module-level routes included the same
way, so it spent more time building routes than many of those tests spent testing. This keeps
what FastAPI built for a route under the same inclusion (prefix, router) and hands it to every
later app of the process.

What is shared is only what the route and its inclusion determine: the endpoint, its parameters,
its response model. Requests still go through each app's own middleware, state and services
(`request.app` is the app that received the request). A built route would also hold the app that
may override its dependencies: a shared one is built for none, so it looks up no overrides. No
test overrides a dependency (a route asked for while an app has overrides is built for that app
alone, but one built before is not). If FastAPI's internals move, `install` does nothing and the
suite runs as before, only slower.
"""

from __future__ import annotations

import dataclasses
from typing import Any

_installed = False
# What an inclusion may add to a route: the same values give the same built route.
_INCLUSION = ("prefix", "tags", "dependencies", "default_response_class", "responses",
              "callbacks", "deprecated", "include_in_schema", "strict_content_type",
              "max_body_size", "form_limits")  # fmt: skip


def install() -> None:
    global _installed
    if _installed:
        return
    try:
        from fastapi import routing
    except ImportError:  # pragma: no cover - FastAPI is a dependency
        return
    effective = getattr(routing, "_EffectiveRouteContext", None)
    original = getattr(effective, "from_api_route", None)
    if effective is None or original is None:
        return  # FastAPI builds routes another way: nothing to share
    built: dict[tuple[int, int, str], Any] = {}
    keep: list[Any] = []  # the routes and routers keyed by id stay alive, so no id is reused

    def from_api_route(*, original_route: Any, include_context: Any) -> Any:
        provider = getattr(include_context, "dependency_overrides_provider", None)
        if getattr(provider, "dependency_overrides", None):
            return original(original_route=original_route, include_context=include_context)
        key = (
            id(original_route),
            id(getattr(include_context, "included_router", None)),
            repr([getattr(include_context, name, None) for name in _INCLUSION]),
        )
        found = built.get(key)
        if found is None:
            # Built for no app in particular: a shared route holds no app's overrides (none is
            # set: see above) and keeps no app, with its services, alive.
            shared = dataclasses.replace(include_context, dependency_overrides_provider=None)
            found = original(original_route=original_route, include_context=shared)
            built[key] = found
            keep.append((original_route, include_context))  # what the key's ids and reprs name
        return found

    effective.from_api_route = from_api_route
    _installed = True
