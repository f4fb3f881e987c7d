"""The hottest requests, answered in front of the framework and its middleware: "show my code"
by a resident's app, and the public reads (health, the latest checkpoint) from memory.

`POST /residents/{id}/code` with `Authorization: Bearer <token>` and no body is what every
resident's phone sends at every gate. Here, in front of FastAPI, it is handed straight to the
use case (services/codes.py: show_own_code: one statement, no write, the key from memory); when
that answers, the code is sent back as the route would send it. When it does not (anyone but the
resident themselves, an ended session, a status due to be derived again, any error), the request
goes on to FastAPI untouched, where the route, the deny-by-default check and the access gate
answer it as every other request is answered: this path can only ever say yes to the one caller
the general path would also say yes to, with the same code.

The route itself (routes_residents.py) stays the documented one: it answers what reaches it,
by the general path.

`GET /health` and `GET /log/checkpoint` (public, the same for everyone) are answered from the
same copy in memory their routes answer from (public_reads.py), with its ETag; a 404 (no
checkpoint yet) or any other method goes on to the routes.
"""

from __future__ import annotations

import asyncio
import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from healthcode.adapters.ratelimit import RateLimiter
from healthcode.domain.errors import Unavailable
from healthcode.domain.labs import SIGNATURE_HEADER
from healthcode.entrypoints.web.deps import TAKEN
from healthcode.entrypoints.web.errors import error_body
from healthcode.entrypoints.web.public_reads import CACHE_CONTROL, Encoded, PublicRead
from healthcode.entrypoints.web.routes_checkins import checkin_out
from healthcode.entrypoints.web.schemas import CheckInIn
from healthcode.services import checkins, codes
from healthcode.services.admission import Busy
from healthcode.services.context import ServiceContext

PATH = re.compile(r"^/residents/([0-9a-f]{32})/code$")
CHECKIN_PATH = re.compile(r"^/residents/([0-9a-f]{32})/checkins$")
MAX_BODY = 16 * 1024  # a check-in's body is a place code (≤ 2 KiB) and ≤ 10 dependants


class FastPath:
    def __init__(
        self,
        app: ASGIApp,
        ctx: ServiceContext,
        public: dict[str, PublicRead],
        limiters: dict[str, RateLimiter],
    ) -> None:
        self.app = app
        self.ctx = ctx
        self.public = public
        self.limiters = limiters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            held = self.public.get(scope["path"])
            if held is not None and not scope.get("query_string"):
                try:
                    found: Encoded | None = await held.current()
                except Exception:  # the route answers, through the error handlers
                    found = None
                if found is not None and found.status != 404:
                    await _send_public(send, found, _header(scope["headers"], b"if-none-match"))
                    return
        if scope["type"] == "http" and scope["method"] == "POST":
            checking_in = CHECKIN_PATH.match(scope["path"])
            if checking_in:
                await self._check_in(scope, receive, send, checking_in.group(1))
                return
            found = PATH.match(scope["path"])
            token = _bearer(scope["headers"]) if found else None
            if found and token:
                try:
                    if self.ctx.replica is not None or self.ctx.status_view is not None:
                        # A cluster's reads go over the network (Redis, a replica whose lag is
                        # probed now and then): off the event loop, so that none stalls it.
                        issued = await asyncio.to_thread(
                            codes.show_own_code, self.ctx, token, found.group(1)
                        )
                    else:  # one local statement: on the loop, cheaper than a thread hop
                        issued = codes.show_own_code(self.ctx, token, found.group(1))
                except Busy as busy:  # shed: the general path would ask the primary again
                    await _send_json(send, error_body(busy.code, busy.field, busy.message), 503,
                                     retry_after=busy.retry_after)  # fmt: skip
                    return
                except Exception:  # any failure is the general path's to answer
                    issued = None
                if issued is not None:
                    await _send_json(send, {
                        "code": issued.text,
                        "colour": issued.colour,
                        "issued_at": issued.issued_at,
                        "expires_at": issued.expires_at,
                        "rule_ref": issued.rule_ref,
                    })  # fmt: skip
                    return
        await self.app(scope, receive, send)

    async def _check_in(self, scope: Scope, receive: Receive, send: Send, subject: str) -> None:
        """A resident's own check-in: the rate limit, the body, then `check_in_own` (session,
        gate, poster and write in one transaction, committed with the others of the moment).
        Anything else, a refusal included, goes on to the route with the body as it came (the
        route's answer is the one every caller gets; a refused check-in wrote nothing)."""
        headers = scope["headers"]
        token = _bearer(headers)
        body, complete = await _body(receive)
        onward = _replay(body, complete, receive)
        limiter = self.limiters.get("resident")
        if (
            token is None
            or not complete
            or limiter is None
            or _header(headers, SIGNATURE_HEADER.encode()) is not None
        ):
            await self.app(scope, onward, send)
            return
        wait = limiter.take(subject)
        scope[TAKEN] = ("resident", subject, wait)  # the route's limit takes no second one
        if wait > 0:  # over the limit: the route answers 429
            await self.app(scope, onward, send)
            return
        made = None
        try:
            asked = CheckInIn.model_validate_json(body)
            made = await asyncio.wrap_future(
                checkins.check_in_own(self.ctx, token, subject, asked.place_code, asked.dependants)
            )
        except Unavailable as busy:
            # The checks passed and the write (or the ingest buffer) did not answer: answered
            # here. The route would check and publish again, and a publication that did land
            # after all would then be stored twice.
            await _send_json(send, error_body(busy.code, busy.field, busy.message), 503)
            return
        except Exception:  # bad input, a refusal, a failure: the route's to answer
            made = None
        if made is None:
            await self.app(scope, onward, send)
            return
        await _send_json(send, [checkin_out(c).model_dump(mode="json") for c in made], 201)


async def _body(receive: Receive) -> tuple[bytes, bool]:
    """The request's body, up to MAX_BODY bytes; False if it is longer or never came whole
    (the route then reads the rest)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > MAX_BODY:
            return b"".join(chunks), False


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """`receive` for the route: the body read so far, then whatever else comes."""
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return again


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> bytes | None:
    return next((value for name, value in headers if name == wanted), None)


async def _send_public(send: Send, held: Encoded, etag_seen: bytes | None) -> None:
    etag = held.etag.encode()
    headers = [(b"cache-control", CACHE_CONTROL.encode()), (b"etag", etag)]
    if held.status == 200 and etag_seen == etag:
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    headers += [(b"content-type", b"application/json"),
                (b"content-length", str(len(held.body)).encode())]  # fmt: skip
    await send({"type": "http.response.start", "status": held.status, "headers": headers})
    await send({"type": "http.response.body", "body": held.body})


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            token = value[7:].strip().decode("latin-1")
            return token or None
    return None


async def _send_json(
    send: Send, body: object, status: int = 200, *, retry_after: int | None = None
) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(data)).encode()),
               (b"cache-control", b"no-store")]  # fmt: skip
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
