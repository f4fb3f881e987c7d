"""Signing checkpoints as C2SP signed notes with the log's Ed25519 key.

Signing lives in adapters (it needs the private key); the format and the verification live
in the standalone verifier, which this module reuses so signer and verifier cannot drift.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from healthcode.verifier.checkpoint import (
    SIGNATURE_PREFIX,
    Checkpoint,
    CheckpointError,
    format_checkpoint_body,
    format_vkey,
    has_control_chars,
    is_valid_key_name,
    key_hash,
)


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def make_vkey(name: str, public_key: Ed25519PublicKey) -> str:
    """The vkey to publish: `<name>+<hex key hash>+<base64(0x01 || public key)>`."""
    return format_vkey(name, _raw(public_key))


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """Sign `text` as a signed note: text, blank line, `— <name> <base64(key hash || sig)>`.

    The text must satisfy what every verifier (ours and golang.org/x/mod/sumdb/note) checks,
    so a note we sign is never one they refuse.
    """
    if not is_valid_key_name(name):
        raise CheckpointError(f"invalid key name {name!r}")
    if not text.endswith("\n") or "\n\n" in text or has_control_chars(text.replace("\n", "")):
        raise CheckpointError("note text must end in a newline, have no blank lines or controls")
    signature = private_key.sign(text.encode("utf-8"))
    blob = key_hash(name, _raw(private_key.public_key())) + signature
    return f"{text}\n{SIGNATURE_PREFIX}{name} {base64.b64encode(blob).decode('ascii')}\n"


def sign_checkpoint(cp: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    """The full signed checkpoint note, ready to publish."""
    return sign_note(format_checkpoint_body(cp), name, private_key)
