"""Checkpoints (c2sp.org/tlog-checkpoint) in Ed25519 signed notes (c2sp.org/signed-note).

A checkpoint is the log's signed statement "my first `size` entries have Merkle root `root`"
(the signed tree head of RFC 9162 §4.10, in the text form the transparency-dev ecosystem uses).
Using the common format means any C2SP witness or Go `sumdb/note` tool can check our log too.

Body (every line ends in a newline; the signature covers the body including the last one):

    <origin>
    <tree size, ASCII decimal, no leading zeros>
    <base64 of the 32-byte RFC 9162 root hash>
    timestamp <unix seconds, ASCII decimal>

The timestamp is our one extension line. Parsing is strict: a verifier that tolerates variants
invites two parties to read one signed text differently.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ED25519_TYPE = 0x01  # signed-note signature type byte of Ed25519
SIGNATURE_PREFIX = "\u2014 "  # EM DASH, space: starts every signature line
MAX_SIGNATURES = 100  # the cap of golang.org/x/mod/sumdb/note, against oversized notes
MAX_NOTE_CHARS = 1 << 20
MAX_SIZE = (1 << 64) - 1  # tree sizes are uint64 in C2SP
TIMESTAMP_PREFIX = "timestamp "

# ASCII only (str.isdigit() accepts other scripts), and at most 20 digits: uint64 fits, and a
# 5,000-digit line would make int() itself refuse (Python caps int-from-text conversions).
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


class CheckpointError(ValueError):
    """A note or checkpoint that is malformed, unsigned by the expected key, or forged."""


@dataclass(frozen=True)
class Checkpoint:
    """What the log signs: the first `size` entries have RFC 9162 root `root`."""

    origin: str
    size: int
    root: bytes
    timestamp: int

    def __post_init__(self) -> None:
        # Refuse what could not be written as the three-line body, so formatting cannot fail.
        if not self.origin or has_control_chars(self.origin) or self.origin != self.origin.strip():
            raise CheckpointError(f"origin {self.origin!r} must be one non-empty trimmed line")
        if not _is_uint(self.size) or self.size > MAX_SIZE:
            raise CheckpointError(f"tree size {self.size!r} must be an integer in [0, 2^64)")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            raise CheckpointError("root must be a 32-byte SHA-256 hash")
        if not _is_uint(self.timestamp):
            raise CheckpointError(f"timestamp {self.timestamp!r} must be an integer >= 0")


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: who claims to sign, the key hash hint, and the raw signature."""

    name: str
    key_hash: bytes
    signature: bytes


@dataclass(frozen=True)
class VerifierKey:
    """A parsed vkey: the key name, its 4-byte key hash and the raw Ed25519 public key."""

    name: str
    key_hash: bytes
    public_key: bytes

    def __str__(self) -> str:
        return format_vkey(self.name, self.public_key)


