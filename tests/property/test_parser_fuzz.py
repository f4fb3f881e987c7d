"""Fuzzing the parsers of what other parties hand us: trust lists, signed checkpoint notes and the
log's verifier key. Whatever they are given, they answer with their own typed error
(`TrustListError`, `CheckpointError`) or a result; never another exception, and never a result
for anything but the signed content, unchanged.

Inputs: arbitrary text and JSON, deep nesting (100,000 levels), lone surrogates, huge and
negative numbers, public keys of every type and curve (Ed25519, X25519, P-384, secp256k1, DSA,
RSA-1024, and well-formed SPKI with algorithm or curve identifiers no library knows), and
structural and character-level mutations of a genuine signed list and a genuine checkpoint.

The number of examples per property comes from HEALTHCODE_FUZZ_EXAMPLES (default 1,000 in the
suite); docs/SECURITY.md gives the figures of the long runs (at least 100,000 inputs each).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa, x25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthcode.adapters.crypto.note import make_vkey, sign_checkpoint
from healthcode.adapters.crypto.signer import raw_es256
from healthcode.verifier.checkpoint import (
    Checkpoint,
    CheckpointError,
    parse_checkpoint_body,
    parse_note,
    parse_vkey,
    verify_checkpoint,
)
from healthcode.verifier.trustlist import (
    FORMAT,
    TrustListError,
    canonical_json,
    fingerprint,
    parse_trust_list,
    spki_der,
)

EXAMPLES = int(os.environ.get("HEALTHCODE_FUZZ_EXAMPLES", "1000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ANCHOR = ec.generate_private_key(ec.SECP256R1())
OTHER_ANCHOR = ec.generate_private_key(ec.SECP256R1())
PIN = fingerprint(ANCHOR.public_key())
CODE_KEY = ec.generate_private_key(ec.SECP256R1())


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    size = (
        bytes([n])
        if n < 0x80
        else bytes([0x80 | ((n.bit_length() + 7) // 8)])
        + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + size + body


def _oid(*arcs: int) -> bytes:
    out = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return _tlv(0x06, bytes(out))


def _spki(algorithm: bytes, params: bytes, key: bytes) -> bytes:
    return _tlv(0x30, _tlv(0x30, algorithm + params) + _tlv(0x03, b"\x00" + key))


EC_OID = _oid(1, 2, 840, 10045, 2, 1)
POINT = spki_der(ec.generate_private_key(ec.SECP256R1()).public_key())[-65:]
# Public keys a list might carry: the ones we accept, and every kind we must refuse cleanly.
SPKIS: tuple[bytes, ...] = (
    spki_der(CODE_KEY.public_key()),
    spki_der(ec.generate_private_key(ec.SECP384R1()).public_key()),
    spki_der(ec.generate_private_key(ec.SECP256K1()).public_key()),
    spki_der(ed25519.Ed25519PrivateKey.generate().public_key()),
    spki_der(x25519.X25519PrivateKey.generate().public_key()),
    # Keys too weak to accept, made only to be refused:
    spki_der(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()),  # noqa: S505
    spki_der(dsa.generate_private_key(key_size=1024).public_key()),  # noqa: S505
    _spki(EC_OID, _oid(1, 2, 3, 4), POINT),  # a named curve nobody knows
    _spki(_oid(1, 2, 643, 7, 1, 1, 1, 1), b"", POINT),  # GOST R 34.10-2012: unsupported type
    _spki(_oid(1, 3, 9999, 1), _tlv(0x05, b""), b"\x01\x02"),  # an unknown algorithm
    _spki(EC_OID, _oid(1, 2, 840, 10045, 3, 1, 7), b"\x04" + b"\x00" * 64),  # not on the curve
    b"",
    b"\x30\x80" + b"\x00" * 10,
)


def _key_entry(spki: bytes, use: str = "health") -> dict[str, Any]:
    return {
        "kid": _b64(hashlib.sha256(spki).digest()[:8]),
        "use": use,
        "alg": "ES256",
        "public_key": _b64(spki),
        "not_before": 1_790_000_000,
        "not_after": 1_800_000_000,
        "withdrawn_at": None,
    }


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "format": FORMAT,
        "city": "CN-FUZZ",
        "city_name": {"zh": "测试市", "en": "Fuzz City"},
        "version": 3,
        "issued_at": 1_795_000_000,
        "anchor": {"alg": "ES256", "public_key": _b64(spki_der(ANCHOR.public_key()))},
        "keys": [_key_entry(SPKIS[0])],
    }
    body.update(changes)
    return body


def _signed(body: Any, anchor: ec.EllipticCurvePrivateKey = ANCHOR) -> str:
    try:
        message = canonical_json(body)
    except (UnicodeEncodeError, RecursionError, ValueError):
        message = b"unsignable"
    signature = _b64(raw_es256(anchor, message))
    return json.dumps({"trust_list": body, "signature": signature}, ensure_ascii=False)


GENUINE_BODY = _body()
GENUINE = _signed(GENUINE_BODY)
assert parse_trust_list(GENUINE, PIN).city == "CN-FUZZ"


def _parse_list(document: Any, pin: str | None = PIN, *, genuine_only: bool = True) -> Any:
    """The oracle: only TrustListError escapes. Text that was not signed as it is (everything
    but `_signed` output) yields a result only for the genuine body; a list signed as it is may
    be accepted, but then everything read from it is within the format's bounds."""
    try:
        parsed = parse_trust_list(document, pin)
    except TrustListError:
        return None
    body = json.loads(parsed.document)["trust_list"]
    if genuine_only:
        assert body == GENUINE_BODY, "accepted a changed list"
    assert 0 <= parsed.version < 2**53
    assert 0 <= parsed.issued_at < 2**53
    assert all(0 <= k.not_before < k.not_after < 2**53 for k in parsed.keys)
    assert all(isinstance(v, str) for v in parsed.city_name.values())
    canonical_json(body)  # it has one UTF-8 spelling
    return parsed


