"""Audit a copy of the log against the checkpoints the log signed, and name the first bad entry.

Anyone holding an export and the published checkpoints can run this offline. Signed roots are
the only trusted input: the export is a copy from somewhere and may have been edited, cut,
reordered or rebuilt, so every fact about it is recomputed.

Log export format (JSON Lines, UTF-8, one object per entry, in log order):

    {"seq": <int>, "entry": "<the entry's canonical JSON text>", "leaf_hash": "<64 hex>"}

  * exactly these three keys; `seq` runs 0, 1, 2, ... without gaps;
  * `entry` is a JSON object with an integer "seq" equal to the line's seq, written in the
    canonical form json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
    so the bytes hashed, entry.encode("utf-8"), have exactly one spelling;
  * `leaf_hash` is lowercase hex of SHA-256(0x00 || entry bytes) (RFC 9162 §2.1.1) as the
    server recorded it when the entry was appended. Blank lines are ignored.

Checkpoints are signed notes (see `checkpoint`), checked with the log's vkey.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from healthcode.verifier.checkpoint import (
    Checkpoint,
    CheckpointError,
    parse_vkey,
    verify_checkpoint,
)
from healthcode.verifier.merkle import EMPTY_ROOT, TreeBuilder, leaf_hash

EXPORT_KEYS = frozenset({"seq", "entry", "leaf_hash"})
_HEX_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class LogLine:
    """One line of the log export (see the module docstring)."""

    seq: int
    entry: str
    leaf_hash: str

    def to_json(self) -> str:
        """The export line, as the server writes it."""
        obj = {"seq": self.seq, "entry": self.entry, "leaf_hash": self.leaf_hash}
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(obj: Any) -> str:
    """The one spelling of an entry that the log hashes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class AuditReport:
    """Outcome of an audit. `problem` is one sentence naming the entry and the fault."""

    ok: bool
    entries_checked: int
    checkpoints_checked: int  # signed checkpoints whose root the copy reproduced
    first_bad_seq: int | None = None
    problem: str | None = None


