"""The command line: exit codes, messages, and the audit round trip (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from healthcode.entrypoints.cli import app
from tests.conftest import TEST_PASSPHRASE

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEALTHCODE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEALTHCODE_DATABASE_URL", database_url)
    monkeypatch.setenv("HEALTHCODE_KEY_PASSPHRASE", TEST_PASSPHRASE)
    monkeypatch.setenv("HEALTHCODE_CHECKPOINT_EVERY_ENTRIES", "2")
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["init"]).exit_code == 0
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    # Successful commands print their answer on stdout; stderr may carry warnings (a driver's
    # resource warning at garbage collection, say) that must not break the JSON.
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


def enrol(doc: str = "11010519491231002X") -> str:
    code, out = run(
        "resident",
        "enrol",
        "--name",
        "王五",
        "--doc-type",
        "prc_id",
        "--doc-number",
        doc,
        "--phone",
        "13712345678",
    )
    assert code == 0, out
    return str(json.loads(out)["subject_id"])


def test_issue_and_verify_from_png(cli_env: Path) -> None:
    subject = enrol()
    code, out = run("code", "issue", subject, "--png", "code.png")
    assert code == 0, out
    status, out = run("verify", "code.png")
    assert status == 0
    assert "ADMIT" in out
    assert "王*" in out


def test_bad_input_exits_2_with_a_message(cli_env: Path) -> None:
    status, out = run(
        "resident",
        "enrol",
        "--name",
        "王五",
        "--doc-type",
        "prc_id",
        "--doc-number",
        "110105194912310021",
        "--phone",
        "13712345678",
    )
    assert status == 2
    assert "check character" in out
    assert "doc_number" in out
    status, out = run("venue", "poster", "vnope", "--out", "poster.pdf")
    assert status == 2
    assert "no such venue" in out
    status, out = run("venue", "poster", "vnope", "--out", "poster.doc")
    assert status == 2
    assert ".svg, .pdf or .png" in out
    Path("notes.gif").write_bytes(b"GIF89a" + bytes(50))
    status, out = run("verify", "notes.gif")
    assert status == 2
    assert "PNG" in out


def test_invalid_code_exits_3(cli_env: Path) -> None:
    status, out = run("verify", "HCODE1:NOTACODE")
    assert status == 3
    assert "INVALID" in out


def test_missing_secret_refuses_to_start(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTHCODE_KEY_PASSPHRASE", "changeme")
    status, out = run("keys", "list")
    assert status == 2
    assert "placeholder" in out


def test_log_export_audits_clean_and_names_a_tampered_entry(cli_env: Path) -> None:
    enrol()
    assert (
        run(
            "venue",
            "register",
            "--name-en",
            "Gym",
            "--address",
            "2 Side St",
            "--district",
            "Tianhe",
            "--type",
            "gym",
            "--operator",
            "Fit Co",
        )[0]
        == 0
    )
    assert run("log", "checkpoint")[0] == 0
    assert run("log", "export", "--out", "log.jsonl", "--checkpoints", "cps.json")[0] == 0
    vkey = json.loads(Path("cps.json").read_text())["vkey"]
    args = ("audit", "verify", "--log", "log.jsonl", "--checkpoints", "cps.json", "--vkey", vkey)
    status, out = run(*args)
    assert status == 0, out
    assert "log verified" in out
    lines = Path("log.jsonl").read_text().splitlines()
    row = json.loads(lines[3])
    row["entry"] = row["entry"].replace('"outcome":"ok"', '"outcome":"refused"')
    lines[3] = json.dumps(row, ensure_ascii=False)
    Path("log.jsonl").write_text("\n".join(lines) + "\n")
    status, out = run(*args)
    assert status == 3
    assert "seq 3" in out


def test_checkin_by_poster_and_offline_upload(cli_env: Path) -> None:
    subject = enrol()
    status, out = run(
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
    )
    assert status == 0, out
    venue = json.loads(out)
    status, out = run("checkin", "place", subject, venue["place_code"])
    assert status == 0, out
    assert json.loads(out)[0]["venue_id"] == venue["venue_id"]
    status, out = run("code", "issue", subject)
    code = json.loads(out)["code"]
    scans = [{"client_id": "kiosk-01-0001", "code": code, "scanned_at": 0}]
    Path("scans.json").write_text(json.dumps(scans))
    status, out = run("checkin", "upload", venue["venue_id"], "scans.json")
    assert status == 0, out
    assert json.loads(out)["rejected"][0]["reason"] == "too_old"
    status, out = run("checkin", "list", subject)
    assert status == 0
    assert venue["venue_id"] in out
    Path("broken.json").write_text("{not json")
    status, out = run("checkin", "upload", venue["venue_id"], "broken.json")
    assert status == 2
    assert "expected a JSON list" in out
    status, out = run("checkin", "place", subject, "PLACE1:NOPE")
    assert status == 2
    assert "place_code" in out


def test_lab_import_reports_bad_lines_and_exits_2(cli_env: Path) -> None:
    enrol()
    header = "test_id,doc_type,doc_number,sample_time,result,lab\n"
    good = "T-1,prc_id,11010519491231002X,2026-11-17T09:00:00+08:00,positive,GZLAB1\n"
    Path("bad.csv").write_text(header + good + "T-2,prc_id,11010519491231002X,soon,positive,L\n")
    status, out = run("lab", "import", "bad.csv")
    assert status == 2
    assert "line 3: sample_time" in out
    assert "nothing imported" in out
    Path("good.csv").write_text(header + good)
    status, out = run("lab", "import", "good.csv")
    assert status == 0, out
    (case_id,) = json.loads(out)["cases_opened"]
    status, out = run("case", "list")
    assert status == 0
    assert case_id in out
