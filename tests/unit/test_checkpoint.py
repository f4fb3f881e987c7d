"""Signed checkpoints: C2SP signed-note interop, round trips, and every way to be refused."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from healthcode.adapters.crypto.note import make_vkey, sign_checkpoint, sign_note
from healthcode.verifier.checkpoint import (
    Checkpoint,
    CheckpointError,
    format_checkpoint_body,
    parse_checkpoint_body,
    parse_note,
    parse_vkey,
    verify_checkpoint,
    verify_note,
)

# golang.org/x/mod/sumdb/note's published example: same key, same text, same signature bytes
# (Ed25519 is deterministic), so Go tools and witnesses read our notes and we read theirs.
GO_SKEY_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)

NAME = "log.healthcode.example"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
VKEY = make_vkey(NAME, KEY.public_key())
CP = Checkpoint(origin="healthcode.example/log", size=42, root=bytes(range(32)), timestamp=1700)


def test_go_signed_note_interop() -> None:
    go_key = Ed25519PrivateKey.from_private_bytes(GO_SKEY_SEED)
    assert make_vkey("PeterNeumann", go_key.public_key()) == GO_VKEY
    assert sign_note(GO_TEXT, "PeterNeumann", go_key) == GO_NOTE
    assert verify_note(GO_NOTE, GO_VKEY) == GO_TEXT
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(GO_NOTE.replace("cryptography", "cryptographY"), GO_VKEY)


def test_round_trip() -> None:
    note = sign_checkpoint(CP, NAME, KEY)
    body = format_checkpoint_body(CP)
    assert body == (
        "healthcode.example/log\n42\n"
        + base64.b64encode(bytes(range(32))).decode()
        + "\ntimestamp 1700\n"
    )
    assert note.startswith(body + "\n\u2014 " + NAME + " ")
    assert verify_checkpoint(note, VKEY) == CP
    assert verify_checkpoint(note, parse_vkey(VKEY)) == CP
    assert parse_checkpoint_body(body) == CP
    assert str(parse_vkey(VKEY)) == VKEY


def test_cosignatures_by_other_keys_are_ignored() -> None:
    note = sign_checkpoint(CP, NAME, KEY)
    witness = sign_note(format_checkpoint_body(CP), "witness", Ed25519PrivateKey.generate())
    both = note + witness.split("\n\n", 1)[1]
    assert len(parse_note(both)[1]) == 2
    assert verify_checkpoint(both, VKEY) == CP


def test_wrong_key() -> None:
    note = sign_checkpoint(CP, NAME, KEY)
    other = make_vkey(NAME, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(CheckpointError, match="not signed by"):
        verify_checkpoint(note, other)
    with pytest.raises(CheckpointError, match="not signed by"):
        verify_checkpoint(note, make_vkey("someone.else", KEY.public_key()))


def test_same_key_hash_bad_signature() -> None:
    note = sign_checkpoint(CP, NAME, KEY)
    impostor = sign_checkpoint(CP, NAME, Ed25519PrivateKey.generate())
    # Forge: the impostor's signature bytes behind our key hash.
    ours = base64.b64decode(note.rsplit(" ", 1)[1])
    theirs = base64.b64decode(impostor.rsplit(" ", 1)[1])
    forged = note.rsplit(" ", 1)[0] + " " + base64.b64encode(ours[:4] + theirs[4:]).decode() + "\n"
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_checkpoint(forged, VKEY)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n42\n", "\n43\n"),
        ("\n42\n", "\n042\n"),
        ("timestamp 1700", "timestamp 1701"),
        ("healthcode.example/log", "evil.example/log"),
        ("AAECAwQF", "AAECAwQG"),
    ],
)
def test_tampered_body(old: str, new: str) -> None:
    note = sign_checkpoint(CP, NAME, KEY)
    assert old in note
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_checkpoint(note.replace(old, new, 1), VKEY)


@pytest.mark.parametrize(
    "note",
    [
        "",
        "no signatures at all\n",
        "body\n\n",
        "body\n\n\u2014 name c2ln\n\n",
        "body\n\n\u2014 name AAAAAAAA",  # no final newline
        "body\n\n-- name AAAAAAAAAA==\n",  # ASCII dashes, not an em dash
        "body\n\n\u2014 name\n",
        "body\n\n\u2014 na+me AAAAAAAA\n",
        "body\n\n\u2014 name not*base64\n",
        "body\n\n\u2014 name AAAA\n",  # shorter than a key hash plus a byte
        "body\r\n\n\u2014 name AAAAAAAA\n",
        "body\n\n" + "\u2014 name AAAAAAAA\n" * 101,
    ],
)
def test_malformed_notes(note: str) -> None:
    with pytest.raises(CheckpointError):
        verify_checkpoint(note, VKEY)


@pytest.mark.parametrize(
    "body",
    [
        "origin\n42\nAAEC\ntimestamp 1\n",  # root not 32 bytes
        "origin\n42\n" + base64.b64encode(bytes(32)).decode() + "\n",  # no timestamp
        "origin\n-1\n" + base64.b64encode(bytes(32)).decode() + "\ntimestamp 1\n",
        "origin\n+1\n" + base64.b64encode(bytes(32)).decode() + "\ntimestamp 1\n",
        "origin\n\u0664\n" + base64.b64encode(bytes(32)).decode() + "\ntimestamp 1\n",
        "origin\n1\n" + base64.b64encode(bytes(32)).decode() + "\ntime 1\n",
        "origin\n1\n" + base64.b64encode(bytes(32)).decode() + "\ntimestamp 1\nextra\n",
        " origin\n1\n" + base64.b64encode(bytes(32)).decode() + "\ntimestamp 1\n",
        "origin\n1\n" + base64.b64encode(bytes(32)).decode() + "\ntimestamp 1",
    ],
)
def test_signed_but_malformed_checkpoint_bodies(body: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint_body(body)
    if body.endswith("\n"):
        with pytest.raises(CheckpointError):
            verify_checkpoint(sign_note(body, NAME, KEY), VKEY)


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "name",
        "name+c74f20a3",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # hex case
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong hash
        "Peter+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # other name
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # bad base64
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong type byte
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",  # short key
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_vkey_parse_errors(vkey: str) -> None:
    with pytest.raises(CheckpointError):
        parse_vkey(vkey)


def test_parse_vkey_ok() -> None:
    key = parse_vkey(GO_VKEY)
    assert key.name == "PeterNeumann"
    assert key.key_hash.hex() == "c74f20a3"
    assert len(key.public_key) == 32


@pytest.mark.parametrize(
    "kwargs",
    [
        {"origin": ""},
        {"origin": "two\nlines"},
        {"size": -1},
        {"size": True},
        {"root": bytes(31)},
        {"timestamp": -5},
    ],
)
def test_invalid_checkpoints_cannot_be_built(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"origin": "o", "size": 1, "root": bytes(32), "timestamp": 0}
    fields.update(kwargs)
    with pytest.raises(CheckpointError):
        Checkpoint(**fields)  # type: ignore[arg-type]


def test_signing_refuses_unverifiable_text() -> None:
    with pytest.raises(CheckpointError):
        sign_note("no final newline", NAME, KEY)
    with pytest.raises(CheckpointError):
        sign_note("a\n\nblank line\n", NAME, KEY)
    with pytest.raises(CheckpointError):
        sign_note("ok\n", "bad name", KEY)
