"""A hot statement, compiled once per dialect and run straight through the driver's cursor.

The hottest statements (show my code, a resident's check-in: adapters/db/code_sight.py,
checkin_sight.py, and the check-in's INSERT) are fixed, one each. Through SQLAlchemy's
execution path a run of one of them cost about four times what the database spent on it
(parameters bound through the compiled form, an execution context, a result object and its row
processors, events), measured with cProfile: 430 µs of SQLAlchemy around 124 µs of sqlite3 per
2,000 codes shown, the largest part of the request. Here the statement is compiled once to the
dialect's SQL text and its parameter order, and each run hands the driver that text and the
values.

Only for statements whose columns need no conversion on either way (text, integers, bytes): the
rows come back as the driver gives them, with the columns by name. The statement runs on the
unit of work's own connection, inside its transaction (SQLite's `BEGIN IMMEDIATE` of a writer is
issued when the unit of work begins; psycopg begins its transaction on the first statement).
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

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
        sql, order, carried, _ = self._form(conn)
        given = carried | params
        values: Any = given if order is None else tuple(given[name] for name in order)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, values)
            return list(cursor.fetchall()) if fetch else []
        finally:
            cursor.close()

    def run(self, conn: Connection, params: dict[str, Any]) -> None:
        """Run a statement that returns no rows (an INSERT of every column)."""
        self._execute(conn, params, fetch=False)

    def one(self, conn: Connection, params: dict[str, Any]) -> Any:
        """The one row the statement returns, its columns as attributes."""
        rows = self._execute(conn, params, fetch=True)
        if len(rows) != 1:
            raise LookupError(f"expected one row, got {len(rows)}")
        return self._form(conn)[3](*rows[0])
