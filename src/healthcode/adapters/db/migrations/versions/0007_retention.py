"""Retention: daily check-in partitions (PostgreSQL) and the maintenance runs table

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 09:00:00.000000

On PostgreSQL `checkins` becomes a table partitioned by range of time_in, one partition per UTC
day (`checkins_pYYYYMMDD`, made ahead of time by adapters/db/checkin_partitions.py) and a DEFAULT
partition for anything outside them. Expiry then drops a whole day's file instead of leaving
deleted rows in pages until a vacuum. PostgreSQL requires the partition key in every unique
index, so the primary key becomes (venue_id, checkin_id, time_in) and the upload index
(venue_id, client_id, time_in); see the note on tables.checkins. Existing rows move to the
DEFAULT partition; the next partition run moves each current day's rows into its own partition.
SQLite keeps its plain table: there expiry deletes rows with secure_delete on.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = """
    venue_id VARCHAR(24) NOT NULL,
    checkin_id VARCHAR(24) NOT NULL,
    subject_id VARCHAR(32) NOT NULL,
    time_in BIGINT NOT NULL,
    closes_at BIGINT NOT NULL,
    time_out BIGINT,
    source VARCHAR(16) NOT NULL,
    client_id VARCHAR(64)
"""
INDEXES = ("ix_checkins_venue_id_time_in", "ix_checkins_subject_id_time_in")
UPLOADS = "ix_checkins_venue_id_client_id"


def _set_aside_old_table() -> None:
    op.execute("ALTER TABLE checkins RENAME TO checkins_old")
    op.execute("ALTER TABLE checkins_old RENAME CONSTRAINT pk_checkins TO pk_checkins_old")
    for name in (*INDEXES, UPLOADS):
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_old")


def _partition_checkins() -> None:
    _set_aside_old_table()
    op.execute(
        f"CREATE TABLE checkins ({COLUMNS}, "
        "CONSTRAINT pk_checkins PRIMARY KEY (venue_id, checkin_id, time_in)"
        ") PARTITION BY RANGE (time_in)"
    )
    op.execute("CREATE INDEX ix_checkins_venue_id_time_in ON checkins (venue_id, time_in)")
    op.execute("CREATE INDEX ix_checkins_subject_id_time_in ON checkins (subject_id, time_in)")
    op.execute(f"CREATE UNIQUE INDEX {UPLOADS} ON checkins (venue_id, client_id, time_in)")
    op.execute("CREATE TABLE checkins_default PARTITION OF checkins DEFAULT")
    op.execute("INSERT INTO checkins SELECT * FROM checkins_old")
    op.execute("DROP TABLE checkins_old")


def _unpartition_checkins() -> None:
    _set_aside_old_table()
    op.execute(
        f"CREATE TABLE checkins ({COLUMNS}, CONSTRAINT pk_checkins PRIMARY KEY (venue_id, checkin_id))"
    )
    op.execute("CREATE INDEX ix_checkins_venue_id_time_in ON checkins (venue_id, time_in)")
    op.execute("CREATE INDEX ix_checkins_subject_id_time_in ON checkins (subject_id, time_in)")
    op.execute(f"CREATE UNIQUE INDEX {UPLOADS} ON checkins (venue_id, client_id)")
    op.execute("INSERT INTO checkins SELECT * FROM checkins_old")
    op.execute("DROP TABLE checkins_old")  # drops its partitions with it


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "maintenance_runs",
        sa.Column("run_id", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_maintenance_runs")),
    )
    with op.batch_alter_table("maintenance_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_runs_kind_finished_at"),
            ["kind", "finished_at"],
            unique=False,
        )
    if op.get_bind().dialect.name == "postgresql":
        _partition_checkins()


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        _unpartition_checkins()
    with op.batch_alter_table("maintenance_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_runs_kind_finished_at"))
    op.drop_table("maintenance_runs")
