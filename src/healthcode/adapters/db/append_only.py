"""Database-level guard that the transparency log is append-only (AUD-5).

Triggers refuse every UPDATE and DELETE on the log tables, whoever asks. On PostgreSQL the rights
to change them are also revoked from PUBLIC, so a role created for the app cannot be granted them
by accident. The only way around is a schema change by the database owner, which the log's own
signed checkpoints would expose (`healthcode audit verify`).
"""

from __future__ import annotations

from sqlalchemy import Connection

from healthcode.adapters.db.tables import APPEND_ONLY_TABLES

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION healthcode_refuse_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'transparency log is append-only: %% on %% refused', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql
"""


def install(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_PG_FUNCTION)
    for table in APPEND_ONLY_TABLES:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                f"CREATE TRIGGER {table}_append_only"
                f" BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION healthcode_refuse_change()"
            )
            conn.exec_driver_sql(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC")
        else:
            for op in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'transparency log is append-only: "
                    f"{op} on {table} refused'); END"
                )


def remove(conn: Connection) -> None:
    for table in APPEND_ONLY_TABLES:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        else:
            for op in ("update", "delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{op}")
