"""`retention_days`: 14 by default, at least 1, never above the ceiling fixed in code."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from healthcode.bootstrap import build
from healthcode.config import RETENTION_MAX_DAYS, Settings
from tests.conftest import TEST_PASSPHRASE


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path, key_passphrase=TEST_PASSPHRASE, **values
    )


def test_default_is_14_days_and_reaches_the_services(tmp_path: Path) -> None:
    assert settings(tmp_path).retention_days == 14
    app = build(settings(tmp_path, retention_days=21), migrate=False)
    try:
        assert app.ctx.retention.days == 21
    finally:
        app.close()


@pytest.mark.parametrize("days", [0, -1, RETENTION_MAX_DAYS + 1, 365])
def test_out_of_range_is_refused(tmp_path: Path, days: int) -> None:
    with pytest.raises(ValidationError, match="retention_days"):
        settings(tmp_path, retention_days=days)


def test_the_ceiling_itself_is_allowed(tmp_path: Path) -> None:
    assert settings(tmp_path, retention_days=RETENTION_MAX_DAYS).retention_days == 28
