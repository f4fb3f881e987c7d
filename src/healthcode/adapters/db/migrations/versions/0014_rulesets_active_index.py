"""The active rule set by an index: `ix_rulesets_active`

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 13:30:00.000000

"Show my code" reads the active rule set (the newest activated one) in its one statement: without
an index on when rule sets were activated, each read scanned the table and sorted it, twice (set
and version), more than half of the statement's time in SQLite.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rulesets", schema=None) as batch_op:
        batch_op.create_index("ix_rulesets_active", ["activated_at", "loaded_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rulesets", schema=None) as batch_op:
        batch_op.drop_index("ix_rulesets_active")
