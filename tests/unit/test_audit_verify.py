"""Auditing a copy of the log: a clean copy passes, and each kind of tampering names its entry."""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from healthcode.adapters.crypto.note import make_vkey, sign_checkpoint
from healthcode.verifier.audit import AuditReport, LogLine, canonical_json, verify_log_copy
from healthcode.verifier.checkpoint import Checkpoint
from healthcode.verifier.merkle import root_from_leaf_hashes

NAME = "log.healthcode.example"
ORIGIN = "healthcode.example/log"
KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"audit test key").digest())
VKEY = make_vkey(NAME, KEY.public_key())
N = 40
EVERY = 8


def entry_text(seq: int, **extra: object) -> str:
    return canonical_json(
        {"seq": seq, "kind": "check_in", "place": f"P{seq % 5}", "说明": "签到", **extra}
    )


def leaf_hex(text: str) -> str:
    return hashlib.sha256(b"\x00" + text.encode("utf-8")).hexdigest()


def make_line(seq: int, text: str | None = None, leaf: str | None = None) -> str:
    text = entry_text(seq) if text is None else text
    return LogLine(seq, text, leaf_hex(text) if leaf is None else leaf).to_json()


def checkpoint(lines: list[str], size: int, key: Ed25519PrivateKey = KEY) -> str:
    leaves = [bytes.fromhex(json.loads(line)["leaf_hash"]) for line in lines[:size]]
    cp = Checkpoint(ORIGIN, size, root_from_leaf_hashes(leaves), 1_700_000_000 + size)
    return sign_checkpoint(cp, NAME, key)


@pytest.fixture
def log() -> list[str]:
    return [make_line(i) for i in range(N)]


@pytest.fixture
def checkpoints(log: list[str]) -> list[str]:
    return [checkpoint(log, size) for size in range(EVERY, N + 1, EVERY)]


def audit(lines: list[str], cps: list[str]) -> AuditReport:
    return verify_log_copy(iter(lines), cps, VKEY)


def test_clean_copy_passes(log: list[str], checkpoints: list[str]) -> None:
    # Checkpoints in any order, lines with their newlines, as read from a file.
    report = audit([line + "\n" for line in log], list(reversed(checkpoints)))
    assert report == AuditReport(True, N, len(checkpoints), None, None)


def test_edited_entry_is_named(log: list[str], checkpoints: list[str]) -> None:
    obj = json.loads(log[13])
    edited = entry_text(13, place="ELSEWHERE")
    log[13] = LogLine(13, edited, obj["leaf_hash"]).to_json()
    report = audit(log, checkpoints)
    assert not report.ok
    assert report.first_bad_seq == 13
    assert report.problem is not None
    assert "seq 13 was altered" in report.problem
    assert report.entries_checked == 13


def test_deleted_line_is_named(log: list[str], checkpoints: list[str]) -> None:
    del log[21]
    report = audit(log, checkpoints)
    assert (report.ok, report.first_bad_seq) == (False, 21)
    assert report.problem is not None
    assert "missing or out of order" in report.problem


def test_swapped_lines_name_the_first(log: list[str], checkpoints: list[str]) -> None:
    log[5], log[6] = log[6], log[5]
    report = audit(log, checkpoints)
    assert (report.ok, report.first_bad_seq) == (False, 5)


def test_renumbered_entry_is_caught(log: list[str], checkpoints: list[str]) -> None:
    """A line whose seq was fixed up but whose entry still says another seq."""
    text = entry_text(9)
    log[10] = LogLine(10, text, leaf_hex(text)).to_json()
    report = audit(log, checkpoints)
    assert (report.ok, report.first_bad_seq) == (False, 10)


def test_edit_with_rewritten_hash_caught_by_checkpoint(
    log: list[str], checkpoints: list[str]
) -> None:
    log[13] = make_line(13, entry_text(13, place="ELSEWHERE"))
    report = audit(log, checkpoints)
    assert not report.ok
    assert report.first_bad_seq == 8  # last matching checkpoint is size 8
    assert report.problem is not None
    assert "seq 8 to 15" in report.problem
    assert report.checkpoints_checked == 1  # only size 8 still matches


def test_rewritten_tail_after_last_checkpoint_is_not_detectable(log: list[str]) -> None:
    cps = [checkpoint(log, 16)]
    log[30] = make_line(30, entry_text(30, place="ELSEWHERE"))
    assert audit(log, cps).ok  # nothing signed covers seq 30: the report cannot claim more


