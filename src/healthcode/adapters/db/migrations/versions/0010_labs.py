"""Labs: registered by two admins with their own public key; the samples they register

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 05:00:00.000000

Lab results now come only from registered labs, each signing its submissions with its own
ES256 key (domain/labs.py). `labs` holds each lab's code, name and public key with who asked
for it, who approved it and whether it is revoked; `lab_samples` the samples a lab registered
before their result (the test requests its results answer).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "labs",
        sa.Column("lab_id", sa.String(length=24), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=24), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("approved_by", sa.String(length=24), nullable=True),
        sa.Column("approved_at", sa.BigInteger(), nullable=True),
        sa.Column("revoked_by", sa.String(length=24), nullable=True),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("lab_id", name=op.f("pk_labs")),
        sa.UniqueConstraint("code", name=op.f("uq_labs_code")),
    )
    op.create_table(
        "lab_samples",
        sa.Column("lab", sa.String(length=40), nullable=False),
        sa.Column("test_id", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("sample_time", sa.BigInteger(), nullable=False),
        sa.Column("registered_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("lab", "test_id", name=op.f("pk_lab_samples")),
    )
    with op.batch_alter_table("lab_samples", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lab_samples_sample_time"), ["sample_time"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("lab_samples", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lab_samples_sample_time"))
    op.drop_table("lab_samples")
    op.drop_table("labs")
