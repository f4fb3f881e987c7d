"""Colour work queued by a trace: `status_queue`

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 10:00:00.000000

A trace stores its contacts' exposures and queues their colour work here, in its own
transaction; the colour work (re-derive, store, log, notify) is done right after, in a
transaction of its own, by whoever gets there first: the server's job, the tracer's own request
once it has answered, or the contact asking for their code. Rows leave when their work is done.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_queue",
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("found_at", sa.BigInteger(), nullable=False),
        sa.Column("actor_role", sa.String(length=40), nullable=False),
        sa.Column("actor_ref", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", "case_id", "found_at", name=op.f("pk_status_queue")),
    )
    with op.batch_alter_table("status_queue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_status_queue_found_at"), ["found_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("status_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_queue_found_at"))
    op.drop_table("status_queue")
