"""The process's sequencer thread: the log's queue sequenced soon after a commit, without the
committer waiting for it.

A use case that answers someone who waits (a tracer's trace, adapters/db/uow.py: a unit of work
opened with `sequence_soon`) commits its state change with its log entries queued, wakes this
thread, and answers: the entries are in the queue, durable, committed with the change, and are
shown as pending until they are sequenced. The thread then runs the sequencer (one round covers
every commit that woke it meanwhile); the server's job does it every second in any case, so the
published bound between a commit and its entry's place in the log (1 s) holds even if this
thread fails.

The thread starts on the first wake, ends after IDLE_SECONDS without one, and on `close` stops
and one last round runs for whatever woke it and was not sequenced yet, so that an app closed
normally leaves nothing it queued behind.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

IDLE_SECONDS = 5.0
CLOSE_SECONDS = 30.0


class SequencerThread:
    def __init__(self, sequence: Callable[[], object]) -> None:
        self._sequence = sequence
        self._lock = threading.Lock()
        self._woken = threading.Event()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._owed = 0  # wakes not yet covered by a round that began after them

    def wake(self) -> None:
        """A commit queued entries: sequence them soon (this returns at once)."""
        with self._lock:
            self._owed += 1
            self._woken.set()
            if self._thread is None and not self._closing:
                self._thread = threading.Thread(target=self._run, name="log sequencer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                if not self._woken.wait(IDLE_SECONDS):
                    with self._lock:
                        if not self._woken.is_set():  # idle: end (a wake from now starts anew)
                            self._thread = None
                            return
                self._round()
                with self._lock:
                    if self._closing:
                        return
        finally:
            with self._lock:  # however it ended, the next wake may start a thread again
                if self._thread is threading.current_thread():
                    self._thread = None

    def _round(self) -> None:
        with self._lock:
            self._woken.clear()
            owed, self._owed = self._owed, 0
        if not owed:
            return
        try:
            self._sequence()  # covers every commit before this moment
        except Exception:  # the server's job and the next wake try again
            with self._lock:
                self._owed += owed
            log.exception("sequencing the log's queue failed; the entries stay queued")

    def close(self) -> None:
        """Stop the thread, then run a last round for whatever woke it and was not sequenced
        (woken during its last round, or owed by a failed one). A round that does not end
        within CLOSE_SECONDS (a database that does not answer) is left to the server's job."""
        with self._lock:
            self._closing = True
            thread = self._thread
            self._woken.set()
        if thread is not None:
            thread.join(CLOSE_SECONDS)
            if thread.is_alive():
                log.warning("the log's sequencer thread did not stop; its entries stay queued")
                return
        self._round()
