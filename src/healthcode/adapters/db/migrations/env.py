"""Alembic environment: run with the connection handed over by adapters/db/migrate.py."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from healthcode.adapters.db import vault_table  # noqa: F401 - registers the vault on metadata
from healthcode.adapters.db.tables import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(conn: object) -> None:
    context.configure(
        connection=conn, target_metadata=metadata, render_as_batch=True, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # alembic's own command line: a connection that is closed after, not left in a pool
    url = config.get_main_option("sqlalchemy.url") or ""
    with create_engine(url, poolclass=NullPool).connect() as conn:
        _run(conn)
