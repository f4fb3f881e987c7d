"""SQLite's writers queue on our lock in and across processes (adapters/db/writer_lock.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from healthcode.adapters.db.writer_lock import WriterLock

HOLDER = """
import sys
from healthcode.adapters.db.writer_lock import WriterLock
lock = WriterLock(sys.argv[1])
assert lock.acquire(timeout=10)
print("held", flush=True)
sys.stdin.read()  # until the test closes our input (or kills us)
lock.release()
"""


def holder(database: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    return process


class Waiter:
    """`lock.acquire` in a thread of its own, so that a test can see it wait."""

    def __init__(self, lock: WriterLock) -> None:
        self.lock = lock
        self.got: list[bool] = []
        self.thread = threading.Thread(target=lambda: self.got.append(lock.acquire(60)))
        self.thread.start()

    def still_waiting(self, seconds: float = 0.3) -> bool:
        self.thread.join(seconds)
        return self.thread.is_alive()

    def entered(self) -> bool:
        self.thread.join(10)
        return self.got == [True]


def test_a_writer_in_another_process_waits_until_the_first_lets_go(tmp_path: Path) -> None:
    database = tmp_path / "city.db"
    process = holder(database)
    mine = WriterLock(str(database))
    try:
        waiter = Waiter(mine)
        assert waiter.still_waiting()  # the other process holds it
        assert process.stdin is not None
        process.stdin.close()  # it commits and lets go
        assert waiter.entered()
    finally:
        process.wait(timeout=10)
        mine.close()


def test_a_writer_killed_holding_the_lock_does_not_keep_it(tmp_path: Path) -> None:
    database = tmp_path / "city.db"
    process = holder(database)
    mine = WriterLock(str(database))
    try:
        waiter = Waiter(mine)
        assert waiter.still_waiting()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        assert waiter.entered()
    finally:
        mine.close()


def test_a_nested_writer_keeps_the_lock_until_the_outermost_lets_go(tmp_path: Path) -> None:
    database = str(tmp_path / "city.db")
    mine, other = WriterLock(database), WriterLock(database)  # two opens: as two processes
    try:
        assert mine.acquire(timeout=1)
        assert mine.acquire(timeout=1)  # the same thread again: reentrant
        mine.release()
        waiter = Waiter(other)
        assert waiter.still_waiting()  # still held by the outer transaction
        mine.release()
        assert waiter.entered()
    finally:
        mine.close()
        other.close()


def test_a_thread_waits_for_another_thread_at_most_its_timeout(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "city.db"))
    assert lock.acquire(timeout=1)
    try:
        got: list[bool] = []
        thread = threading.Thread(target=lambda: got.append(lock.acquire(timeout=0.1)))
        thread.start()
        thread.join(10)
        assert got == [False]  # the database is busy: the caller says so
    finally:
        lock.release()
        lock.close()


def test_threads_of_a_process_take_turns(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "city.db"))
    inside, most, failures = [0], [0], []
    guard = threading.Lock()

    def write() -> None:
        for _ in range(200):
            if not lock.acquire(timeout=10):
                failures.append("timed out")
                return
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            with guard:
                inside[0] -= 1
            lock.release()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lock.close()
    assert not failures
    assert most[0] == 1


def test_an_in_memory_database_queues_threads_only() -> None:
    lock = WriterLock(":memory:")
    assert lock.acquire(timeout=1)
    lock.release()
    lock.close()
