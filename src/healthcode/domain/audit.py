"""What a transparency-log entry says, and its canonical bytes (the Merkle leaves).

An entry answers who (role + pseudonymous ref), did what, to what, why (purpose + legal basis),
when and with what outcome (AUD-8). It never holds personal data (AUD-7): a resident appears only as
a keyed commitment HMAC(k_subject, subject id), where k_subject lives in the identity vault and is
destroyed with the resident's data, after which the commitment points at nobody.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from json.encoder import encode_basestring as _text  # what json.dumps uses, ensure_ascii=False

ENTRY_VERSION = 1
_TOKEN = re.compile(r"[a-z0-9][a-z0-9_.:@#/-]{0,95}\Z")
_TOKEN_MAX = 96


@dataclass(frozen=True, slots=True)
class Actor:
    role: str  # "system", "resident", "authority_admin", ... (see domain/policy later)
    ref: str  # a staff pseudonym, a subject commitment, or "system"


SYSTEM = Actor("system", "system")


@dataclass(frozen=True, slots=True)
class LogEntry:
    action: str  # past tense event name: "resident.enrolled", "poster.rotated", ...
    actor: Actor
    object_kind: str
    object_ref: str
    purpose: str  # why: "enrolment", "venue_registration", "key_management", ...
    basis: str  # legal basis or rule reference that authorises the action
    outcome: str = "ok"  # "ok" or "refused:<reason>"
    details: Mapping[str, int | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Tokens only: free text is where personal data would creep in. The five words are
        # checked together, remembered as one (a trace makes thousands of entries alike).
        words = (self.action, self.object_kind, self.purpose, self.basis, self.outcome)
        if max(map(len, words)) > _TOKEN_MAX or not _all_tokens(words):  # long: not remembered
            for name, word in zip(_WORDS, words, strict=True):
                if not _token(word):
                    raise ValueError(f"log entry {name} must be a short lowercase token")
        for key, value in self.details.items():
            if not _token(key) or (isinstance(value, str) and not _token(value)):
                raise ValueError(f"log entry detail {key!r} must be a token or an integer")


_WORDS = ("action", "object_kind", "purpose", "basis", "outcome")


def _token(text: str) -> bool:
    return len(text) <= _TOKEN_MAX and _is_token(text)  # nothing longer is remembered


@lru_cache(maxsize=1024)
def _all_tokens(words: tuple[str, ...]) -> bool:
    return all(_token(word) for word in words)


@lru_cache(maxsize=4096)
def _is_token(text: str) -> bool:
    """Whether `text` is a token. Remembered: a trace writes hundreds of entries whose words
    (the action, purpose, basis, detail names, the case) are the same."""
    return _TOKEN.match(text) is not None


def canonical_entry(entry: LogEntry, seq: int, time: int) -> str:
    """The exact text that is hashed into the log: sorted keys, no spaces, UTF-8, no floats.

    Written field by field in the order sorted keys give, each text escaped by the encoder
    json.dumps itself uses: the same text as `_dumped` (a property test holds them equal),
    about 3.4 times as fast; every state change writes one, a trace one per person whose visits
    it read. Anything but texts where texts belong and plain integers where integers do takes
    `_dumped`, which writes it as json.dumps always has (or refuses it)."""
    actor = entry.actor
    if not (
        type(seq) is int
        and type(time) is int
        and type(actor.ref) is str
        and type(actor.role) is str
        and type(entry.object_ref) is str
    ):
        return _dumped(entry, seq, time)
    details = entry.details
    parts = []
    for key in sorted(details):
        value = details[key]
        if type(value) is str:
            parts.append(f"{_text(key)}:{_text(value)}")
        elif type(value) is int:
            parts.append(f"{_text(key)}:{int.__repr__(value)}")
        else:
            return _dumped(entry, seq, time)
    return (
        f'{{"action":{_text(entry.action)},'
        f'"actor":{{"ref":{_text(actor.ref)},"role":{_text(actor.role)}}},'
        f'"basis":{_text(entry.basis)},"details":{{{",".join(parts)}}},'
        f'"object":{{"kind":{_text(entry.object_kind)},"ref":{_text(entry.object_ref)}}},'
        f'"outcome":{_text(entry.outcome)},"purpose":{_text(entry.purpose)},'
        f'"seq":{int.__repr__(seq)},"time":{int.__repr__(time)},"v":{ENTRY_VERSION}}}'
    )


def _dumped(entry: LogEntry, seq: int, time: int) -> str:
    """canonical_entry by json.dumps, from the entry as a dictionary."""
    body = {
        "v": ENTRY_VERSION,
        "seq": seq,
        "time": time,
        "actor": {"role": entry.actor.role, "ref": entry.actor.ref},
        "action": entry.action,
        "object": {"kind": entry.object_kind, "ref": entry.object_ref},
        "purpose": entry.purpose,
        "basis": entry.basis,
        "outcome": entry.outcome,
        "details": dict(entry.details),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


PENDING_SEQ = -1  # the sequence number a queued entry carries until it is sequenced


_PENDING_TAIL = f',"seq":{PENDING_SEQ},"time":'


def sequenced(queued: str, seq: int, time: int) -> str:
    """A queued entry's canonical text (canonical_entry with PENDING_SEQ) with its sequence
    number and time: exactly what canonical_entry gives for them. With sorted keys the body
    ends `,"seq":-1,"time":T,"v":V}`, and JSON escapes every quote inside a text, so the last
    occurrence of `,"seq":-1,"time":` is that tail: only it is rewritten."""
    head, found, tail = queued.rpartition(_PENDING_TAIL)
    _, comma, rest = tail.partition(",")
    if not found or not comma or not rest.startswith('"v":'):
        body = json.loads(queued)
        body["seq"], body["time"] = seq, time
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f'{head},"seq":{seq},"time":{time},{rest}'


def commitment(subject_key: bytes, subject_id: str) -> str:
    """Keyed commitment to a subject: linkable only while its key exists (AUD-7)."""
    mac = hmac.new(subject_key, b"healthcode/subject/" + subject_id.encode(), hashlib.sha256)
    return "c:" + mac.hexdigest()[:32]


def checkpoint_due(
    size: int,
    last_size: int,
    last_time: int | None,
    now: int,
    every_entries: int,
    every_seconds: int,
) -> bool:
    """A checkpoint at least every N entries or T seconds, and only when the tree grew (AUD-3)."""
    if size <= last_size:
        return False
    if last_time is None or size - last_size >= every_entries:
        return True
    return now - last_time >= every_seconds
