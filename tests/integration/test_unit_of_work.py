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
