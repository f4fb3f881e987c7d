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

from healthcode.verifier.checkpoint import Checkpoint, CheckpointError, parse_vkey, verify_checkpoint
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


class _LineProblem(Exception):
    """Internal: a line that fails its own checks, with the seq to blame."""


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
    where = f"line {line_no} (where entry seq {seq} belongs)"
    try:
        obj = _loads(text)
    except (ValueError, RecursionError):
        raise _LineProblem(f"{where} is not a valid JSON object.") from None
    if not isinstance(obj, dict) or set(obj) != EXPORT_KEYS:
        raise _LineProblem(f"{where} must have exactly the keys seq, entry and leaf_hash.")
    if not _is_int(obj["seq"]):
        raise _LineProblem(f"{where} has a seq that is not an integer.")
    if obj["seq"] != seq:
        raise _LineProblem(
            f"entry seq {seq} is missing or out of order: {where} holds seq {obj['seq']}."
        )
    entry, recorded = obj["entry"], obj["leaf_hash"]
    if not isinstance(entry, str) or not isinstance(recorded, str) or not _HEX_HASH.fullmatch(
        recorded
    ):
        raise _LineProblem(f"entry seq {seq}: entry must be text and leaf_hash 64 lowercase hex.")
    try:
        parsed = _loads(entry)
    except (ValueError, RecursionError):
        raise _LineProblem(f"entry seq {seq} is not valid JSON; it was altered.") from None
    if not isinstance(parsed, dict) or not _is_int(parsed.get("seq")) or parsed["seq"] != seq:
        raise _LineProblem(f"entry seq {seq} does not carry seq {seq} inside its own JSON.")
    if canonical_json(parsed) != entry:
        raise _LineProblem(f"entry seq {seq} is not in canonical JSON form; it was altered.")
    try:
        actual = leaf_hash(entry.encode("utf-8"))
    except UnicodeEncodeError:
        raise _LineProblem(f"entry seq {seq} is not valid UTF-8 text.") from None
    if actual.hex() != recorded:
        raise _LineProblem(
            f"entry seq {seq} was altered: its text hashes to {actual.hex()[:16]}..., but the log "
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
    if 0 in roots:
        (scan.matched if roots[0] == EMPTY_ROOT else scan.mismatched).add(0)
    for line_no, raw in enumerate(lines, start=1):
        text = raw.rstrip("\r\n") if isinstance(raw, str) else ""
        if isinstance(raw, str) and not text.strip():
            continue
        try:
            if not isinstance(raw, str):
                raise _LineProblem(f"line {line_no} is not text.")
            tree.append(_check_line(text, tree.size, line_no))
        except _LineProblem as problem:
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
        return [], f"the log's verifier key is unusable: {exc}."
    verified: list[Checkpoint] = []
    for i, note in enumerate(checkpoints, start=1):
        try:
            verified.append(verify_checkpoint(note, key))
        except CheckpointError as exc:
            return [], f"checkpoint #{i} is not a valid checkpoint signed by {key.name}: {exc}."
    origins = sorted({cp.origin for cp in verified})
    if len(origins) > 1:
        return [], f"the checkpoints name different logs: {', '.join(origins)}."
    by_size: dict[int, bytes] = {}
    for cp in sorted(verified, key=lambda c: c.size):
        if by_size.setdefault(cp.size, cp.root) != cp.root:
            return [], (
                f"the log signed two different trees of size {cp.size}: the checkpoints are "
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
    except Exception as exc:  # noqa: BLE001 - an auditor must get a report, never a traceback
        return _fail(0, 0, None, f"the checkpoints could not be read: {exc!r}.")
    if problem is not None:
        return _fail(0, 0, None, problem)
    roots = {cp.size: cp.root for cp in verified}
    try:
        scan = _scan(lines, roots)
    except Exception as exc:  # noqa: BLE001 - e.g. the caller's file iterator fails to decode
        return _fail(0, 0, None, f"the log copy could not be read: {exc!r}.")
    n_ok = sum(1 for cp in verified if cp.size in scan.matched)
    forks = [(x, m) for x in sorted(scan.mismatched) for m in sorted(scan.matched) if m > x]
    if forks:
        small, large = forks[0]
        return _fail(scan.entries, n_ok, None, (
            f"the checkpoint of size {small} is inconsistent with the checkpoint of size {large}: "
            f"the entries reproduce the size-{large} root, so the log signed two histories."
        ))
    if scan.mismatched:
        bad = min(scan.mismatched)
        good = max((m for m in scan.matched if m < bad), default=0)
        return _fail(scan.entries, n_ok, good, (
            f"the recorded leaf hashes of entries seq {good} to {bad - 1} do not reproduce the "
            f"signed root of size {bad}, though everything before seq {good} matches: an entry "
            f"in that range was altered together with its recorded hash, starting at seq {good} "
            "at the earliest."
        ))
    if scan.line_problem is not None:
        seq, message = scan.line_problem
        return _fail(scan.entries, n_ok, seq, message[0].upper() + message[1:])
    largest = max(roots, default=0)
    if largest > scan.entries:
        return _fail(scan.entries, n_ok, scan.entries, (
            f"the copy is shorter than checkpoint of size {largest}: it ends before entry seq "
            f"{scan.entries}, which the log has signed."
        ))
    return AuditReport(True, scan.entries, n_ok)