def test_forged_checkpoint_signature(log: list[str], checkpoints: list[str]) -> None:
    checkpoints[2] = checkpoint(log, 24, key=Ed25519PrivateKey.generate())
    report = audit(log, checkpoints)
    assert not report.ok
    assert report.first_bad_seq is None
    assert report.problem is not None
    assert "Checkpoint #3" in report.problem


def test_tampered_checkpoint_text(log: list[str], checkpoints: list[str]) -> None:
    checkpoints[0] = checkpoints[0].replace(f"\n{EVERY}\n", f"\n{EVERY + 1}\n", 1)
    report = audit(log, checkpoints)
    assert not report.ok
    assert report.problem is not None
    assert "does not verify" in report.problem


def test_copy_shorter_than_checkpoint(log: list[str], checkpoints: list[str]) -> None:
    report = audit(log[:35], checkpoints)
    assert (report.ok, report.first_bad_seq) == (False, 35)
    assert report.problem is not None
    assert "copy is shorter than checkpoint" in report.problem
    assert report.entries_checked == 35


def test_forked_checkpoints(log: list[str], checkpoints: list[str]) -> None:
    other = [*log[:3], make_line(3, entry_text(3, place="FORK")), *log[4:]]
    checkpoints.append(checkpoint(other, 16))  # same size 16, different root
    report = audit(log, checkpoints)
    assert not report.ok
    assert report.problem is not None
    assert "two different trees of size 16" in report.problem


def test_fork_proven_by_the_entries(log: list[str], checkpoints: list[str]) -> None:
    other = [*log[:3], make_line(3, entry_text(3, place="FORK")), *log[4:]]
    checkpoints[0] = checkpoint(other, 8)  # a size-8 tree that is no prefix of the others
    report = audit(log, checkpoints)
    assert not report.ok
    assert report.first_bad_seq is None
    assert report.problem is not None
    assert "size 8 is inconsistent with the one of size 16" in report.problem


@pytest.mark.parametrize(
    ("bad_line", "fragment"),
    [
        ("not json", "not a valid JSON object"),
        ('{"seq": 4}', "exactly the keys"),
        ('{"seq": 4, "seq": 4, "entry": "{}", "leaf_hash": "00"}', "not a valid JSON object"),
        ('{"seq": "4", "entry": "{}", "leaf_hash": "' + "0" * 64 + '"}', "not an integer"),
        ('{"seq": 4, "entry": 5, "leaf_hash": "' + "0" * 64 + '"}', "must be text"),
        ('{"seq": 4, "entry": "{}", "leaf_hash": "XYZ"}', "64 lowercase hex"),
        (make_line(4, "[4]"), "does not carry seq 4"),
        (make_line(4, "{not json"), "is not valid JSON"),
        (make_line(4, '{"seq":4, "a":1}'), "canonical"),
        (make_line(4, '{"seq":4.0}'), "does not carry seq 4"),
        (make_line(4, '{"a":NaN,"seq":4}'), "is not valid JSON"),
        (make_line(4, '{"seq":4,"x":"\\ud800"}'), "canonical"),
        ("[" * 100_000, "not a valid JSON object"),
    ],
)
def test_malformed_lines_are_reported_not_raised(
    log: list[str], checkpoints: list[str], bad_line: str, fragment: str
) -> None:
    log[4] = bad_line
    report = audit(log, checkpoints)
    assert (report.ok, report.first_bad_seq, report.entries_checked) == (False, 4, 4)
    assert report.problem is not None
    assert fragment in report.problem


def test_size_zero_checkpoint(log: list[str], checkpoints: list[str]) -> None:
    assert audit(log, [checkpoint(log, 0), *checkpoints]).ok
    bad = sign_checkpoint(Checkpoint(ORIGIN, 0, bytes(32), 1), NAME, KEY)
    report = audit(log, [bad, *checkpoints])
    assert not report.ok
    assert report.problem is not None
    assert "size 0" in report.problem


def test_garbage_inputs_never_raise(log: list[str], checkpoints: list[str]) -> None:
    assert not verify_log_copy(log, checkpoints, "not a vkey").ok
    assert not verify_log_copy(log, ["garbage"], VKEY).ok
    assert not verify_log_copy(log, [None], VKEY).ok  # type: ignore[list-item]
    assert not verify_log_copy([b"bytes"], [], VKEY).ok  # type: ignore[list-item]
    assert not verify_log_copy(None, [], VKEY).ok  # type: ignore[arg-type]
    assert verify_log_copy([], [], VKEY).ok
    assert verify_log_copy(["", "\n"], [], VKEY).ok
