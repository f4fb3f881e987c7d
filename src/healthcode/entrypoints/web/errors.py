"""Every error becomes a JSON body naming the code, the field and the reason; never a stack trace.

Domain errors map to 4xx (or 503 when a key or the store is unavailable: fail closed). Request
validation errors name the offending field. Anything unforeseen is a bare 500 with no detail.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from healthcode.adapters.crypto.keystore import KeyStoreError
from healthcode.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Refused,
    TooMany,
    Unauthenticated,
    Unavailable,
)
from healthcode.services import access

log = logging.getLogger("healthcode.web")

STATUS = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    Unavailable: 503,
    Unauthenticated: 401,
    Forbidden: 403,
    TooMany: 429,
}


def error_body(code: str, field: str | None, message: str) -> dict[str, object]:
    return {"error": {"code": code, "field": field, "message": message}}


def install(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        """Forbidden objects answer exactly as missing ones (AUTHZ-3); the attempt is logged."""
        principal = getattr(request.state, "principal", None)
        if principal is not None:
            ctx = request.app.state.healthcode.ctx
            await run_in_threadpool(access.log_refusal, ctx, principal, exc)
        return JSONResponse(error_body(NotFound.code, exc.field, exc.message), status_code=404)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        status = next((s for kind, s in STATUS.items() if isinstance(exc, kind)), 400)
        headers = None
        if isinstance(exc, TooMany):
            headers = {"Retry-After": str(exc.retry_after)}
        elif isinstance(exc, Unauthenticated):
            headers = {"WWW-Authenticate": "Bearer"}
        body = error_body(exc.code, exc.field, exc.message)
        rows = getattr(exc, "errors", None)  # a refused import lists every bad row
        if rows:
            body["error"]["rows"] = [  # type: ignore[index]
                {"line": r.line, "field": r.field, "message": r.message} for r in rows
            ]
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(loc) or None
        message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
        return JSONResponse(error_body("invalid_input", field, message), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            401: "unauthenticated",
            404: "not_found",
            405: "method_not_allowed",
            429: "rate_limited",
        }
        code = codes.get(exc.status_code, f"http_{exc.status_code}")
        return JSONResponse(
            error_body(code, None, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(KeyStoreError)
    async def _keys(_: Request, exc: KeyStoreError) -> JSONResponse:
        log.error("key store unavailable: %s", exc)
        return JSONResponse(
            error_body("unavailable", None, "signing keys are unavailable"), status_code=503
        )

    @app.exception_handler(OperationalError)
    async def _database(_: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", type(exc.orig).__name__)
        return JSONResponse(
            error_body("unavailable", None, "the database is unavailable"), status_code=503
        )
