"""Units of work: writes are atomic; reads never wait for a writer and cannot commit."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import DBAPIError

from healthcode.bootstrap import App
from healthcode.services.ports import Subject


def test_a_read_does_not_wait_for_an_open_write_transaction(app: App) -> None:
    results: list[int] = []
    with app.ctx.uow() as writer:
        writer.log.size()  # the write transaction is open (SQLite: it holds the write lock)

        def read() -> None:
            with app.ctx.uow(read_only=True) as reader:
                results.append(reader.log.size())

        thread = threading.Thread(target=read)
        thread.start()
        thread.join(timeout=5)
        assert not thread.is_alive(), "a read waited for the writer"
    assert results
    assert results[0] > 0


def test_a_read_only_unit_of_work_cannot_commit(app: App) -> None:
    with app.ctx.uow(read_only=True) as uow, pytest.raises(RuntimeError, match="read-only"):
        uow.commit()


def write_in_read_only(app: App) -> None:
    with app.ctx.uow(read_only=True) as uow:
        uow.subjects.add(Subject("f" * 32, "resident", 0))  # PostgreSQL refuses here
        uow.commit()  # SQLite gets this far; the unit of work refuses to commit


def test_a_write_inside_a_read_only_unit_of_work_is_not_kept(app: App) -> None:
    with pytest.raises((RuntimeError, DBAPIError)):
        write_in_read_only(app)
    with app.ctx.uow(read_only=True) as uow:
        assert uow.subjects.get("f" * 32) is None


def add_subjects_from_threads(app: App, threads: int, each: int) -> list[BaseException]:
    failures: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(each):
                with app.ctx.uow() as uow:
                    uow.subjects.add(Subject(f"{worker:02d}{i:030d}", "resident", 0))
                    uow.commit()
        except BaseException as exc:  # reported to the test below
            failures.append(exc)

    running = [threading.Thread(target=write, args=(w,)) for w in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join(timeout=60)
    return failures


def test_concurrent_writers_all_commit(app: App) -> None:
    """On SQLite the writers of a process queue on the unit of work's lock before BEGIN
    IMMEDIATE; on PostgreSQL they run side by side. Either way every write lands."""
    assert add_subjects_from_threads(app, threads=8, each=20) == []
    with app.ctx.uow(read_only=True) as uow:
        assert all(uow.subjects.get(f"{w:02d}{i:030d}") for w in range(8) for i in range(20))


def fail_inside_a_write(app: App) -> None:
    with app.ctx.uow() as uow:
        uow.subjects.add(Subject("e" * 32, "resident", 0))
        raise ValueError("boom")


def test_a_failed_write_lets_the_next_writer_in(app: App) -> None:
    with pytest.raises(ValueError, match="boom"):
        fail_inside_a_write(app)
    done = threading.Event()

    def write() -> None:
        with app.ctx.uow() as uow:
            uow.subjects.add(Subject("d" * 32, "resident", 0))
            uow.commit()
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    thread.join(timeout=10)
    assert done.is_set(), "the writer after a failed one never got in"
    with app.ctx.uow(read_only=True) as uow:
        assert uow.subjects.get("e" * 32) is None
        assert uow.subjects.get("d" * 32) is not None
