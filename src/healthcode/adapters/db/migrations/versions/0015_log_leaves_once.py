"""A leaf's hash is stored once, in its entry's row: `log_hashes` keeps the levels above

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 22:00:00.000000

From this revision the sequencer no longer writes level 0 of the Merkle tree to `log_hashes`:
each leaf's hash is `log_entries.leaf_hash`, and roots and proofs read it from there. Nothing
changes in the schema; the revision marks the change of what the tables hold, so that code of
an older revision refuses to start against a log it would misread (it looked for level 0 in
`log_hashes`). A process of the older revision already running when this one starts would
misread the leaves written after: stop every older process first (no rolling upgrade across
this revision). The level-0 rows written before stay (the table is append-only; they are never
read). A downgrade writes the level-0 rows the older code reads, from the entries.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # what the sequencer writes changed, not the tables


def downgrade() -> None:
    op.execute(
        "INSERT INTO log_hashes (level, idx, hash)"
        " SELECT 0, e.seq, e.leaf_hash FROM log_entries e"
        " WHERE NOT EXISTS"
        " (SELECT 1 FROM log_hashes h WHERE h.level = 0 AND h.idx = e.seq)"
    )
