"""Request dependencies: the service context, and the admin bearer token for privileged routes."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from healthcode.bootstrap import App
from healthcode.domain.audit import Actor
from healthcode.services.context import ServiceContext


def get_app(request: Request) -> App:
    built: App = request.app.state.healthcode
    return built


def get_ctx(request: Request) -> ServiceContext:
    return get_app(request).ctx


def require_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> Actor:
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


Ctx = Annotated[ServiceContext, Depends(get_ctx)]
Admin = Annotated[Actor, Depends(require_admin)]
