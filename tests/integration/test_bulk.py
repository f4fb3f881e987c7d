"""Many rows at once (adapters/db/bulk.py), on both databases: rows from a list or from a
generator that makes each as it is asked for are stored alike, in order; a generator that
fails half way leaves nothing of its transaction; none at all sends no statement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, event, select

from healthcode.adapters.db.bulk import insert_rows, insert_tuples


def _table(engine: Engine) -> Table:
    meta = MetaData()
    table = Table(
        "bulk_probe",
        meta,
        Column("n", BigInteger, primary_key=True, autoincrement=False),
        Column("end", String(40), nullable=False),  # a keyword, quoted
        Column("note", String(40)),
    )
    meta.create_all(engine)
    return table


def _made(count: int, asked: list[int]) -> Iterator[tuple[object, ...]]:
    for n in range(count):
        asked.append(n)
        yield (n, f"张{n}", None if n % 3 else "有")


def test_rows_made_as_they_are_stored_are_stored_in_order(engine: Engine) -> None:
    table = _table(engine)
    asked: list[int] = []
    with engine.begin() as conn:
        assert insert_tuples(conn, "bulk_probe", ("n", "end", "note"), _made(2500, asked)) == 2500
        mapped = ({"n": 10_000 + n, "end": "x", "note": None} for n in range(3))
        assert insert_rows(conn, table, mapped) == 3
    assert asked == list(range(2500))  # each made once, in order
    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.n)).all()
    assert [tuple(r) for r in rows[:2500]] == list(_made(2500, []))
    assert [r.n for r in rows[2500:]] == [10_000, 10_001, 10_002]


def test_a_generator_that_fails_half_way_leaves_nothing(engine: Engine) -> None:
    table = _table(engine)

    def failing() -> Iterator[tuple[object, ...]]:
        yield from _made(1500, [])
        raise ValueError("a row could not be made")

    with pytest.raises(ValueError, match="could not be made"), engine.begin() as conn:
        insert_tuples(conn, "bulk_probe", ("n", "end", "note"), failing())
    with engine.connect() as conn:
        assert conn.execute(select(table)).all() == []


def test_no_rows_send_no_statement(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither a statement through SQLAlchemy (SQLite's executemany) nor a cursor of the
    driver's own (PostgreSQL's COPY, which SQLAlchemy's events do not see)."""
    table = _table(engine)
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT 1")  # the transaction has begun
        sent.clear()
        if engine.dialect.name == "postgresql":
            raw = conn.connection.driver_connection
            through = raw.cursor

            def cursor(*args: Any, **kwargs: Any) -> Any:
                sent.append("a driver cursor")
                return through(*args, **kwargs)

            monkeypatch.setattr(raw, "cursor", cursor)
        assert insert_tuples(conn, "bulk_probe", ("n", "end", "note"), iter([])) == 0
        assert insert_rows(conn, table, (r for r in [])) == 0
        assert sent == []
        # The probe does see rows that are sent.
        assert insert_tuples(conn, "bulk_probe", ("n", "end", "note"), [(1, "x", None)]) == 1
        assert sent
