"""The command line shows the settings' own warnings (a development secret in use) and nothing
else under that name: a driver's resource warning that garbage collection happens to raise while
the settings load goes where it would have gone, not into the command's output as if the
settings had said it."""

from __future__ import annotations

import warnings

import pytest

from healthcode.config import SettingsWarning
from healthcode.entrypoints.cli import common


def test_only_the_settings_own_warnings_are_printed_as_theirs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded = object()

    def settings() -> object:
        warnings.warn("connection was deleted while still open", ResourceWarning, stacklevel=1)
        warnings.warn("dev profile: using a development secret", SettingsWarning, stacklevel=1)
        return loaded

    monkeypatch.setattr(common, "Settings", settings)
    with pytest.warns(ResourceWarning, match="deleted while still open"):
        assert common.load_settings() is loaded
    printed = capsys.readouterr()
    assert "warning: dev profile: using a development secret" in printed.err
    assert "deleted while still open" not in printed.err + printed.out


def test_the_dev_profile_warns_in_the_settings_category(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTHCODE_PROFILE", "dev")
    monkeypatch.delenv("HEALTHCODE_KEY_PASSPHRASE", raising=False)
    with pytest.warns(SettingsWarning, match="development key_passphrase"):
        common.Settings(_env_file=None)  # type: ignore[call-arg]
