"""Clocks: the real one, and a settable one for tests and drills (colours expire by time)."""

from __future__ import annotations

import time


class SystemClock:
    def now(self) -> int:
        return int(time.time())


class FixedClock:
    def __init__(self, now: int) -> None:
        self._now = now

    def now(self) -> int:
        return self._now

    def advance(self, seconds: int) -> None:
        self._now += seconds

    def set(self, now: int) -> None:
        self._now = now
