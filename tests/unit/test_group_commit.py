"""Group commit (services/group_commit.py): what waits while a transaction is being opened
rides along in it.

On SQLite opening the writer's transaction waits for the other processes' writers (the file
lock, then the database's write lock); the requests that come in meanwhile are taken into the
transaction once it is open, not left for the next round. A unit of work whose opening waits
for an event stands in for that lock here.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

import pytest

from healthcode.services.group_commit import GroupCommit


class _Opening:
    """A unit-of-work factory whose transactions open only once `release` is set; each
    transaction records the pieces of work run in it and whether it committed."""

    def __init__(self) -> None:
        self.opening = threading.Event()
        self.release = threading.Event()
        self.transactions: list[list[str]] = []
        self.committed: list[bool] = []
        self.refusal: Exception | None = None  # raised once the opening is released
        self.opened = 0  # tries to open

    def __call__(self, **_: Any) -> _Transaction:
        return _Transaction(self)


class _Transaction:
    def __init__(self, factory: _Opening) -> None:
        self.factory = factory
        self.pieces: list[str] = []

    def __enter__(self) -> _Transaction:
        self.factory.opened += 1
        self.factory.opening.set()
        assert self.factory.release.wait(10)
        if self.factory.refusal is not None:
            raise self.factory.refusal
        self.factory.transactions.append(self.pieces)
        self.factory.committed.append(False)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        return None

    def commit(self) -> None:
        self.factory.committed[-1] = True


def _piece(name: str) -> Any:
    def run(uow: _Transaction) -> str:
        uow.pieces.append(name)
        return name

    return run


def test_work_that_waits_while_the_transaction_opens_is_committed_in_it() -> None:
    factory = _Opening()
    committer = GroupCommit(factory)  # type: ignore[arg-type]
    first = committer.submit(_piece("a"))
    assert factory.opening.wait(10)  # the writer took "a" and waits for the transaction
    later = [committer.submit(_piece(name)) for name in ("b", "c")]
    factory.release.set()
    assert [f.result(10) for f in (first, *later)] == ["a", "b", "c"]
    assert factory.transactions == [["a", "b", "c"]]  # one transaction, one commit
    assert factory.committed == [True]
    # Once that transaction is done, new work opens the next one.
    assert committer.submit(_piece("d")).result(10) == "d"
    assert factory.transactions == [["a", "b", "c"], ["d"]]


def test_a_transaction_that_cannot_open_fails_every_piece_waiting_at_once() -> None:
    """SQLite's writer lock timed out (or PostgreSQL cannot be reached): the pieces that came in
    during the wait share that answer, instead of each waiting out the timeout in turn."""
    factory = _Opening()
    factory.refusal = OSError("database is locked")
    committer = GroupCommit(factory)  # type: ignore[arg-type]
    first = committer.submit(_piece("a"))
    assert factory.opening.wait(10)
    later = [committer.submit(_piece(name)) for name in ("b", "c")]
    factory.release.set()
    for done in (first, *later):
        with pytest.raises(OSError, match="locked"):
            done.result(10)
    assert factory.opened == 1  # one try, for all three
    assert factory.transactions == []


def test_a_piece_cancelled_while_it_waits_is_left_out() -> None:
    """A request that gave up while its piece waited is not run; one the writer has taken runs
    to the end (it can no longer be cancelled)."""
    factory = _Opening()
    committer = GroupCommit(factory)  # type: ignore[arg-type]
    first = committer.submit(_piece("a"))
    assert factory.opening.wait(10)
    given_up, kept = committer.submit(_piece("b")), committer.submit(_piece("c"))
    assert not first.cancel()  # taken: running
    assert given_up.cancel()
    factory.release.set()
    assert (first.result(10), kept.result(10)) == ("a", "c")
    assert given_up.cancelled()
    assert factory.transactions == [["a", "c"]]
