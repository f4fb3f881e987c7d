"""Admission to the primary for code display in a cluster: shed load instead of passing it on.

In a cluster code display reads the colour from the status read model and the rest from a
replica; the primary answers only what those cannot: a miss in the read model (a person who has
not shown a code for hours), a copy found behind the database, a Redis or replica that does not
answer. Normally that is a trickle. Under an overload (ten times the peak, Redis lost at rush
hour, the morning's first displays after the copies expired overnight) it would be everything,
and the primary, which also takes every check-in and status change, would fall over with it.

So each process lets at most `slots` such reads run on the primary at once; one more is refused
at once (503 with Retry-After: the app keeps showing the code it has, valid for minutes, and
asks again), never queued. The embedded default (one process, no read model) has no limit: the
primary is its only database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from healthcode.domain.errors import Unavailable

RETRY_SECONDS = 1


class Busy(Unavailable):
    """The primary's share for this process is in use: try again in RETRY_SECONDS."""

    code = "busy"
    retry_after = RETRY_SECONDS


class Admission:
    """At most `slots` holders at once; one more is refused (Busy), never kept waiting."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("at least one slot")
        self.slots = slots
        self._free = threading.BoundedSemaphore(slots)
        self.refused = 0  # since the process started, for /health and the benches

    @contextmanager
    def enter(self) -> Iterator[None]:
        if not self._free.acquire(blocking=False):
            self.refused += 1
            raise Busy("too many requests for the database at once: try again in a second")
        try:
            yield
        finally:
            self._free.release()


@contextmanager
def admitted(admission: Admission | None) -> Iterator[None]:
    """`admission.enter()`, or nothing to enter where there is no limit."""
    if admission is None:
        yield
        return
    with admission.enter():
        yield
