"""The command line: exit codes, messages, and the audit round trip (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import build
from healthcode.entrypoints.cli.common import load_settings
from healthcode.services import lab_registry
from tests.conftest import TEST_PASSPHRASE
from tests.support.cli import Cli
from tests.support.staff import founders


@pytest.fixture
def cli(
    tmp_path: Path, database_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Cli:
    monkeypatch.setenv("HEALTHCODE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEALTHCODE_DATABASE_URL", database_url)
    monkeypatch.setenv("HEALTHCODE_KEY_PASSPHRASE", TEST_PASSPHRASE)
    monkeypatch.setenv("HEALTHCODE_CHECKPOINT_EVERY_ENTRIES", "2")
    monkeypatch.chdir(tmp_path)
    made = Cli(clock)
    assert made.invoke(["init"]).exit_code == 0
    return made


def enrol(cli: Cli, doc: str = "11010519491231002X") -> str:
    code, out = cli.run(
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


def test_issue_and_verify_from_png(cli: Cli) -> None:
    subject = enrol(cli)
    code, out = cli.run("code", "issue", subject, "--png", "code.png")
    assert code == 0, out
    status, out = cli.run("verify", "code.png")
    assert status == 0
    assert "ADMIT" in out
    assert "王*" in out


def test_bad_input_exits_2_with_a_message(cli: Cli) -> None:
    status, out = cli.run(
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
    status, out = cli.run("venue", "poster", "vnope", "--out", "poster.pdf")
    assert status == 2
    assert "no such venue" in out
    status, out = cli.run("venue", "poster", "vnope", "--out", "poster.doc")
    assert status == 2
    assert ".svg, .pdf or .png" in out
    Path("notes.gif").write_bytes(b"GIF89a" + bytes(50))
    status, out = cli.run("verify", "notes.gif")
    assert status == 2
    assert "PNG" in out


def test_invalid_code_exits_3(cli: Cli) -> None:
    status, out = cli.run("verify", "HCODE1:NOTACODE")
    assert status == 3
    assert "INVALID" in out


def test_missing_secret_refuses_to_start(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTHCODE_KEY_PASSPHRASE", "changeme")
    status, out = cli.run("keys", "list")
    assert status == 2
    assert "placeholder" in out


def test_log_export_audits_clean_and_names_a_tampered_entry(cli: Cli) -> None:
    enrol(cli)
    assert (
        cli.run(
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
    assert cli.run("log", "checkpoint")[0] == 0
    assert cli.run("log", "export", "--out", "log.jsonl", "--checkpoints", "cps.json")[0] == 0
    vkey = json.loads(Path("cps.json").read_text())["vkey"]
    args = ("audit", "verify", "--log", "log.jsonl", "--checkpoints", "cps.json", "--vkey", vkey)
    status, out = cli.run(*args)
    assert status == 0, out
    assert "log verified" in out
    lines = Path("log.jsonl").read_text().splitlines()
    row = json.loads(lines[3])
    row["entry"] = row["entry"].replace('"outcome":"ok"', '"outcome":"refused"')
    lines[3] = json.dumps(row, ensure_ascii=False)
    Path("log.jsonl").write_text("\n".join(lines) + "\n")
    status, out = cli.run(*args)
    assert status == 3
    assert "seq 3" in out


def test_checkin_by_poster_and_offline_upload(cli: Cli) -> None:
    subject = enrol(cli)
    status, out = cli.run(
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
    status, out = cli.run("checkin", "place", subject, venue["place_code"])
    assert status == 0, out
    assert json.loads(out)[0]["venue_id"] == venue["venue_id"]
    status, out = cli.run("code", "issue", subject)
    code = json.loads(out)["code"]
    scans = [{"client_id": "kiosk-01-0001", "code": code, "scanned_at": 0}]
    Path("scans.json").write_text(json.dumps(scans))
    status, out = cli.run("checkin", "upload", venue["venue_id"], "scans.json")
    assert status == 0, out
    assert json.loads(out)["rejected"][0]["reason"] == "too_old"
    status, out = cli.run("checkin", "list", subject)
    assert status == 0
    assert venue["venue_id"] in out
    Path("broken.json").write_text("{not json")
    status, out = cli.run("checkin", "upload", venue["venue_id"], "broken.json")
    assert status == 2
    assert "expected a JSON list" in out
    status, out = cli.run("checkin", "place", subject, "PLACE1:NOPE")
    assert status == 2
    assert "place_code" in out


def test_lab_import_reports_bad_lines_and_exits_2(cli: Cli) -> None:
    """A lab sends its file signed with its own key (`lab keygen` made it); the authority
    registered the public key with two admins."""
    enrol(cli)
    status, out = cli.run("lab", "keygen", "--out", "lab.pem")
    assert status == 0, out
    public = out.strip().splitlines()[-1]
    assert cli.run("lab", "keygen", "--out", "lab.pem")[0] == 2  # never overwritten
    app = build(load_settings(), clock=cli.clock, migrate=False)
    try:
        first, second = founders(app).admins
        asked = lab_registry.request_lab(app.ctx, first, "GZLAB1", "广州一号检测中心", public)
        lab_registry.approve_lab(app.ctx, second, asked.lab_id)
    finally:
        app.close()
    header = "test_id,doc_type,doc_number,sample_time,result,lab\n"
    good = "T-1,prc_id,11010519491231002X,2026-11-17T09:00:00+08:00,positive,GZLAB1\n"
    Path("bad.csv").write_text(header + good + "T-2,prc_id,11010519491231002X,soon,positive,\n")
    signed = ("--lab", asked.lab_id, "--key", "lab.pem")
    status, out = cli.run("lab", "import", "bad.csv", *signed)
    assert status == 2
    assert "line 3: sample_time" in out
    assert "nothing imported" in out
    Path("good.csv").write_text(header + good)
    status, out = cli.run("lab", "import", "good.csv", "--lab", asked.lab_id, "--key", "other.pem")
    assert status == 2  # not the lab's key
    status, out = cli.run("lab", "import", "good.csv", *signed)
    assert status == 0, out
    (case_id,) = json.loads(out)["cases_opened"]
    status, out = cli.run("case", "list")
    assert status == 0
    assert case_id in out
    assert "GZLAB1" in cli.run("lab", "list")[1]


def test_the_contact_archive_from_the_command_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out = cli.run("case", "archive")
    assert status == 2
    assert "HEALTHCODE_CONTACT_ARCHIVE" in out  # the city keeps none: says how to keep one
    monkeypatch.setenv("HEALTHCODE_CONTACT_ARCHIVE", "true")
    status, out = cli.run("case", "archive")
    assert status == 0, out
    assert json.loads(out) == {"days_written": 0, "rows": 0, "days_current": 0}  # no visits yet
    status, out = cli.run("case", "trace-all")
    assert status == 0, out
    assert json.loads(out)["cases"] == 0
