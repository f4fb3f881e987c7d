"""Public reads served from memory: the health report and the latest checkpoint are the same
for every caller, asked for far more often than they change, and fine to be a second old.

Each is kept, already encoded, for at most `MAX_AGE` seconds per process, and sent with
`Cache-Control: public, max-age=1` and an ETag, so that caches in front of the server and
clients that ask again with `If-None-Match` (304) share the work too. Once the copy is half that
old, the first request to see it starts reading the next one (a read transaction in a thread:
never a write lock) and every request meanwhile is answered with the copy still held; only a
copy past `MAX_AGE` makes requests wait, all of them for that one read. (Every request past the
age reading the database for itself made the tail: under load a thread gets the interpreter
back only between the event loop's turns, so a read of a few queries took up to a second, and
each of the sixteen connections of the benchmark waited on one such read every second.)
"""

from __future__ import annotations

import asyncio
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
        self._at = float("-inf")  # when the read of the held copy began
        self._reading: asyncio.Future[Encoded] | None = None

    async def current(self) -> Encoded:
        held, age = self._held, time.monotonic() - self._at
        if held is not None and age < MAX_AGE / 2:
            return held
        reading = self._next()
        if held is not None and age < MAX_AGE:
            return held  # still good: answered while the next copy is read
        return await asyncio.shield(reading)  # a request that gives up leaves the read running

    def _next(self) -> asyncio.Future[Encoded]:
        """The read of the next copy: the one under way, or a new one."""
        loop = asyncio.get_running_loop()
        reading = self._reading
        if reading is None or reading.done() or reading.get_loop() is not loop:
            reading = self._reading = loop.create_task(self._read())
            reading.add_done_callback(_seen)
        return reading

    async def _read(self) -> Encoded:
        began = time.monotonic()
        held = await run_in_threadpool(self._load)
        self._held, self._at = held, began
        return held

    async def answer(self, request: Request) -> Response:
        return respond(request, await self.current())


def _seen(reading: asyncio.Future[Encoded]) -> None:
    """A read nobody waited for that failed: the next request reads again (and is answered
    with the error if it fails again), so its exception is taken here, not left unretrieved."""
    if not reading.cancelled():
        reading.exception()


def respond(request: Request, held: Encoded) -> Response:
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": held.etag}
    if held.status == 200 and request.headers.get("if-none-match") == held.etag:
        return Response(status_code=304, headers=headers)
    return Response(held.body, held.status, headers, media_type="application/json")
