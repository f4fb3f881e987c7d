"""Every start upgrades the schema: at the head that is one read and no Alembic at all; one
revision behind, Alembic brings it to the head."""

from __future__ import annotations

import pytest
from alembic import command

from healthcode.adapters.db.migrate import downgrade, newest_revision, stored_revisions, upgrade
from healthcode.bootstrap import App


def test_a_start_at_the_head_leaves_alembic_alone_and_one_behind_does_not(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stored_revisions(app.engine) == [newest_revision()]
    ran: list[str] = []
    real = command.upgrade

    def upgrading(config: object, revision: str) -> None:
        ran.append(revision)
        real(config, revision)  # type: ignore[arg-type]

    monkeypatch.setattr(command, "upgrade", upgrading)
    upgrade(app.engine)
    assert ran == []  # at the head: nothing asked of Alembic
    previous = f"{int(newest_revision()) - 1:04d}"
    downgrade(app.engine, previous)
    assert stored_revisions(app.engine) == [previous]
    upgrade(app.engine)
    assert ran == ["head"]
    assert stored_revisions(app.engine) == [newest_revision()]
