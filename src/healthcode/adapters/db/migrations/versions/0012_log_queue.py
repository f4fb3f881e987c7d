"""The log as a queue and a sequencer: state changes write their entries to `log_pending`

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 07:00:00.000000

A state change no longer takes the log's lock to append: it writes its entry to `log_pending`
in its own transaction (the change and its entry still commit together or not at all), and the
sequencer (adapters/db/log_store.py: integrate) gives queued entries their sequence numbers,
writes them and their Merkle hashes to the log and deletes them from the queue, in one
transaction of its own, under the log's lock.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_pending",
        sa.Column(
            "pending_id",
            sa.Integer().with_variant(sa.BigInteger(), "postgresql"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("appended_at", sa.BigInteger(), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("subject_ref", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("pending_id", name=op.f("pk_log_pending")),
    )
    with op.batch_alter_table("log_pending", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_log_pending_subject_ref"), ["subject_ref"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("log_pending", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_pending_subject_ref"))
    op.drop_table("log_pending")
