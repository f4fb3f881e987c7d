"""The ingest buffer of a cluster: check-ins through a NATS JetStream stream (nats-py).

At the morning peak a megacity checks in 20 k people a second, more than one database primary
takes in single transactions. With the buffer, an API process checks the check-in as always
(session, access gate, poster, daily cap: reads only) and publishes it to a stream replicated on
three NATS servers; the resident's 201 is sent once the stream has acknowledged it, which
JetStream does only after a majority of the servers stored it. Consumers (`healthcode ingest`,
any number) pull batches, write each batch in one transaction and acknowledge the messages only
after the commit: a consumer killed before its commit leaves the messages to be delivered again
(after ACK_WAIT_SECONDS), and one killed between commit and acknowledgement sees them again and
stores nothing twice (checkins.add_new skips what is stored: the check-in's id is the row's key).
The check-in id is also the message id, so a publication repeated within the stream's duplicate
window (a lost acknowledgement, a retry) is stored once in the stream too.

What a message holds: the check-in's row as the database stores it, with the person only as the
ciphertext of the day's key (adapters/crypto/checkin_keys.py), never their id. The stream keeps
a message until a consumer acknowledges it (work-queue retention), and never longer than the
check-ins are kept (max age = the retention period): once the day's key is destroyed, what might
still lie in the stream is nobody's, and a consumer drops it.

The client runs on an event loop of its own, in a thread; `publish` blocks its caller (a worker
thread of `run`, never the web server's event loop) until every message is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from typing import Any

import nats
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError

from healthcode.adapters.breaker import Breaker
from healthcode.adapters.db.sealing import DaySeal
from healthcode.domain.checkins import DAY, CheckIn, CheckInSource
from healthcode.domain.errors import Unavailable

log = logging.getLogger("healthcode.ingest")


def _fail(done: Future[None], error: BaseException) -> None:
    """Resolve `done` with Unavailable (once: a late acknowledgement or timer finds it done)."""
    if done.done():
        return
    failure = Unavailable("the check-in buffer does not answer: try again")
    failure.__cause__ = error
    with contextlib.suppress(InvalidStateError):  # resolved in between, by the other side
        done.set_exception(failure)


async def _settle(answer: Callable[[], Awaitable[None]]) -> None:
    """Acknowledge (or hand back, or terminate) a message; a connection lost meanwhile only
    means it is delivered again (and stored once)."""
    try:
        await answer()
    except Exception as error:
        log.warning("ingest: answering a message failed (it comes again): %s", error)


def _succeed(done: Future[None]) -> None:
    with contextlib.suppress(InvalidStateError):  # the timer got there first: too late
        done.set_result(None)


PUBLISH_TIMEOUT_SECONDS = 5.0  # no acknowledgement within this: 503, the resident tries again
CONNECT_TIMEOUT_SECONDS = 2.0
ACK_WAIT_SECONDS = 10.0  # a consumer that died holding messages: delivered again after this
DUPLICATE_WINDOW_SECONDS = 120.0
FETCH_TIMEOUT_SECONDS = 1.0
RETRY_SECONDS = 2.0  # after a failed connection, publications fail at once this long
CONSUMER = "ingest"
WORKERS = 4  # threads writing consumers' batches
PUBLISH_BATCH = 512  # publications sent in one round at most


class NatsCheckInStream:
    def __init__(
        self,
        servers: Sequence[str],
        city: str,
        days: DaySeal,
        *,
        replicas: int = 3,
        max_age_seconds: int = 14 * DAY,
        ack_wait_seconds: float = ACK_WAIT_SECONDS,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.servers = list(servers)
        self.subject = f"healthcode.{city}.checkins"
        self.stream = f"HEALTHCODE_{city.replace('-', '_')}_CHECKINS"
        self.days = days
        self.replicas = replicas
        self.max_age_seconds = max_age_seconds
        self.ack_wait_seconds = ack_wait_seconds
        self.now = clock or (lambda: int(time.time()))  # the city's clock (tests inject it)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats", daemon=True)
        self._thread.start()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="ingest")
        self._nc: Any = None
        self._js: Any = None
        self._ready: asyncio.Lock | None = None
        self._breaker = Breaker(log, "the ingest buffer does not answer", RETRY_SECONDS)
        self._outbox: asyncio.Queue[tuple[list[tuple[str, bytes]], Future[None]]] | None = None
        self._sender: asyncio.Task[None] | None = None
        asyncio.run_coroutine_threadsafe(self._started(), self._loop).result(5)

    # -- the loop's side --------------------------------------------------------------------

    async def _started(self) -> None:
        self._start_sender()

    async def _jetstream(self) -> Any:
        if self._ready is None:
            self._ready = asyncio.Lock()
        async with self._ready:
            if self._js is None:
                if self._breaker.open():  # failed a moment ago: fail at once
                    raise Unavailable("the check-in buffer does not answer: try again")
                client = None
                try:
                    client = await nats.connect(
                        self.servers,
                        connect_timeout=CONNECT_TIMEOUT_SECONDS,
                        max_reconnect_attempts=-1,
                        reconnect_time_wait=0.5,
                        allow_reconnect=True,
                    )
                    js = client.jetstream(timeout=PUBLISH_TIMEOUT_SECONDS)
                    await self._ensure_stream(js)
                except BaseException:  # cancelled included: no client left reconnecting
                    self._breaker.failed(RuntimeError("no NATS server took the connection"))
                    if client is not None:
                        with contextlib.suppress(Exception):
                            await client.close()
                    raise
                self._nc, self._js = client, js
        return self._js

    def _config(self) -> StreamConfig:
        return StreamConfig(
            name=self.stream,
            subjects=[self.subject],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            num_replicas=self.replicas,
            max_age=float(self.max_age_seconds),
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            discard=DiscardPolicy.NEW,  # full: refuse new check-ins, never drop stored ones
        )

    async def _ensure_stream(self, js: Any) -> None:
        try:
            await js.add_stream(self._config())
        except BadRequestError:  # there, with other settings (a changed retention period)
            await js.update_stream(self._config())

    async def _send(self) -> None:
        """The loop's publisher: every publication waiting is sent at once (one gather), each
        caller's future resolved with its own acknowledgements (group publication: many
        callers, one wake-up of the loop and one round of acknowledgements)."""
        assert self._outbox is not None  # noqa: S101 - made with the loop
        while True:
            first = await self._outbox.get()
            batch = [first]
            while not self._outbox.empty() and len(batch) < PUBLISH_BATCH:
                batch.append(self._outbox.get_nowait())
            try:
                # Bounded: the client's first connection would otherwise be tried for ever.
                js = await asyncio.wait_for(
                    self._jetstream(), CONNECT_TIMEOUT_SECONDS + PUBLISH_TIMEOUT_SECONDS
                )
                sends = [
                    [js.publish(self.subject, body, headers={"Nats-Msg-Id": msg_id})
                     for msg_id, body in messages]
                    for messages, _ in batch
                ]  # fmt: skip
                results = await asyncio.wait_for(
                    asyncio.gather(*[c for one in sends for c in one], return_exceptions=True),
                    PUBLISH_TIMEOUT_SECONDS,
                )
            except Exception as error:  # no server answers in time: every caller hears it
                for _, done in batch:
                    _fail(done, error)
                continue
            at = 0
            for (messages, done), _ in zip(batch, sends, strict=True):
                mine = results[at : at + len(messages)]
                at += len(messages)
                error = next((r for r in mine if isinstance(r, BaseException)), None)
                if error is not None:
                    _fail(done, error)
                else:
                    _succeed(done)

    def _start_sender(self) -> None:
        self._outbox = asyncio.Queue()
        self._sender = self._loop.create_task(self._send())

    # -- the callers' side ------------------------------------------------------------------

    def submit(self, found: Sequence[CheckIn]) -> Future[None]:
        """Publish these check-ins; the future resolves once the stream holds every one of them
        durably (acknowledged by a majority of its servers), or with Unavailable if it does not
        within the timeout."""
        messages = [(f"{c.venue_id}/{c.checkin_id}", self._encode(c)) for c in found]
        done: Future[None] = Future()
        self._loop.call_soon_threadsafe(self._enqueue, messages, done)
        return done

    def _enqueue(self, messages: list[tuple[str, bytes]], done: Future[None]) -> None:
        assert self._outbox is not None  # noqa: S101
        self._outbox.put_nowait((messages, done))

    def publish(self, found: Sequence[CheckIn]) -> None:
        """`submit`, waited for (at most a connection's and a publication's timeout)."""
        try:
            self.submit(found).result(2 * PUBLISH_TIMEOUT_SECONDS + CONNECT_TIMEOUT_SECONDS + 1)
        except TimeoutError as error:
            raise Unavailable("the check-in buffer does not answer: try again") from error

    def _encode(self, checkin: CheckIn) -> bytes:
        day = checkin.time_in - checkin.time_in % DAY
        (sealed,) = self.days.seal(day, [checkin.subject_id])
        row = {
            "venue_id": checkin.venue_id,
            "checkin_id": checkin.checkin_id,
            "subject": sealed,
            "time_in": checkin.time_in,
            "closes_at": checkin.closes_at,
            "time_out": checkin.time_out,
            "source": checkin.source.value,
            "client_id": checkin.client_id,
        }
        return json.dumps(row, separators=(",", ":")).encode()

    def decode(self, body: bytes) -> CheckIn | None:
        """The check-in of a message; None if its day's key is gone (nobody's any more).
        Raises ValueError for a message that is not one of ours, and KeyError for a day whose
        key this process cannot see although the day is within the retention period."""
        try:
            row = json.loads(body)
            time_in = int(row["time_in"])
            sealed = str(row["subject"])
            closes_at, source = int(row["closes_at"]), CheckInSource(row["source"])
            time_out = row.get("time_out")
            venue_id, checkin_id = str(row["venue_id"]), str(row["checkin_id"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"not a check-in message: {error!r}") from error
        opened = self.days.open(time_in - time_in % DAY, [sealed])
        if opened is None:
            if time_in >= self.now() - self.max_age_seconds - DAY:
                raise KeyError(f"no key for the day of {time_in} here, yet it is kept")
            return None  # past retention: nobody's any more
        return CheckIn(
            venue_id, checkin_id, opened[0], time_in, closes_at, source,
            None if time_out is None else int(time_out), row.get("client_id"),
        )  # fmt: skip

    # -- consumers --------------------------------------------------------------------------

    def consume(
        self,
        store: Callable[[list[CheckIn]], int],
        stop: Callable[[], bool],
        *,
        batch: int = 500,
        stored: Callable[[int, int], None] | None = None,
    ) -> None:
        """Pull batches until `stop()`: each batch's check-ins stored by `store` (one
        transaction), then acknowledged. `stored(messages, added)` after each batch."""
        future = asyncio.run_coroutine_threadsafe(
            self._consume(store, stop, batch, stored), self._loop
        )
        future.result()

    async def _consume(
        self,
        store: Callable[[list[CheckIn]], int],
        stop: Callable[[], bool],
        batch: int,
        stored: Callable[[int, int], None] | None,
    ) -> None:
        config = ConsumerConfig(
            durable_name=CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_seconds,
            max_ack_pending=50_000,
        )
        loop = asyncio.get_running_loop()
        subscription = None
        while not stop():
            try:
                if subscription is None:
                    js = await asyncio.wait_for(
                        self._jetstream(), CONNECT_TIMEOUT_SECONDS + PUBLISH_TIMEOUT_SECONDS
                    )
                    subscription = await js.pull_subscribe(
                        self.subject, durable=CONSUMER, config=config
                    )
                messages = await subscription.fetch(batch, timeout=FETCH_TIMEOUT_SECONDS)
            except NatsTimeout:
                continue
            except (NatsError, TimeoutError, OSError, Unavailable) as error:
                # A server went away, or the stream's leader is being elected again: the
                # client reconnects; ask again shortly.
                log.warning("ingest fetch failed, trying again: %s", error)
                await asyncio.sleep(0.5)
                continue
            added = await self._store(messages, store, loop)
            if stored is not None:
                stored(len(messages), added)

    async def _store(
        self,
        messages: list[Any],
        store: Callable[[list[CheckIn]], int],
        loop: asyncio.AbstractEventLoop,
    ) -> int:
        """One batch: decoded, stored in one transaction, then acknowledged. A message that is
        not ours is terminated (logged, never delivered again); one whose day key is gone is
        dropped (logged as an error if its day is within retention). If the
        batch's transaction fails, each message is tried alone, and one that fails alone is
        handed back (delivered again after the ack wait): one bad message never holds up the
        others."""
        ready: list[tuple[Any, CheckIn]] = []
        for message in messages:
            try:
                checkin = self.decode(message.data)
            except ValueError:
                log.error("ingest: a message that is not a check-in, terminated")
                await _settle(message.term)
                continue
            except KeyError as missing:
                # Within retention, a day's key is gone only at the sunset (or this consumer
                # was given another key store): dropped, loudly, never silently.
                log.error("ingest: %s: the check-in is dropped (the sunset, or a consumer "
                          "without the city's key store)", missing.args[0])  # fmt: skip
                await _settle(message.ack)
                continue
            if checkin is None:
                await _settle(message.ack)
            else:
                ready.append((message, checkin))
        if not ready:
            return 0
        try:
            added = await loop.run_in_executor(self._pool, store, [c for _, c in ready])
        except Exception:
            log.exception("storing %d check-ins failed; trying each alone", len(ready))
            added = 0
            for message, checkin in ready:
                try:
                    added += await loop.run_in_executor(self._pool, store, [checkin])
                except Exception:
                    log.exception("storing a check-in failed; it will come again")
                    await _settle(message.nak)
                    continue
                await _settle(message.ack)
            return added
        for message, _ in ready:
            await _settle(message.ack)
        return added

    def pending(self) -> int:
        """Messages in the stream not yet acknowledged by a consumer."""

        async def count() -> int:
            js = await self._jetstream()
            info = await js.stream_info(self.stream)
            return int(info.state.messages)

        bounded = asyncio.wait_for(count(), CONNECT_TIMEOUT_SECONDS + PUBLISH_TIMEOUT_SECONDS)
        return asyncio.run_coroutine_threadsafe(bounded, self._loop).result()

    def close(self) -> None:
        async def drain() -> None:
            if self._sender is not None:
                self._sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._sender
            while self._outbox is not None and not self._outbox.empty():
                _, done = self._outbox.get_nowait()
                _fail(done, RuntimeError("the process is stopping"))
            if self._nc is not None:
                await self._nc.close()

        with contextlib.suppress(Exception):  # closing what may be gone already
            asyncio.run_coroutine_threadsafe(drain(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
