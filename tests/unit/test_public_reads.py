"""Public reads from memory (entrypoints/web/public_reads.py): one read of the database at a
time, however many requests find the copy old; a copy half its age is served while the next
one is read; none older than MAX_AGE."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from healthcode.entrypoints.web import public_reads
from healthcode.entrypoints.web.public_reads import Encoded, PublicRead, encoded


class Source:
    def __init__(self, seconds: float = 0.05) -> None:
        self.reads = 0
        self.seconds = seconds
        self.release = threading.Event()
        self.release.set()
        self.lock = threading.Lock()

    def __call__(self) -> Encoded:
        with self.lock:
            self.reads += 1
            n = self.reads
        self.release.wait(5)
        time.sleep(self.seconds)
        return encoded(200, {"read": n})


def test_many_requests_past_the_age_share_one_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(public_reads, "MAX_AGE", 60.0)
    source = Source()
    held = PublicRead(source)

    async def run() -> list[Encoded]:
        return await asyncio.gather(*(held.current() for _ in range(50)))

    answers = asyncio.run(run())
    assert source.reads == 1
    assert {a.body for a in answers} == {b'{"read":1}'}


def test_a_half_old_copy_is_served_while_the_next_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(public_reads, "MAX_AGE", 0.4)
    source = Source(seconds=0)
    held = PublicRead(source)

    async def run() -> tuple[Encoded, Encoded, Encoded]:
        first = await held.current()
        await asyncio.sleep(0.25)  # past half the age, not past the age
        source.release.clear()  # the next read is slow
        served = await held.current()  # answered at once with the held copy
        source.release.set()
        await asyncio.sleep(0.1)  # the read started above has finished
        newer = await held.current()
        return first, served, newer

    first, served, newer = asyncio.run(run())
    assert first.body == b'{"read":1}'
    assert served.body == b'{"read":1}'
    assert newer.body == b'{"read":2}'
    assert source.reads == 2


def test_a_copy_past_its_age_is_never_served(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(public_reads, "MAX_AGE", 0.0)
    source = Source(seconds=0)
    held = PublicRead(source)

    async def run() -> list[bytes]:
        return [(await held.current()).body for _ in range(3)]

    assert asyncio.run(run()) == [b'{"read":1}', b'{"read":2}', b'{"read":3}']


def test_a_failed_read_is_answered_and_the_next_request_reads_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(public_reads, "MAX_AGE", 0.0)
    calls = []

    def flaky() -> Encoded:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database away")
        return encoded(200, {"ok": True})

    held = PublicRead(flaky)

    async def run() -> bytes:
        with pytest.raises(RuntimeError):
            await held.current()
        return (await held.current()).body

    assert asyncio.run(run()) == b'{"ok":true}'
