"""Check-ins: who visited is stored encrypted under a key per UTC day (crypto-shredding, RET-1)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 09:00:00.000000

`checkins.subject_id` keeps its type and width (VARCHAR(32)): it now holds AES-256 of the
subject id's 16 bytes under the key of the check-in's UTC day (adapters/crypto/checkin_keys.py)
instead of the subject id. This revision re-encrypts the rows already there, day by day, with
the day keys of the key store (made here if missing). It needs the key store, which
adapters/db/migrate.py hands over when `healthcode init` or the server applies the schema;
without it (bare `alembic upgrade`) it refuses unless the table is empty. Downgrading decrypts
the rows again; rows of a day whose key was already destroyed can be tied to nobody and are
deleted (they are past retention).
"""

from collections.abc import Sequence
from typing import Any

from alembic import context, op
from sqlalchemy import Connection, text

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = 86400
CHUNK = 50_000
DAYS = text("SELECT DISTINCT time_in - time_in % 86400 AS day FROM checkins ORDER BY day")
ROWS = text(
    "SELECT venue_id, checkin_id, subject_id, time_in FROM checkins "
    "WHERE time_in >= :day AND time_in < :day + 86400"
)
SET = text(
    "UPDATE checkins SET subject_id = :sealed "
    "WHERE venue_id = :venue_id AND checkin_id = :checkin_id AND time_in = :time_in"
)
DROP = text("DELETE FROM checkins WHERE time_in >= :day AND time_in < :day + 86400")


def _cipher(conn: Connection) -> Any:
    cipher = context.config.attributes.get("checkin_keys")
    empty = conn.execute(text("SELECT count(*) FROM checkins")).scalar_one() == 0
    if cipher is None and not empty:
        raise RuntimeError(
            "revision 0008 re-encrypts the stored check-ins with per-day keys and needs the key "
            "store: apply it with `healthcode init` (or by starting the server), not alembic alone"
        )
    return cipher


def _rewrite(conn: Connection, *, seal: bool) -> None:
    cipher = _cipher(conn)
    if cipher is None:
        return
    for (day,) in conn.execute(DAYS).all():
        rows = conn.execute(ROWS, {"day": day}).all()
        stored = [r.subject_id for r in rows]
        changed = cipher.seal(day, stored) if seal else cipher.open(day, stored)
        if changed is None:  # downgrading a day whose key is destroyed: tied to nobody
            conn.execute(DROP, {"day": day})
            continue
        params = [
            {
                "sealed": value,
                "venue_id": r.venue_id,
                "checkin_id": r.checkin_id,
                "time_in": r.time_in,
            }
            for r, value in zip(rows, changed, strict=True)
        ]
        for start in range(0, len(params), CHUNK):
            conn.execute(SET, params[start : start + CHUNK])


def upgrade() -> None:
    """Upgrade schema."""
    _rewrite(op.get_bind(), seal=True)


def downgrade() -> None:
    """Downgrade schema."""
    _rewrite(op.get_bind(), seal=False)
