"""Separation of duties: staff changes take two people; accounts wait for their approval

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 04:00:00.000000

`staff_changes` holds the requests to create, re-role or re-enable a staff account (and to
disable an auditor's) with their decisions (domain/duties.py). `staff_accounts.activated_at` is
NULL while an account's creation waits for its second person. Accounts made before this
revision were made by one person; they are recorded as made by the operator when they were
created (the sponsor that counts for neither cooling-off nor shared sponsorship), and their
real history stays on the public log (`staff.created` entries).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_changes",
        sa.Column("change_id", sa.String(length=24), nullable=False),
        sa.Column("staff_id", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("requested_by", sa.String(length=24), nullable=False),
        sa.Column("requested_role", sa.String(length=24), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("decided_by", sa.String(length=24), nullable=True),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("change_id", name=op.f("pk_staff_changes")),
    )
    with op.batch_alter_table("staff_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_changes_staff_id"), ["staff_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_changes_state"), ["state"], unique=False)
    with op.batch_alter_table("staff_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activated_at", sa.BigInteger(), nullable=True))
    op.execute("UPDATE staff_accounts SET activated_at = created_at")
    op.execute(
        "INSERT INTO staff_changes (change_id, staff_id, kind, role, requested_by, "
        "requested_role, requested_at, state, decided_by, decided_at) "
        "SELECT 'sc0' || staff_id, staff_id, 'create', role, 'operator', 'operator', "
        "created_at, 'approved', 'operator', created_at FROM staff_accounts"
    )


def downgrade() -> None:
    # Accounts that never got their second person must not become usable by a downgrade.
    op.execute("UPDATE staff_accounts SET disabled_at = created_at WHERE activated_at IS NULL")
    with op.batch_alter_table("staff_accounts", schema=None) as batch_op:
        batch_op.drop_column("activated_at")
    with op.batch_alter_table("staff_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_changes_state"))
        batch_op.drop_index(batch_op.f("ix_staff_changes_staff_id"))
    op.drop_table("staff_changes")
