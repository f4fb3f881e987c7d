"""A hot statement, compiled once per dialect and run straight through the driver's cursor.

The hottest statements (show my code, a resident's check-in: adapters/db/code_sight.py,
checkin_sight.py, and the check-in's INSERT) are fixed, one each. Through SQLAlchemy's
execution path a run of one of them cost about four times what the database spent on it
(parameters bound through the compiled form, an execution context, a result object and its row
processors, events), measured with cProfile: 430 µs of SQLAlchemy around 124 µs of sqlite3 per
2,000 codes shown, the largest part of the request. Here the statement is compiled once to the
dialect's SQL text and its parameter order, and each run hands the driver that text and the
values.

A batch of runs (`pipelined`, `run_many`: the check-ins of one group commit) goes to PostgreSQL
in one pipeline (psycopg's pipeline mode): every statement is sent, then every answer read, so
the batch waits for the server once, not once a statement. On SQLite, which runs in the
process, they run one after the other on one cursor.

Only for statements whose columns need no conversion on either way (text, integers, bytes): the
rows come back as the driver gives them, with the columns by name. The statement runs on the
unit of work's own connection, inside its transaction (SQLite's `BEGIN IMMEDIATE` of a writer is
issued when the unit of work begins; psycopg begins its transaction on the first statement).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.sql import Executable

_Form = tuple[str, tuple[str, ...] | None, dict[str, Any], Any]


class Prepared:
    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        # per dialect: SQL text, parameter names in order (None: named), the values the
        # statement carries itself (its literals), the row type
        self._forms: dict[str, _Form] = {}

    def _form(self, conn: Connection) -> _Form:
        dialect = conn.dialect
        form = self._forms.get(dialect.name)
        if form is None:
            compiled = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            order = tuple(compiled.positiontup) if compiled.positional else None
            names = [column[0] for column in compiled._result_columns] or ["_"]
            row_type = namedtuple("PreparedRow", names, rename=True)
            form = (str(compiled), order, dict(compiled.params), row_type)
            self._forms[dialect.name] = form
        return form

    def _execute(self, conn: Connection, params: dict[str, Any], *, fetch: bool) -> list[Any]:
        sql = self._form(conn)[0]
        values = self._values(conn, params)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, values)
            return list(cursor.fetchall()) if fetch else []
        finally:
            cursor.close()

    def _values(self, conn: Connection, params: dict[str, Any]) -> Any:
        _, order, carried, _ = self._form(conn)
        given = carried | params
        return given if order is None else tuple(given[name] for name in order)

    def run(self, conn: Connection, params: dict[str, Any]) -> None:
        """Run a statement that returns no rows (an INSERT of every column)."""
        self._execute(conn, params, fetch=False)

    def one(self, conn: Connection, params: dict[str, Any]) -> Any:
        """The one row the statement returns, its columns as attributes."""
        return self.row(conn, self._execute(conn, params, fetch=True))

    def rows(self, conn: Connection, params: dict[str, Any]) -> list[Any]:
        """Every row the statement returns, as the driver gives them (tuples)."""
        return self._execute(conn, params, fetch=True)

    def run_many(self, conn: Connection, batch: Sequence[dict[str, Any]]) -> None:
        """`run` for each of `batch`, in order (PostgreSQL: one pipeline)."""
        if len(batch) > 1 and conn.dialect.name == "postgresql":
            sql = self._form(conn)[0]
            with conn.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                cursor.executemany(sql, [self._values(conn, p) for p in batch])  # one pipeline
        else:
            for params in batch:
                self.run(conn, params)

    def row(self, conn: Connection, rows: list[Any]) -> Any:
        """The one row of an answer of this statement, its columns as attributes."""
        if len(rows) != 1:
            raise LookupError(f"expected one row, got {len(rows)}")
        return self._form(conn)[3](*rows[0])


def pipelined(conn: Connection, runs: Sequence[tuple[Prepared, dict[str, Any]]]) -> list[Any]:
    """Each statement's rows (as the driver gives them), the statements run in order; on
    PostgreSQL sent in one pipeline, so that they wait for the server once. Each statement
    still starts once the one before it has ended (a lock taken by one holds for the next,
    which reads with a snapshot taken after it)."""
    if conn.dialect.name != "postgresql" or len(runs) < 2:
        return [prepared._execute(conn, params, fetch=True) for prepared, params in runs]
    driver = conn.connection.driver_connection
    cursors = []
    try:
        with driver.pipeline():  # type: ignore[union-attr]
            for prepared, params in runs:
                cursor = driver.cursor()  # type: ignore[union-attr]
                cursors.append(cursor)
                cursor.execute(prepared._form(conn)[0], prepared._values(conn, params))
        return [list(cursor.fetchall()) for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()


class ReadAhead(Protocol):
    """A repository whose once-a-transaction reads (a lock, a marker, versions) can travel in
    another statement's round trip (`pipelined_ahead`)."""

    def ahead(self) -> list[tuple[Prepared, dict[str, Any]]]:
        """The statements still to run, in order ([] when they ran already)."""
        ...

    def took(self, answers: list[list[Any]]) -> None:
        """Their rows, one list per statement `ahead` gave."""
        ...


def pipelined_ahead(
    conn: Connection, ahead: Sequence[ReadAhead], runs: Sequence[tuple[Prepared, dict[str, Any]]]
) -> list[Any]:
    """`pipelined(runs)`, with the reads `ahead` still owes sent first in the same round trip
    (each handed its rows): a check-in's transaction reads the sunset's lock and marker and the
    trust lists' versions in the round trip of its own reads."""
    owed = [(reader, reader.ahead()) for reader in ahead]
    first = [run for _, own in owed for run in own]
    answers = pipelined(conn, [*first, *runs])
    at = 0
    for reader, own in owed:
        if own:
            reader.took(answers[at : at + len(own)])
        at += len(own)
    return answers[at:]
