"""Every error becomes a JSON body naming the code, the field and the reason; never a stack trace.

Domain errors map to 4xx (or 503 when a key or the store is unavailable: fail closed). Request
validation errors name the offending field. Anything unforeseen is a bare 500 with no detail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from healthcode.adapters.crypto.keystore import KeyStoreError
from healthcode.domain.errors import (
    N_,
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
from healthcode.entrypoints.web.pages import i18n
from healthcode.entrypoints.web.pages.rendering import is_page, render, said
from healthcode.services import access
from healthcode.services.admission import Busy

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


# A form's field a page rejected before any use case saw it (pydantic's error types).
VALIDATION = {
    "missing": N_("%(field)s: this is required"),
    "string_too_short": N_("%(field)s: at least %(min_length)s characters"),
    "string_too_long": N_("%(field)s: at most %(max_length)s characters"),
    "too_long": N_("%(field)s: at most %(max_length)s items"),
    "too_short": N_("%(field)s: at least %(min_length)s items"),
    "int_parsing": N_("%(field)s: a whole number is expected"),
    "int_type": N_("%(field)s: a whole number is expected"),
    "float_parsing": N_("%(field)s: a number is expected"),
    "bool_parsing": N_("%(field)s: yes or no is expected"),
    "greater_than_equal": N_("%(field)s: at least %(ge)s"),
    "less_than_equal": N_("%(field)s: at most %(le)s"),
    "literal_error": N_("%(field)s: expected one of %(expected)s"),
    "enum": N_("%(field)s: expected one of %(expected)s"),
    "string_pattern_mismatch": N_("%(field)s: not in the expected form"),
    "string_type": N_("%(field)s: text is expected"),
    "json_invalid": N_("%(field)s: not valid JSON"),
}
HTTP_REASONS = {
    404: N_("There is nothing at this address."),
    405: N_("This address does not take this kind of request."),
}


def error_body(code: str, field: str | None, message: str) -> dict[str, object]:
    return {"error": {"code": code, "field": field, "message": message}}


def status_of(exc: DomainError) -> int:
    return next((s for kind, s in STATUS.items() if isinstance(exc, kind)), 400)


def answer(
    request: Request,
    status: int,
    code: str,
    field: str | None,
    message: str,
    headers: dict[str, str] | None = None,
    params: Mapping[str, object] | None = None,
) -> Response:
    """JSON for the API (the message in English); for a web page, the same error as a page in
    the reader's language (`message` is then a template, filled with `params` after it is
    translated), and a sign-in page (that comes back here) when the session is missing or over."""
    if not is_page(request):
        text = message % dict(params) if params else message
        return JSONResponse(error_body(code, field, text), status_code=status, headers=headers)
    if status == 401:
        back = request.url.path if request.method == "GET" else "/"
        return RedirectResponse(f"/sign-in?{urlencode({'next': back})}", status_code=303)
    shown = said(i18n.negotiate(request), message, params)
    page = render(request, "error.html", status, code=code, field=field, message=shown)
    page.headers.update(headers or {})
    return page


def install(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        """Forbidden objects answer exactly as missing ones (AUTHZ-3); the attempt is logged."""
        principal = getattr(request.state, "principal", None)
        if principal is not None:
            ctx = request.app.state.healthcode.ctx
            await run_in_threadpool(access.log_refusal, ctx, principal, exc)
        return answer(request, 404, NotFound.code, exc.field, exc.template, None, exc.params)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        status = status_of(exc)
        headers = None
        if isinstance(exc, TooMany | Busy):
            headers = {"Retry-After": str(exc.retry_after)}
        elif isinstance(exc, Unauthenticated):
            headers = {"WWW-Authenticate": "Bearer"}
        if is_page(request):
            return answer(request, status, exc.code, exc.field, exc.template, headers, exc.params)
        body = error_body(exc.code, exc.field, exc.message)
        rows = getattr(exc, "errors", None)  # a refused import lists every bad row
        if rows:
            body["error"]["rows"] = [  # type: ignore[index]
                {"line": r.line, "field": r.field, "message": r.message} for r in rows
            ]
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = [str(p) for p in first.get("loc", ())]
        loc = [p for p in where if p not in ("body", "query", "path")]
        field = ".".join(loc) or (where[0] if where else "request")  # a missing body: "body"
        if is_page(request):  # the reason in the reader's language, by the kind of error
            template = VALIDATION.get(str(first.get("type")), N_("%(field)s: not valid"))
            wanted = {k: v for k, v in (first.get("ctx") or {}).items()
                      if isinstance(v, int | str)}  # fmt: skip
            return answer(request, 422, "invalid_input", field, template, None,
                          {"field": field, **wanted})  # fmt: skip
        message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
        return answer(request, 422, "invalid_input", field, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        codes = {
            401: "unauthenticated",
            404: "not_found",
            405: "method_not_allowed",
            429: "rate_limited",
        }
        if exc.status_code == 400:  # FastAPI could not read the body: bad UTF-8, nested too deep
            unreadable = N_("body: not readable as JSON (UTF-8, nested a few hundred deep at most)")
            return answer(request, 422, "invalid_input", "body", unreadable)
        code = codes.get(exc.status_code, f"http_{exc.status_code}")
        detail = str(exc.detail)
        if is_page(request):  # Starlette's English reason, as a sentence in the reader's language
            detail = HTTP_REASONS.get(exc.status_code, detail)
        return answer(request, exc.status_code, code, None, detail, getattr(exc, "headers", None))

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
