"""Token-bucket rate limits, in memory, per process.

Each key (a resident's pseudonym, a venue) has a bucket of `burst` tokens refilled at `rate` per
second; a request takes one token or is refused with the seconds until one is back. Buckets not
touched for a while are dropped so memory stays bounded. With several server processes each has
its own buckets (the limit multiplies by the number of processes); a shared store (Redis) is the
way to one limit per key across processes.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_KEYS = 100_000


class RateLimiter:
    def __init__(
        self,
        per_minute: float,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else per_minute)
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if allowed, else the seconds to wait before the next request can pass."""
        now = self._clock()
        with self._lock:
            tokens, stamp = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - stamp) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                allowed = True
            else:
                self._buckets[key] = (tokens, now)
                allowed = False
            while len(self._buckets) > MAX_KEYS:
                self._buckets.popitem(last=False)  # least recently used
        if allowed:
            return 0.0
        return (1.0 - tokens) / self.rate if self.rate > 0 else math.inf