# -- what goes into a mutated list ------------------------------------------------------------

_text = st.text(max_size=60) | st.sampled_from(["\ud800", "a\udfffb", "\x00", "𝒞𝒩", "CN-GZ"])
_ints = st.integers(-(2**70), 2**70) | st.sampled_from([0, 2**53 - 1, 2**53, 2**63, -1])
_scalars = st.none() | st.booleans() | _ints | st.floats() | _text
_json: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)
_spkis = st.sampled_from(SPKIS).map(_b64) | _text


def _deep(levels: int, opener: str = "[") -> str:
    closer = {"[": "]", "{": "}"}[opener]
    if opener == "{":
        return '{"a":' * levels + "1" + closer * levels
    return opener * levels + closer * levels


@FUZZ
@given(st.text(max_size=400) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_text_is_a_typed_refusal(text: str) -> None:
    _parse_list(text)


@FUZZ
@given(_json)
def test_any_json_value_is_a_typed_refusal(value: Any) -> None:
    _parse_list(json.dumps(value, ensure_ascii=False))
    _parse_list(json.dumps({"trust_list": value, "signature": _b64(bytes(64))}))


def test_deep_nesting_and_huge_documents_are_typed_refusals() -> None:
    for opener in ("[", "{"):
        assert _parse_list(_deep(100_000, opener)) is None
        deep_body = _signed(_body(city_name={"zh": json.loads(_deep(500, opener))}))
        assert _parse_list(deep_body) is None
    assert _parse_list(" " * (1 << 21)) is None
    assert _parse_list(GENUINE, "not a fingerprint") is None


@FUZZ
@given(st.data())
def test_signed_lists_with_hostile_fields_are_typed_refusals(data: st.DataObject) -> None:
    """Correctly signed by the pinned anchor, so the parser reads every field after the
    signature: each must be checked, not trusted."""
    field = data.draw(
        st.sampled_from(
            ["city", "city_name", "version", "issued_at", "keys", "key_field", "anchor", "format"]
        )
    )
    if field == "keys":
        value: Any = data.draw(st.lists(_json, max_size=3) | _json)
    elif field == "key_field":
        entry = _key_entry(data.draw(st.sampled_from(SPKIS)), data.draw(st.sampled_from(
            ["health", "place", "other"])))  # fmt: skip
        name = data.draw(st.sampled_from(sorted(entry)))
        entry[name] = data.draw(_json | _spkis)
        value = [entry]
        field = "keys"
    elif field == "anchor":
        value = {"alg": data.draw(st.sampled_from(["ES256", "PS256", None])),
                 "public_key": data.draw(_spkis)}  # fmt: skip
    else:
        value = data.draw(_json)
    document = _signed(_body(**{field: value}))
    _parse_list(document, data.draw(st.sampled_from([PIN, None])), genuine_only=False)


@FUZZ
@given(st.sampled_from(SPKIS), st.sampled_from(["ES256", "PS256", "EdDSA"]))
def test_every_key_type_and_curve_is_a_typed_refusal_or_a_key(spki: bytes, alg: str) -> None:
    entry = _key_entry(spki) | {"alg": alg}
    for pin in (PIN, None):
        try:
            parsed = parse_trust_list(_signed(_body(keys=[entry])), pin)
        except TrustListError:
            continue
        assert spki == SPKIS[0]
        assert alg == "ES256"
        assert len(parsed.keys) == 1
    # As an anchor: the pin is compared with the raw bytes first, so a foreign anchor is
    # refused as unpinned before anything tries to parse it.
    anchored = _body(anchor={"alg": "ES256", "public_key": _b64(spki)})
    with pytest.raises(TrustListError, match="pinned"):
        parse_trust_list(_signed(anchored), PIN)
    with contextlib.suppress(TrustListError):
        parse_trust_list(_signed(anchored), None)


@FUZZ
@given(st.data())
def test_character_mutations_of_a_genuine_list(data: st.DataObject) -> None:
    chars = list(GENUINE)
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(chars)))
        op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        new = data.draw(st.characters() | st.sampled_from(list('{}[]",:0\\u\ud800')))
        if op == "insert" or not chars:
            chars.insert(where, new)
        elif op == "delete":
            chars.pop(min(where, len(chars) - 1))
        else:
            chars[min(where, len(chars) - 1)] = new
    _parse_list("".join(chars))


