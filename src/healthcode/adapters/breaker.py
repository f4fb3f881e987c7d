"""A service that failed is given up on for a moment: not asked again for `retry` seconds (so that
one that hangs costs a timeout every few seconds, not one per request), and its failure logged at
most once a minute. Used for what a cluster shares over the network (Redis, NATS)."""

from __future__ import annotations

import logging
import math
import threading
import time


class Breaker:
    def __init__(self, log: logging.Logger, meanwhile: str, retry: float = 2.0) -> None:
        self.log = log
        self.meanwhile = meanwhile  # what the process does while the service is given up on
        self.retry = retry
        self.complain_every = 60.0
        self._down_until = -math.inf
        self._complained = -math.inf
        self._lock = threading.Lock()

    def open(self) -> bool:
        """True while the service is given up on."""
        return time.monotonic() < self._down_until

    def failed(self, error: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            self._down_until = now + self.retry
            if now - self._complained < self.complain_every:
                return
            self._complained = now
        self.log.warning("%s: %s", self.meanwhile, error)
