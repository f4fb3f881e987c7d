"""The process's sequencer thread (adapters/db/sequencer_thread.py): woken by commits, it runs the
sequencer soon after, one round for every wake meanwhile; a failed round is owed and tried
again; it ends when idle and starts again on the next wake; closing runs the last round."""

from __future__ import annotations

import threading
import time

import pytest

from healthcode.adapters.db import sequencer_thread
from healthcode.adapters.db.sequencer_thread import SequencerThread
from tests.support.waiting import until


class Rounds:
    """A sequencer that counts its rounds, can be held inside one, and can fail."""

    def __init__(self) -> None:
        self.count = 0
        self.gate = threading.Event()
        self.gate.set()
        self.inside = threading.Event()
        self.failures = 0

    def __call__(self) -> int:
        self.inside.set()
        self.gate.wait(10)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the database is away")
        self.count += 1
        return 0


def _in_a_round() -> tuple[Rounds, SequencerThread]:
    """A thread woken once, held inside its first round (until `rounds.gate` is set)."""
    rounds = Rounds()
    rounds.gate.clear()
    thread = SequencerThread(rounds)
    thread.wake()
    assert rounds.inside.wait(10)
    return rounds, thread


def test_a_wake_is_followed_by_a_round_and_the_waker_does_not_wait() -> None:
    rounds = Rounds()
    rounds.gate.clear()  # the round, once begun, waits
    thread = SequencerThread(rounds)
    started = time.monotonic()
    thread.wake()
    assert time.monotonic() - started < 1.0
    assert rounds.inside.wait(10)
    assert rounds.count == 0
    rounds.gate.set()
    assert until(lambda: rounds.count == 1)
    thread.close()
    assert rounds.count == 1  # nothing owed: no last round


def test_wakes_during_a_round_are_covered_by_one_more_round() -> None:
    rounds, thread = _in_a_round()
    for _ in range(20):  # commits while the first round is under way
        thread.wake()
    rounds.gate.set()
    assert until(lambda: rounds.count == 2)
    time.sleep(0.05)
    assert rounds.count == 2  # not one round per wake
    thread.close()
    assert rounds.count == 2


def test_a_failed_round_is_owed_and_closing_tries_again() -> None:
    rounds = Rounds()
    rounds.failures = 1
    thread = SequencerThread(rounds)
    thread.wake()
    assert rounds.inside.wait(10)
    assert until(lambda: rounds.failures == 0)
    time.sleep(0.05)
    assert rounds.count == 0
    thread.close()  # the last round: what the failed one owed
    assert rounds.count == 1


def test_an_idle_thread_ends_and_the_next_wake_starts_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sequencer_thread, "IDLE_SECONDS", 0.05)
    rounds = Rounds()
    thread = SequencerThread(rounds)
    thread.wake()
    first = _running(thread)  # started by the wake
    assert first is not None
    assert until(lambda: rounds.count == 1)
    assert until(lambda: _running(thread) is None)
    assert until(lambda: not first.is_alive())
    thread.wake()
    assert until(lambda: rounds.count == 2)
    thread.close()
    assert _running(thread) is None


def test_wakes_during_the_round_closing_waits_for_are_covered_by_a_last_round() -> None:
    rounds, thread = _in_a_round()
    closing = threading.Thread(target=thread.close)
    closing.start()
    time.sleep(0.05)
    thread.wake()  # a commit while the thread's round runs and close waits for it
    rounds.gate.set()
    closing.join(10)
    assert not closing.is_alive()
    assert rounds.count == 2


def test_after_closing_a_wake_starts_no_thread() -> None:
    rounds = Rounds()
    thread = SequencerThread(rounds)
    thread.close()
    thread.wake()
    time.sleep(0.05)
    assert _running(thread) is None
    assert rounds.count == 0  # left to the server's job


def test_closing_a_thread_never_woken_does_nothing() -> None:
    rounds = Rounds()
    SequencerThread(rounds).close()
    assert rounds.count == 0


def _running(thread: SequencerThread) -> threading.Thread | None:
    return thread._thread  # which thread, if any, serves this one
