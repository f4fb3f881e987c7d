"""`healthcode retention purge | health | sunset`: counts, exit 1 on a failed purge, and a
sunset that needs its confirmation flag and writes the attestation to publish."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.db.retention import SqlRetention
from healthcode.entrypoints.cli.retention import retention_app
from tests.conftest import TEST_PASSPHRASE
from tests.support.cli import Cli


@pytest.fixture
def cli_env(
    tmp_path: Path, database_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("HEALTHCODE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEALTHCODE_DATABASE_URL", database_url)
    monkeypatch.setenv("HEALTHCODE_KEY_PASSPHRASE", TEST_PASSPHRASE)
    monkeypatch.chdir(tmp_path)
    result = Cli(clock).invoke(["init"])
    assert result.exit_code == 0, result.output
    return tmp_path


@pytest.fixture
def run(clock: FixedClock) -> Callable[..., tuple[int, str]]:
    def retention(*args: str) -> tuple[int, str]:
        result = Cli(clock, retention_app).invoke(args)
        return result.exit_code, result.output

    return retention


def test_purge_prints_counts_and_health_is_ok(
    cli_env: Path, run: Callable[..., tuple[int, str]]
) -> None:
    status, out = run("purge")
    assert status == 0, out
    assert "checkins" in out
    assert "exposures" in out
    status, out = run("health")
    assert status == 0, out
    assert json.loads(out)["status"] == "ok"


def test_a_failed_purge_exits_1_and_health_is_degraded(
    cli_env: Path, run: Callable[..., tuple[int, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: SqlRetention, before: int) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(SqlRetention, "purge_checkins", broken)
    status, out = run("purge")
    assert status == 1
    assert "retention purge failed: RuntimeError" in out
    status, out = run("health")
    assert status == 1
    assert json.loads(out)["status"] == "failed"


def test_sunset_needs_its_flag_then_writes_the_attestation(
    cli_env: Path, run: Callable[..., tuple[int, str]]
) -> None:
    status, out = run("sunset")
    assert status == 2
    assert "--yes-end-the-emergency" in out
    assert not (cli_env / "sunset-attestation.json").exists()
    status, out = run("sunset", "--yes-end-the-emergency", "--out", "attested.json")
    assert status == 0, out
    attestation = json.loads((cli_env / "attested.json").read_text("utf-8"))
    assert attestation["deleted"]["vault_identities"] == 0
    assert attestation["checkpoint"].startswith("healthcode/CN-")
    status, out = run("sunset", "--yes-end-the-emergency")
    assert status == 2  # once only
    assert "emergency has already ended" in out
