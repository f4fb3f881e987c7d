"""Schema migrations (Alembic), applied at `healthcode init` and at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from healthcode.adapters.db.sealing import Seals

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    url = engine.url.render_as_string(hide_password=False)
    # The config file's interpolation: a URL's escapes (a multi-host URL's "%3A") doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision of the schema."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None  # noqa: S101 - the package ships its migrations
    return head


def upgrade(engine: Engine, seals: Seals | None = None, revision: str = "head") -> None:
    """Apply the migrations up to `revision`. `seals` (adapters/db/sealing.py) lets revisions
    0008 and 0011 seal the personal data already stored; empty tables need none."""
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        config.attributes["checkin_keys"] = seals.days if seals else None
        config.attributes["seals"] = seals
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str, seals: Seals | None = None) -> None:
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        config.attributes["checkin_keys"] = seals.days if seals else None
        config.attributes["seals"] = seals
        command.downgrade(config, revision)
