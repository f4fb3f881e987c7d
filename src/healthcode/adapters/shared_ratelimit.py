"""Rate limits shared by every process of a city, in Redis (the cluster deployment).

With several API processes, each with its own buckets in memory (ratelimit.py), a limit of N a
minute lets through N a minute per process. Here every process counts in the same Redis, through
the `limits` library (a maintained implementation of windowed limits over Redis, with atomic Lua
scripts; we do not write our own): the sliding-window counter, which keeps two counters per key
and weighs the previous window by how much of it still overlaps, so that a burst cannot pass
twice at a window's edge as with fixed windows.

- A limit of `burst` requests refilled at `per_minute` (ratelimit.RateLimiter's terms) becomes
  `burst` per window of `burst / per_minute` minutes: the same long-run rate and the same burst.
- Redis never holds who is limited: the key is a keyed hash (HMAC-SHA-256) of the kind and the
  key (a resident's id, a venue, a client address), with a secret from the city's key store, and
  it expires with its window.
- A Redis that does not answer never turns a request into a 500: the process falls back to its
  own buckets in memory (the limit then counts per process, as in the embedded default) and logs
  it, at most once a minute, and tries Redis again after RETRY_SECONDS (so that a Redis that
  hangs costs one timeout per process every few seconds, not one per request).

The calls are synchronous and short (one round trip to Redis, on the same host or network:
about 0.1 ms), made where the in-memory limiter was called: on the event loop in the fast path
and the request dependencies, as the hot reads of one row are.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable

import redis
from limits import RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from healthcode.adapters.breaker import Breaker
from healthcode.adapters.ratelimit import RateLimiter

log = logging.getLogger("healthcode.ratelimit")
RETRY_SECONDS = 2.0
TIMEOUT_SECONDS = 0.5  # a Redis that takes longer is treated as down for this request


class SharedStore:
    """One Redis connection pool and the strategy over it, for every limit of the process."""

    def __init__(self, url: str, namespace: str, secret: bytes) -> None:
        self.namespace = namespace
        self._secret = secret
        self.storage = RedisStorage(
            url,
            key_prefix=f"healthcode:{namespace}",
            wrap_exceptions=True,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
        )
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)
        self._breaker = Breaker(
            log, "shared rate limits unreachable, limiting per process meanwhile", RETRY_SECONDS
        )

    def tag(self, kind: str, key: str) -> str:
        """What Redis holds for (kind, key): a keyed hash, never the key itself."""
        message = f"{kind}\0{key}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def reachable(self) -> bool:
        """False for RETRY_SECONDS after Redis last failed."""
        return not self._breaker.open()

    def failed(self, error: BaseException) -> None:
        self._breaker.failed(error)

    def clear(self) -> None:
        """Forget every count of this namespace (tests, and a city being reset)."""
        self.storage.reset()


class SharedRateLimiter(RateLimiter):
    """RateLimiter's `take`, counted in Redis across processes; its own buckets (the parent's)
    only while Redis does not answer."""

    def __init__(
        self,
        store: SharedStore,
        kind: str,
        per_minute: float,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(per_minute, burst, clock)
        self.store = store
        self.kind = kind
        amount = max(1, int(self.burst))
        window = max(1, round(amount / self.rate)) if self.rate > 0 else 365 * 86400
        self.item = RateLimitItemPerSecond(amount, window, namespace=kind)

    def take(self, key: str) -> float:
        if not self.store.reachable():
            return super().take(key)
        tag = self.store.tag(self.kind, key)
        try:
            if self.store.strategy.hit(self.item, tag):
                return 0.0
            reset = self.store.strategy.get_window_stats(self.item, tag).reset_time
        except (StorageError, redis.RedisError, OSError) as error:
            self.store.failed(error)
            return super().take(key)
        wait = reset - time.time()
        if wait <= 0:  # the sliding window's estimate at a window's edge: one slot's share
            wait = self.item.get_expiry() / self.item.amount
        return wait