class _LineError(Exception):
    """Internal: the line being checked fails; the message names its seq."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")  # two readers could pick different values
    return dict(pairs)


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_line(text: str, seq: int, line_no: int) -> bytes:
    """All checks of one export line in the documented order; returns its leaf hash."""
    where = f"Line {line_no} (where entry seq {seq} belongs)"
    try:
        obj = _loads(text)
    except (ValueError, RecursionError):
        raise _LineError(f"{where} is not a valid JSON object.") from None
    if not isinstance(obj, dict) or set(obj) != EXPORT_KEYS:
        raise _LineError(f"{where} must have exactly the keys seq, entry and leaf_hash.")
    if not _is_int(obj["seq"]):
        raise _LineError(f"{where} has a seq that is not an integer.")
    if obj["seq"] != seq:
        raise _LineError(
            f"Entry seq {seq} is missing or out of order: line {line_no} holds seq {obj['seq']}."
        )
    entry, recorded = obj["entry"], obj["leaf_hash"]
    if (
        not isinstance(entry, str)
        or not isinstance(recorded, str)
        or not _HEX_HASH.fullmatch(recorded)
    ):
        raise _LineError(f"Entry seq {seq}: entry must be text and leaf_hash 64 lowercase hex.")
    try:
        parsed = _loads(entry)
    except (ValueError, RecursionError):
        raise _LineError(f"Entry seq {seq} is not valid JSON; it was altered.") from None
    if not isinstance(parsed, dict) or not _is_int(parsed.get("seq")) or parsed["seq"] != seq:
        raise _LineError(f"Entry seq {seq} does not carry seq {seq} inside its own JSON.")
    if canonical_json(parsed) != entry:
        raise _LineError(f"Entry seq {seq} is not in canonical JSON form; it was altered.")
    try:
        actual = leaf_hash(entry.encode("utf-8"))
    except UnicodeEncodeError:
        raise _LineError(f"Entry seq {seq} is not valid UTF-8 text.") from None
    if actual.hex() != recorded:
        raise _LineError(
            f"Entry seq {seq} was altered: its text hashes to {actual.hex()[:16]}..., but the log "
            f"recorded {recorded[:16]}... when it was appended."
        )
    return actual


@dataclass
class _Scan:
    entries: int = 0
    line_problem: tuple[int, str] | None = None
    matched: set[int] = field(default_factory=set)
    mismatched: set[int] = field(default_factory=set)


def _scan(lines: Iterable[str], roots: dict[int, bytes]) -> _Scan:
    """One streaming pass: check each line, compare the root at every checkpoint size."""
    scan, tree = _Scan(), TreeBuilder()
    if 0 in roots:  # its root was checked against EMPTY_ROOT with the signatures
        scan.matched.add(0)
    for line_no, raw in enumerate(lines, start=1):
        if isinstance(raw, str) and not raw.strip():
            continue
        try:
            if not isinstance(raw, str):
                raise _LineError(f"Line {line_no} is not text.")
            tree.append(_check_line(raw.rstrip("\r\n"), tree.size, line_no))
        except _LineError as problem:
            scan.line_problem = (tree.size, str(problem))
            break
        scan.entries = tree.size
        if tree.size in roots:
            ok = tree.root() == roots[tree.size]
            (scan.matched if ok else scan.mismatched).add(tree.size)
    return scan


def _fail(entries: int, checkpoints: int, seq: int | None, problem: str) -> AuditReport:
    return AuditReport(False, entries, checkpoints, seq, problem)


def _verify_checkpoints(
    checkpoints: Sequence[str], vkey: str
) -> tuple[list[Checkpoint], str | None]:
    """Signatures first, then what can be judged without entries: origin and same-size forks."""
    try:
        key = parse_vkey(vkey)
    except CheckpointError as exc:
        return [], f"The log's verifier key is unusable: {exc}."
    verified: list[Checkpoint] = []
    for i, note in enumerate(checkpoints, start=1):
        try:
            verified.append(verify_checkpoint(note, key))
        except CheckpointError as exc:
            return [], f"Checkpoint #{i} is not a valid checkpoint signed by {key.name}: {exc}."
    origins = sorted({cp.origin for cp in verified})
    if len(origins) > 1:
        return [], f"The checkpoints name different logs: {', '.join(origins)}."
    if any(cp.size == 0 and cp.root != EMPTY_ROOT for cp in verified):
        return (
            [],
            "A checkpoint of size 0 has a root other than the empty tree's (RFC 9162 §2.1.1).",
        )
    by_size: dict[int, bytes] = {}
    for cp in sorted(verified, key=lambda c: c.size):
        if by_size.setdefault(cp.size, cp.root) != cp.root:
            return [], (
                f"The log signed two different trees of size {cp.size}: the checkpoints are "
                "inconsistent (the log forked its history)."
            )
    return verified, None


def verify_log_copy(lines: Iterable[str], checkpoints: Sequence[str], vkey: str) -> AuditReport:
    """Check a log copy against signed checkpoints; never raises on malformed input.

    Order: checkpoint signatures; checkpoint consistency (two roots for one size, or a root
    the entries prove is not a prefix of a later signed tree); then the entries line by line;
    then the roots of the recorded leaf hashes; then whether the copy is complete.
    A root mismatch is reported before a later line fault: it is only ever found for entries
    before that fault, so reporting it keeps `first_bad_seq` the *first* suspect.
    """
    try:
        verified, problem = _verify_checkpoints(checkpoints, vkey)
    except Exception as exc:  # an auditor gets a report, never a traceback
        return _fail(0, 0, None, f"The checkpoints could not be read: {exc!r}.")
    if problem is not None:
        return _fail(0, 0, None, problem)
    roots = {cp.size: cp.root for cp in verified}
    try:
        scan = _scan(lines, roots)
    except Exception as exc:  # e.g. the file fails to decode
        return _fail(0, 0, None, f"The log copy could not be read: {exc!r}.")
    n_ok = sum(1 for cp in verified if cp.size in scan.matched)
    verdict = _judge(scan, max(roots, default=0))
    if verdict is None:
        return AuditReport(True, scan.entries, n_ok)
    return _fail(scan.entries, n_ok, *verdict)


def _judge(scan: _Scan, largest: int) -> tuple[int | None, str] | None:
    """The first fault of a finished scan as (seq to blame, sentence), or None if clean."""
    forks = [(x, m) for x in sorted(scan.mismatched) for m in sorted(scan.matched) if m > x]
    if forks:
        small, large = forks[0]
        return None, (
            f"The checkpoint of size {small} is inconsistent with the one of size {large}: "
            f"the entries reproduce the size-{large} root, so the log signed two histories."
        )
    if scan.mismatched:
        bad = min(scan.mismatched)
        good = max((m for m in scan.matched if m < bad), default=0)
        return good, (
            f"The recorded leaf hashes of entries seq {good} to {bad - 1} do not reproduce the "
            f"signed root of size {bad}, though all before seq {good} match: an entry in that "
            f"range was altered together with its recorded hash, at seq {good} at the earliest."
        )
    if scan.line_problem is not None:
        return scan.line_problem
    if largest > scan.entries:
        return scan.entries, (
            f"The copy is shorter than checkpoint of size {largest}: it ends before entry seq "
            f"{scan.entries}, which the log has signed."
        )
    return None
