"""Public reads served from memory: the health report and the latest checkpoint are the same
for every caller, asked for far more often than they change, and fine to be a second old.

Each is kept, already encoded, for at most `MAX_AGE` seconds per process, and sent with
`Cache-Control: public, max-age=1` and an ETag, so that caches in front of the server and
clients that ask again with `If-None-Match` (304) share the work too. A request that finds the
copy older than that reads the database (a read transaction: never a write lock) in a thread
and replaces it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

MAX_AGE = 1.0  # seconds a copy is served from memory (and may be cached downstream)
CACHE_CONTROL = "public, max-age=1"


@dataclass(frozen=True, slots=True)
class Encoded:
    status: int
    body: bytes
    etag: str


def encoded(status: int, payload: object) -> Encoded:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Encoded(status, body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


class PublicRead:
    """One public answer, kept in memory for MAX_AGE seconds."""

    def __init__(self, load: Callable[[], Encoded]) -> None:
        self._load = load
        self._held: Encoded | None = None
        self._at = float("-inf")

    async def current(self) -> Encoded:
        now = time.monotonic()
        held = self._held
        if held is None or now - self._at >= MAX_AGE:
            held = await run_in_threadpool(self._load)
            self._held, self._at = held, now
        return held

    async def answer(self, request: Request) -> Response:
        return respond(request, await self.current())


def respond(request: Request, held: Encoded) -> Response:
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": held.etag}
    if held.status == 200 and request.headers.get("if-none-match") == held.etag:
        return Response(status_code=304, headers=headers)
    return Response(held.body, held.status, headers, media_type="application/json")
