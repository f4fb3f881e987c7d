"""Schema migrations (Alembic), applied at `healthcode init` and at start-up.

Every process starts by upgrading the schema; when the database already holds the newest
revision (the usual start), that is one read and Alembic is not even imported (it brings Mako
and Pygments along: a tenth of a second of every start).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import DBAPIError

from healthcode.adapters.db.sealing import Seals

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")


def newest_revision() -> str:
    """The newest revision, from the versions' file names ("0014_....py" holds revision
    "0014", each revising the one before): what Alembic calls the head, without Alembic
    (tests/unit/test_migrations_head.py holds the two equal)."""
    numbers = [
        found.group(1)
        for path in (MIGRATIONS / "versions").iterdir()
        if (found := _REVISION_FILE.match(path.name))
    ]
    return max(numbers, default="")  # none found (compiled files only): ask Alembic


def stored_revisions(engine: Engine) -> list[str]:
    """The revisions the database says it holds (none before the first migration)."""
    with engine.connect() as conn:
        try:  # one statement on the usual start; the catalogue only when it fails
            return list(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
        except DBAPIError:
            conn.rollback()
            if inspect(conn).has_table("alembic_version"):
                raise
            return []


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    url = engine.url.render_as_string(hide_password=False)
    # The config file's interpolation: a URL's escapes (a multi-host URL's "%3A") doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision of the schema."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None  # noqa: S101 - the package ships its migrations
    return head


def upgrade(engine: Engine, seals: Seals | None = None, revision: str = "head") -> None:
    """Apply the migrations up to `revision`. `seals` (adapters/db/sealing.py) lets revisions
    0008 and 0011 seal the personal data already stored; empty tables need none."""
    if revision == "head" and stored_revisions(engine) == [newest_revision()]:
        return  # at the head already
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        config.attributes["checkin_keys"] = seals.days if seals else None
        config.attributes["seals"] = seals
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str, seals: Seals | None = None) -> None:
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        config.attributes["checkin_keys"] = seals.days if seals else None
        config.attributes["seals"] = seals
        command.downgrade(config, revision)
