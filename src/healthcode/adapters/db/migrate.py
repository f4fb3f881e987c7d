"""Schema migrations (Alembic), applied at `healthcode init` and at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from healthcode.adapters.db.checkins import SubjectCipher

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def head_revision() -> str:
    """The newest revision of the schema."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None  # noqa: S101 - the package ships its migrations
    return head


def upgrade(
    engine: Engine, checkin_keys: SubjectCipher | None = None, revision: str = "head"
) -> None:
    """Apply the migrations up to `revision`. `checkin_keys` (adapters/crypto/checkin_keys.py)
    lets revision 0008 re-encrypt check-ins already stored; an empty table needs none."""
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        config.attributes["checkin_keys"] = checkin_keys
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str, checkin_keys: SubjectCipher | None = None) -> None:
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        config.attributes["checkin_keys"] = checkin_keys
        command.downgrade(config, revision)
