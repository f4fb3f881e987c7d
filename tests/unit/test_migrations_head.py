"""A start at the schema's head skips Alembic: the head it compares with, read from the
versions' file names, must be Alembic's own."""

from __future__ import annotations

from healthcode.adapters.db.migrate import head_revision, newest_revision


def test_the_newest_file_is_alembics_head() -> None:
    assert newest_revision() == head_revision()
