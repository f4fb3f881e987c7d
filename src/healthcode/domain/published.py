"""Reading public log entries back: the anomaly watch and the transparency report work from the
entry text alone (domain/audit.py's canonical JSON), so anyone holding a log export can redo them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

DAY = 86400
_TOKEN = re.compile(r"[a-z0-9][a-z0-9_.:@#/-]{0,95}\Z")
_HEX_PREFIX = "u:"  # a value that is not a token (e.g. a district name in Chinese), as UTF-8 hex
_MAX_TEXT_BYTES = 40


@dataclass(frozen=True, slots=True)
class PublicEntry:
    seq: int
    time: int
    action: str
    actor_role: str
    actor_ref: str
    object_kind: str
    object_ref: str
    purpose: str
    basis: str
    outcome: str
    details: dict[str, str | int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def text(self, key: str) -> str:
        value = self.details.get(key)
        return value if isinstance(value, str) else ""

    def number(self, key: str) -> int:
        value = self.details.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_entry(seq: int, text: str) -> PublicEntry:
    """One entry, as `canonical_entry` wrote it."""
    e = json.loads(text)
    details = e.get("details") or {}
    return PublicEntry(
        seq,
        int(e["time"]),
        str(e["action"]),
        str(e["actor"]["role"]),
        str(e["actor"]["ref"]),
        str(e["object"]["kind"]),
        str(e["object"]["ref"]),
        str(e["purpose"]),
        str(e["basis"]),
        str(e["outcome"]),
        {str(k): v for k, v in details.items() if isinstance(v, str | int)},
    )


def as_token(value: str) -> str:
    """A value for an entry's details: itself if it is a token, else `u:` + its UTF-8 bytes in
    hex (at most 40 bytes), so a district named in Chinese can be named on the log."""
    if _TOKEN.match(value):
        return value
    raw = value.encode()[:_MAX_TEXT_BYTES]
    while raw:  # never cut a character in half
        try:
            raw.decode()
            break
        except UnicodeDecodeError:
            raw = raw[:-1]
    return _HEX_PREFIX + raw.hex()


def from_token(value: str) -> str:
    """The inverse of `as_token`."""
    if value.startswith(_HEX_PREFIX):
        try:
            return bytes.fromhex(value[len(_HEX_PREFIX) :]).decode()
        except ValueError:
            return value
    return value


def day_of(time: int) -> int:
    """The start of the UTC day of `time`."""
    return time - time % DAY
