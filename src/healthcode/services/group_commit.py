"""Group commit: small concurrent write use cases share one transaction and one commit.

A check-in writes one row; committing it alone costs a durable flush (SQLite `synchronous=FULL`,
PostgreSQL's WAL flush) and a round of BEGIN and COMMIT, far more than the row. Here each such
use case is handed in as a piece of work on a unit of work; one writer thread per process takes
every piece waiting (up to MAX_BATCH), runs them one after the other in one transaction and
commits them together. Each caller is answered
only after that commit returned: nothing is acknowledged before it is durable, as before, but
N concurrent requests pay for one flush instead of N.

A piece of work reads first and writes last, and raises a domain error (bad input, a refusal,
a cap) only before it writes: such an error is answered to that piece alone and the others go
on, with nothing of it to undo. Any other failure (of a write, of the commit) fails the whole
transaction, and every piece of it is answered with that error: nothing of it was stored.

Pieces of one kind can also run together (`Together`): the check-ins of the moment read what
they need in one round trip and write their rows in another, instead of two each. A kind's
`run` answers each piece, in order, with its result or the domain error that refuses that piece
alone; it writes only after every piece is judged, so a refused piece still leaves nothing of
itself to undo.

The writer thread starts on first use and ends after IDLE_SECONDS without work.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

from healthcode.domain.errors import DomainError
from healthcode.services.ports import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")
MAX_BATCH = 256
IDLE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Together(Generic[A, R]):
    """A piece of work run with the batch's other pieces of the same `kind`: `run(uow, asks)`
    gets every such piece's ask, in order, and answers each with its result or with the
    DomainError that refuses it alone (all judged before anything is written)."""

    kind: Hashable
    run: Callable[[UnitOfWork, list[A]], list[R | DomainError]]
    ask: A


Work = Callable[[UnitOfWork], Any] | Together[Any, Any]


class GroupCommit:
    """`writers` threads take batches from one queue: one where the database has a single
    writer (SQLite), several where transactions run side by side (PostgreSQL), so that one
    batch's round trips to the server overlap another's."""

    def __init__(self, uow: UnitOfWorkFactory, writers: int = 1) -> None:
        self._uow = uow
        self._waiting: queue.SimpleQueue[tuple[Work, Future[Any]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writers: list[threading.Thread] = []
        self._most = writers

    def submit(self, work: Callable[[UnitOfWork], T] | Together[Any, T]) -> Future[T]:
        """Queue `work`; the future is resolved once the transaction it ran in has committed
        (or with the error the work raised, or the commit's)."""
        done: Future[T] = Future()
        self._waiting.put((work, done))
        if len(self._writers) < self._most:
            with self._lock:
                self._writers = [w for w in self._writers if w.is_alive()]
                if len(self._writers) < self._most:
                    writer = threading.Thread(
                        target=self._write, name="healthcode-group-commit", daemon=True
                    )
                    self._writers.append(writer)
                    writer.start()
        return done

    def run(self, work: Callable[[UnitOfWork], T]) -> T:
        """`submit` and wait: for callers on a thread of their own."""
        return self.submit(work).result()

    def _write(self) -> None:
        while True:
            try:
                first = self._waiting.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._waiting.empty():
                        me = threading.current_thread()
                        self._writers = [w for w in self._writers if w is not me]
                        return
                continue
            self._commit(first)

    def _take(self, batch: list[tuple[Work, Future[Any]]]) -> None:
        """Everything waiting now joins `batch`, up to MAX_BATCH pieces, each marked running
        (from then on it cannot be cancelled); a piece cancelled while it waited is left out."""
        while len(batch) < MAX_BATCH:
            try:
                piece = self._waiting.get_nowait()
            except queue.Empty:
                return
            if piece[1].set_running_or_notify_cancel():
                batch.append(piece)

    def _commit(self, first: tuple[Work, Future[Any]]) -> None:
        """One transaction for `first` and for every piece waiting once it has begun: opening
        it may wait (SQLite: for another process's writer to commit), and whatever came in
        meanwhile rides along instead of waiting for the next round. If it cannot be opened,
        every piece waiting by then is answered with that failure at once (on SQLite each
        would otherwise wait out the lock's timeout in turn)."""
        if not first[1].set_running_or_notify_cancel():
            return  # cancelled while it waited: no transaction for it
        batch = [first]
        answers: list[tuple[Future[Any], Any, BaseException | None]] = []
        opened = False
        try:
            with self._uow() as uow:
                opened = True
                self._take(batch)
                kinds: dict[Hashable, list[tuple[Together[Any, Any], Future[Any]]]] = {}
                alone: list[tuple[Callable[[UnitOfWork], Any], Future[Any]]] = []
                for work, done in batch:
                    if isinstance(work, Together):
                        kinds.setdefault(work.kind, []).append((work, done))
                    else:
                        alone.append((work, done))
                for pieces in kinds.values():
                    answers += _together(uow, pieces)
                for one, done in alone:
                    try:
                        answers.append((done, one(uow), None))
                    except DomainError as exc:  # that piece's own answer, before it wrote
                        answers.append((done, None, exc))
                uow.commit()
        except Exception as exc:  # the transaction failed: nobody's work is durable
            if not opened:
                self._take(batch)
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for done, result, error in answers:
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result)


def _together(
    uow: UnitOfWork, pieces: list[tuple[Together[Any, Any], Future[Any]]]
) -> list[tuple[Future[Any], Any, BaseException | None]]:
    """The answers of one kind's pieces, run together."""
    try:
        results = pieces[0][0].run(uow, [work.ask for work, _ in pieces])
    except DomainError as exc:  # refused as a whole, before anything was written
        return [(done, None, exc) for _, done in pieces]
    if len(results) != len(pieces):
        raise RuntimeError(f"{len(pieces)} pieces of work, {len(results)} answers")
    return [
        (done, None, result) if isinstance(result, DomainError) else (done, result, None)
        for (_, done), result in zip(pieces, results, strict=True)
    ]


_COMMITTERS: WeakKeyDictionary[object, GroupCommit] = WeakKeyDictionary()
_MADE = threading.Lock()


def group_commit(uow: UnitOfWorkFactory) -> GroupCommit:
    """The group committer of this unit-of-work factory (one per process and database)."""
    found = _COMMITTERS.get(uow)
    if found is None:
        with _MADE:
            found = _COMMITTERS.get(uow)
            if found is None:
                found = _COMMITTERS[uow] = GroupCommit(uow, uow.writers)
    return found