def test_a_list_signed_by_another_anchor_is_refused_for_the_pin() -> None:
    forged = _signed(
        _body(anchor={"alg": "ES256", "public_key": _b64(spki_der(OTHER_ANCHOR.public_key()))}),
        OTHER_ANCHOR,
    )
    assert _parse_list(forged) is None
    assert parse_trust_list(forged, None).anchor_fingerprint != PIN  # self-signed, unpinned


# -- checkpoints, signed notes and verifier keys -------------------------------------------------

LOG_KEY = ed25519.Ed25519PrivateKey.generate()
VKEY = make_vkey("healthcode-fuzz-log", LOG_KEY.public_key())
CHECKPOINT = Checkpoint("healthcode/CN-FUZZ/log", 1234, bytes(range(32)), 1_795_000_000)
NOTE = sign_checkpoint(CHECKPOINT, "healthcode-fuzz-log", LOG_KEY)
assert verify_checkpoint(NOTE, VKEY) == CHECKPOINT


def _verify_note(note: Any, vkey: Any = VKEY) -> None:
    """The oracle: only CheckpointError escapes, and only the genuine checkpoint verifies."""
    for parse in (parse_note, parse_checkpoint_body, parse_vkey):
        with contextlib.suppress(CheckpointError):
            parse(note)
    try:
        found = verify_checkpoint(note, vkey)
    except CheckpointError:
        return
    assert found == CHECKPOINT, "a changed checkpoint verified"


_lines = st.sampled_from(
    [
        "healthcode/CN-FUZZ/log",
        "9" * 5000,
        "0" + "1" * 30,
        "18446744073709551616",
        "timestamp " + "9" * 5000,
        "timestamp -1",
        "\ud800",
        "— healthcode-fuzz-log " + "A" * 100,
        "— healthcode-fuzz-log \udfff",
        "",
        "\t",
    ]
) | st.text(max_size=40)


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_text_as_a_note_or_a_vkey_is_a_typed_refusal(text: str) -> None:
    _verify_note(text)
    with contextlib.suppress(CheckpointError):
        _verify_note(NOTE, text)


@FUZZ
@given(st.data())
def test_line_and_character_mutations_of_a_genuine_checkpoint(data: st.DataObject) -> None:
    lines = NOTE.split("\n")
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["line", "insert_line", "drop_line", "char"]))
        where = data.draw(st.integers(0, len(lines) - 1))
        if op == "line":
            lines[where] = data.draw(_lines)
        elif op == "insert_line":
            lines.insert(where, data.draw(_lines))
        elif op == "drop_line" and len(lines) > 1:
            lines.pop(where)
        else:
            chars = list(lines[where])
            at = data.draw(st.integers(0, len(chars)))
            chars.insert(at, data.draw(st.characters()))
            lines[where] = "".join(chars)
    _verify_note("\n".join(lines))


def test_huge_notes_and_numbers_are_typed_refusals() -> None:
    body = "healthcode/CN-FUZZ/log\n" + "9" * 5000 + "\nAAAA\ntimestamp 1\n"
    for text in (body, NOTE + "— x " + "A" * (1 << 21) + "\n", NOTE * 200):
        _verify_note(text)
    with pytest.raises(CheckpointError, match="tree size"):
        parse_checkpoint_body(body)
