"""Many rows into one table at once, in the caller's transaction.

PostgreSQL takes them by COPY: psycopg's executemany sends one statement per row (13 µs of
Python each in the profile of a trace, before the round trips), COPY streams them. The rows may
come from a generator that makes each as it is asked for: COPY sends them in chunks as they come,
so the database stores the first rows while Python is still making the next, instead of the two
taking turns. SQLite takes them by executemany, which its driver runs in C. Rows must name every
column they fill (COPY applies the database's defaults, not SQLAlchemy's).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table


def insert_tuples(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple[object, ...]]
) -> int:
    """Rows as tuples in the order of `columns`, handed to the driver as they come; how many."""
    given = iter(rows)
    first = next(given, None)
    if first is None:
        return 0
    quote = conn.dialect.identifier_preparer.quote  # "end" and its kind are keywords
    names = ", ".join(quote(c) for c in columns)
    table = quote(table)
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection
        count = 1
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            copy.write_row(first)
            for row in given:
                copy.write_row(row)
                count += 1
        return count
    listed = [first, *given]
    marks = ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * len(columns))
    conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", listed)  # noqa: S608
    return len(listed)


def insert_rows(conn: Connection, table: Table, rows: Iterable[Mapping[str, Any]]) -> int:
    """Rows as mappings of column name to value (all with the same columns, of plain types:
    no SQLAlchemy type processing is applied; SQLAlchemy's own executemany built each row's
    parameters in Python, a fifth of the cost of storing a trace's exposures); how many. They
    may come from a generator, as for `insert_tuples`."""
    given = iter(rows)
    first = next(given, None)
    if first is None:
        return 0
    columns = list(first)
    tuples = (tuple(r[c] for c in columns) for r in itertools.chain([first], given))
    return insert_tuples(conn, table.name, columns, tuples)
