"""Many rows into one table at once, in the caller's transaction.

PostgreSQL takes them by COPY: psycopg's executemany sends one statement per row (13 µs of
Python each in the profile of a trace, before the round trips), COPY streams them. SQLite
takes them by executemany, which its driver runs in C. Rows must name every column they fill
(COPY applies the database's defaults, not SQLAlchemy's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table


def insert_tuples(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[object, ...]]
) -> None:
    """Rows as tuples in the order of `columns`, handed to the driver as they are."""
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote  # "end" and its kind are keywords
    names = ", ".join(quote(c) for c in columns)
    table = quote(table)
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * len(columns))
    conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(rows))  # noqa: S608


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows as mappings of column name to value (all with the same columns, of plain types:
    no SQLAlchemy type processing is applied; SQLAlchemy's own executemany built each row's
    parameters in Python, a fifth of the cost of storing a trace's exposures)."""
    if not rows:
        return
    columns = list(rows[0])
    insert_tuples(conn, table.name, columns, [tuple(r[c] for c in columns) for r in rows])
