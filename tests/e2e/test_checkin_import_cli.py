"""`healthcode checkin import FILE.csv`: imported, refused with every bad line, idempotent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from healthcode.adapters.clock import FixedClock
from tests.conftest import TEST_PASSPHRASE
from tests.support.cli import Cli

HEADER = "venue_id,subject_id,time_in,time_out,client_id\n"


@pytest.fixture
def cli(
    tmp_path: Path, database_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    monkeypatch.setenv("HEALTHCODE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEALTHCODE_DATABASE_URL", database_url)
    monkeypatch.setenv("HEALTHCODE_KEY_PASSPHRASE", TEST_PASSPHRASE)
    monkeypatch.chdir(tmp_path)
    made = Cli(clock)
    assert made.invoke(["init"]).exit_code == 0
    return made


def made(cli: Cli, *args: str) -> dict[str, object]:
    status, out = cli.run(*args)
    assert status == 0, out
    found: dict[str, object] = json.loads(out)
    return found


def test_import_refuses_a_bad_file_then_imports_and_reimports(cli: Cli) -> None:
    subject = made(
        cli,
        "resident",
        "enrol",
        "--name",
        "王五",
        "--doc-type",
        "prc_id",
        "--doc-number",
        "11010519491231002X",
        "--phone",
        "13712345678",
    )["subject_id"]
    venue = made(
        cli,
        "venue",
        "register",
        "--name-zh",
        "书店",
        "--address",
        "5 Book St",
        "--district",
        "Haizhu",
        "--type",
        "shop",
        "--operator",
        "Books Co",
    )["venue_id"]
    now = cli.clock.now()
    good = [f"{venue},{subject},{now - 7200 + i},,till-1-{i:06d}" for i in range(3)]
    bad = [f"{venue},{subject},{now - 4 * 3600},{now},", f"vnope,{subject},{now - 60},,"]
    Path("bad.csv").write_text(HEADER + "\n".join([*good, *bad]) + "\n", encoding="utf-8")
    status, out = cli.run("checkin", "import", "bad.csv")
    assert status == 2
    assert "line 5: time_out" in out
    assert "line 6: venue_id: no such venue" in out
    assert "2 bad row(s); nothing imported" in out
    status, out = cli.run("checkin", "list", str(subject))
    assert venue not in out
    Path("good.csv").write_text(HEADER + "\n".join(good) + "\n", encoding="utf-8")
    assert made(cli, "checkin", "import", "good.csv") == {"rows": 3, "imported": 3, "duplicates": 0}
    assert made(cli, "checkin", "import", "good.csv") == {"rows": 3, "imported": 0, "duplicates": 3}
    status, out = cli.run("checkin", "list", str(subject))
    assert status == 0
    assert venue in out


def test_unreadable_times_and_a_missing_column_exit_2(cli: Cli) -> None:
    Path("times.csv").write_text(HEADER + "v1,s1,soon,,\nv1,s1,1,never,\n", encoding="utf-8")
    status, out = cli.run("checkin", "import", "times.csv")
    assert status == 2
    assert "line 2: time_in" in out
    assert "line 3: time_out" in out
    Path("header.csv").write_text("venue_id,subject_id\nv1,s1\n", encoding="utf-8")
    status, out = cli.run("checkin", "import", "header.csv")
    assert status == 2
    assert "header" in out
    status, out = cli.run("checkin", "import", "missing.csv")
    assert status == 2
    assert "cannot read" in out