def _is_uint(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def has_control_chars(text: str) -> bool:
    """ASCII controls or lone surrogates: text that cannot be one valid UTF-8 note line."""
    return any(ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in text)


def _b64decode_strict(text: str) -> bytes:
    """Standard padded base64 that re-encodes to the same text (no second spelling)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise CheckpointError(f"{text!r} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise CheckpointError(f"{text!r} is not canonical base64")
    return raw


def is_valid_key_name(name: str) -> bool:
    """signed-note key names: non-empty, no Unicode whitespace, no '+', no control characters."""
    if not isinstance(name, str) or not name or "+" in name:
        return False
    return not any(c.isspace() for c in name) and not has_control_chars(name)


def key_hash(name: str, public_key: bytes) -> bytes:
    """Key hash of golang.org/x/mod/sumdb/note: SHA-256(name || "\\n" || 0x01 || key)[:4]."""
    data = name.encode("utf-8") + b"\n" + bytes([ED25519_TYPE]) + public_key
    return hashlib.sha256(data).digest()[:4]


def format_vkey(name: str, public_key: bytes) -> str:
    """`<name>+<hex key hash>+<base64(0x01 || public key)>` from a raw 32-byte public key."""
    if not is_valid_key_name(name):
        raise CheckpointError(f"invalid key name {name!r}")
    if len(public_key) != 32:
        raise CheckpointError("an Ed25519 public key is 32 bytes")
    material = base64.b64encode(bytes([ED25519_TYPE]) + public_key).decode("ascii")
    return f"{name}+{key_hash(name, public_key).hex()}+{material}"


def parse_vkey(vkey: str) -> VerifierKey:
    """Parse and self-check a vkey; the key hash must match the name and key it travels with."""
    parts = vkey.split("+", 2) if isinstance(vkey, str) else []
    if len(parts) != 3:
        raise CheckpointError("a vkey is <name>+<hex key hash>+<base64 key>")
    name, hash_hex, material = parts
    if not is_valid_key_name(name):
        raise CheckpointError(f"invalid key name {name!r} in vkey")
    if not re.fullmatch(r"[0-9a-f]{8}", hash_hex):
        raise CheckpointError(f"vkey key hash {hash_hex!r} must be 8 lowercase hex digits")
    raw = _b64decode_strict(material)
    if len(raw) != 33 or raw[0] != ED25519_TYPE:
        raise CheckpointError("vkey key must be 0x01 (Ed25519) followed by 32 key bytes")
    public_key = raw[1:]
    if key_hash(name, public_key).hex() != hash_hex:
        raise CheckpointError("vkey key hash does not match its name and key")
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise CheckpointError("vkey does not hold a usable Ed25519 public key") from exc
    return VerifierKey(name=name, key_hash=bytes.fromhex(hash_hex), public_key=public_key)


def format_checkpoint_body(cp: Checkpoint) -> str:
    """The signed text of a checkpoint, newline-terminated (see the module docstring)."""
    root = base64.b64encode(cp.root).decode("ascii")
    return f"{cp.origin}\n{cp.size}\n{root}\n{TIMESTAMP_PREFIX}{cp.timestamp}\n"


def parse_checkpoint_body(body: str) -> Checkpoint:
    """Inverse of `format_checkpoint_body`; rejects every other spelling."""
    if not body.endswith("\n"):
        raise CheckpointError("checkpoint body must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) != 4:
        raise CheckpointError(
            f"checkpoint body must have 4 lines (origin, size, root, timestamp), has {len(lines)}"
        )
    origin, size_text, root_text, ts_line = lines
    if not _DECIMAL.fullmatch(size_text):
        raise CheckpointError(f"tree size {size_text!r} is not a decimal without leading zeros")
    if not ts_line.startswith(TIMESTAMP_PREFIX) or not _DECIMAL.fullmatch(
        ts_line[len(TIMESTAMP_PREFIX) :]
    ):
        raise CheckpointError(f"fourth line {ts_line!r} must be 'timestamp <unix seconds>'")
    root = _b64decode_strict(root_text)
    return Checkpoint(
        origin=origin,
        size=int(size_text),
        root=root,
        timestamp=int(ts_line[len(TIMESTAMP_PREFIX) :]),
    )


def parse_note(text: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its signed text and its signature lines (c2sp.org/signed-note).

    As golang.org/x/mod/sumdb/note does, the signatures follow the *last* blank line, and the
    signed text keeps its final newline. Signatures are parsed, not verified.
    """
    if not isinstance(text, str) or len(text) > MAX_NOTE_CHARS:
        raise CheckpointError("note must be a string of at most 1 MiB")
    if any((ord(c) < 0x20 and c != "\n") or 0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise CheckpointError("note contains a control character or invalid UTF-8")
    split = text.rfind("\n\n")
    if split < 0:
        raise CheckpointError("note has no blank line before its signatures")
    body, sig_block = text[: split + 1], text[split + 2 :]
    if not sig_block or not sig_block.endswith("\n"):
        raise CheckpointError("note has no signature lines, or they do not end with a newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"note has more than {MAX_SIGNATURES} signatures")
    return body, [_parse_signature_line(line) for line in lines]


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise CheckpointError(f"signature line {line!r} does not start with an em dash and space")
    name, _, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not is_valid_key_name(name) or not b64:
        raise CheckpointError(f"signature line {line!r} is not '\u2014 <name> <base64>'")
    raw = _b64decode_strict(b64)
    if len(raw) < 5:
        raise CheckpointError(f"signature by {name!r} is too short")
    return NoteSignature(name=name, key_hash=raw[:4], signature=raw[4:])


def verify_note(text: str, vkey: str | VerifierKey) -> str:
    """Return the signed text if the note carries a valid signature by `vkey`.

    Lines by other keys are ignored (witnesses may co-sign), but every line that claims to be
    by this key must verify: one forged line means someone is forging.
    """
    key = vkey if isinstance(vkey, VerifierKey) else parse_vkey(vkey)
    body, signatures = parse_note(text)
    mine = [s for s in signatures if s.name == key.name and s.key_hash == key.key_hash]
    if not mine:
        raise CheckpointError(f"note is not signed by key {key.name}+{key.key_hash.hex()}")
    public_key = Ed25519PublicKey.from_public_bytes(key.public_key)
    message = body.encode("utf-8")
    for sig in mine:
        try:
            public_key.verify(sig.signature, message)
        except InvalidSignature:
            raise CheckpointError(
                f"signature by {key.name} does not verify: the note was altered or forged"
            ) from None
    return body


def verify_checkpoint(note_text: str, vkey: str | VerifierKey) -> Checkpoint:
    """Verify the signature first, then parse: unsigned text is never interpreted."""
    return parse_checkpoint_body(verify_note(note_text, vkey))
