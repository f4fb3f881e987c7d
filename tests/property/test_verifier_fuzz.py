"""Fuzzing the offline verifier: whatever it is given, it answers, and it admits only genuine codes.

Inputs range from arbitrary objects and text to mutations of three valid codes (two ES256, one
PS256) at every layer: the text, the zlib stream under the base45, the CBOR bytes of the COSE
message and its decoded structure (re-framed with valid base45 and zlib, so mutations reach the
CBOR and COSE layers), swaps of parts between codes, and claims re-signed with the real key.

The oracle for "may this be admitted?" is semantic, layer by layer: admitting is allowed only
when the mutation left the *signed content* (protected header, payload and signature) exactly as
it was — e.g. a changed padding bit in the last deflate byte, surrounding whitespace (stripped),
a dropped CBOR tag or a changed unprotected header (not signed, by COSE's design). Every other
mutation must be refused, and `verify_health_code` must never raise.

Everything is built once at import, without a database: a few milliseconds of setup.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import zlib
from typing import Any

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from healthcode.adapters.crypto.signer import CoseSigner, raw_es256
from healthcode.verifier import verify as verify_module
from healthcode.verifier.claims import Colour, HealthClaims
from healthcode.verifier.envelope import HEALTH_CODE_PREFIX, wrap
from healthcode.verifier.trustlist import (
    FORMAT,
    TrustStore,
    canonical_json,
    fingerprint,
    parse_trust_list,
    spki_der,
)
from healthcode.verifier.verify import Decision, Reason, Verdict, VerifyPolicy, verify_health_code

CITY = "CN-FUZZ"
NOW = 1_795_000_060
ISSUED = NOW - 60
SKEW = 300
MAX_LIFETIME = 24 * 3600
KEY_NOT_BEFORE = NOW - 86400
KEY_NOT_AFTER = NOW + 30 * 86400
POLICY = VerifyPolicy()
BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
COSE_TAG = 18

ANCHOR = ec.generate_private_key(ec.SECP256R1())
ES_KEY = ec.generate_private_key(ec.SECP256R1())
PS_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ES = CoseSigner.for_key(ES_KEY)
PS = CoseSigner.for_key(PS_KEY)


def _trust_list() -> TrustStore:
    keys = [
        {
            "kid": base64.b64encode(signer.kid).decode(),
            "use": "health",
            "alg": signer.alg_name,
            "public_key": base64.b64encode(spki_der(signer.key.public_key())).decode(),
            "not_before": KEY_NOT_BEFORE,
            "not_after": KEY_NOT_AFTER,
            "withdrawn_at": None,
        }
        for signer in (ES, PS)
    ]
    body = {
        "format": FORMAT,
        "city": CITY,
        "city_name": {"en": "Fuzz City"},
        "version": 1,
        "issued_at": ISSUED,
        "anchor": {
            "alg": "ES256",
            "public_key": base64.b64encode(spki_der(ANCHOR.public_key())).decode(),
        },
        "keys": keys,
    }
    signature = base64.b64encode(raw_es256(ANCHOR, canonical_json(body))).decode()
    document = json.dumps({"trust_list": body, "signature": signature})
    return TrustStore.of([parse_trust_list(document, fingerprint(ANCHOR.public_key()))])


STORE = _trust_list()


def _claims(ref: bytes, name: str | None) -> HealthClaims:
    return HealthClaims(CITY, ISSUED, ISSUED + 300, Colour.GREEN, ISSUED + 300, "r@1#g", ref, name)


COSE_A = ES.sign(_claims(b"\x0a" * 28, "张*").encode())
COSE_B = ES.sign(_claims(b"\x0b" * 28, "李*").encode())
COSE_P = PS.sign(_claims(b"\x0c" * 28, None).encode())
COSES = (COSE_A, COSE_B, COSE_P)
CODES = tuple(wrap(HEALTH_CODE_PREFIX, c) for c in COSES)


def _signed_triple(cose: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(protected, payload, signature) of `cose` if it is exactly one COSE_Sign1, else None."""
    stream = io.BytesIO(cose)
    try:
        obj = cbor2.CBORDecoder(stream).decode()
    except Exception:
        return None
    if stream.tell() != len(cose):  # a trailer is not part of the message
        return None
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != COSE_TAG:
            return None
        obj = obj.value
    if not isinstance(obj, list) or len(obj) != 4 or not isinstance(obj[1], dict):
        return None
    protected, _, payload, signature = obj
    if not all(isinstance(x, bytes) for x in (protected, payload, signature)):
        return None
    return protected, payload, signature


TRIPLES = {_signed_triple(c) for c in COSES}


def check(value: object, *, may_admit: bool) -> Verdict:
    """Verify; never raises; admit only when allowed; decision and reason agree."""
    verdict = verify_health_code(value, STORE, NOW, POLICY)
    assert isinstance(verdict, Verdict)
    assert (verdict.decision is Decision.ADMIT) == (verdict.reason is Reason.OK)
    if verdict.decision is Decision.REFUSE:
        assert verdict.reason.value.startswith("status_")
    if not may_admit:
        assert verdict.decision is not Decision.ADMIT, value
    # The catch-all in verify_health_code is a backstop, not the path: no input reaches it.
    inner = verify_module._verify_health_code(value, STORE, NOW, POLICY)
    assert (inner.decision, inner.reason) == (verdict.decision, verdict.reason)
    if currently_in_test_context():
        event(verdict.reason.value)  # see the spread with --hypothesis-show-statistics
    return verdict


def test_the_unmodified_codes_are_admitted() -> None:
    for code in CODES:
        assert check(code, may_admit=True).decision is Decision.ADMIT
        assert check(f"  {code}\n", may_admit=True).decision is Decision.ADMIT


# --- arbitrary input -------------------------------------------------------------------------


@settings(max_examples=1500, deadline=None)
@given(st.text(max_size=1500))
def test_arbitrary_text(text: str) -> None:
    check(text, may_admit=False)


@settings(max_examples=1500, deadline=None)
@given(
    st.sampled_from([HEALTH_CODE_PREFIX, "HC1:", "PLACE1:", ""]),
    st.text(alphabet=BASE45, max_size=1100),
)
def test_prefixed_base45_text(prefix: str, body: str) -> None:
    verdict = check(prefix + body, may_admit=False)
    if not (prefix + body).startswith(HEALTH_CODE_PREFIX):
        assert verdict.reason is Reason.WRONG_PREFIX


@settings(max_examples=1000, deadline=None)
@given(st.one_of(st.binary(max_size=1500), st.binary(max_size=1500).map(lambda b: b"HCODE1:" + b)))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data, may_admit=False)


_objects = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.binary(max_size=20)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
).filter(lambda x: not isinstance(x, str | bytes))


@settings(max_examples=500, deadline=None)
@given(_objects)
def test_arbitrary_objects(value: object) -> None:
    assert check(value, may_admit=False).reason is Reason.NOT_TEXT


def test_non_text_wrappers_of_a_valid_code() -> None:
    code = CODES[0]
    for value in ([code], {code: code}, (code,), bytearray(code.encode()), memoryview(b"x")):
        assert check(value, may_admit=False).reason is Reason.NOT_TEXT


# --- mutations of the text -------------------------------------------------------------------

_chars = st.sampled_from(BASE45 + "abcz~é張\x00\n\t") | st.characters()
_prefixes = st.sampled_from(
    ["HC1:", "HCODE2:", "hcode1:", "PLACE1:", "HCODE1", "HCODE1::", "HCODE:", "", "HCODE1:H"]
) | st.text(max_size=8)


def _mutate_text(data: st.DataObject, text: str) -> str:
    for _ in range(data.draw(st.integers(1, 3), label="rounds")):
        n = len(text)
        op = data.draw(
            st.sampled_from(
                ["replace", "insert", "delete", "truncate", "swap", "prefix", "dup", "case"]
            ),
            label="op",
        )
        i = data.draw(st.integers(0, max(n - 1, 0)), label="at")
        if op == "replace" and n:
            text = text[:i] + data.draw(_chars) + text[i + 1 :]
        elif op == "insert":
            text = text[:i] + data.draw(st.text(_chars, min_size=1, max_size=4)) + text[i:]
        elif op == "delete" and n:
            j = data.draw(st.integers(i + 1, min(n, i + 6)), label="to")
            text = text[:i] + text[j:]
        elif op == "truncate":
            text = text[:i]
        elif op == "swap" and n > 1:
            i = min(i, n - 2)
            text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        elif op == "prefix":
            cut = data.draw(st.integers(0, min(n, 8)), label="cut")
            text = data.draw(_prefixes) + text[cut:]
        elif op == "dup" and n:
            j = data.draw(st.integers(i, min(n, i + 30)), label="to")
            text = text[:j] + text[i:j] + text[j:]
        elif op == "case":
            text = text.lower() if data.draw(st.booleans()) else text.swapcase()
    return text


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_text_mutations(data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(CODES), label="code")
    mutated = _mutate_text(data, original)
    check(mutated, may_admit=mutated.strip() == original)


# --- mutations under the base45: the zlib stream -----------------------------------------------


def _mutate_bytes(data: st.DataObject, raw: bytes) -> bytes:
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3), label="rounds")):
        n = len(buf)
        op = data.draw(
            st.sampled_from(["flip", "set", "insert", "delete", "truncate", "append", "swap"]),
            label="op",
        )
        i = data.draw(st.integers(0, max(n - 1, 0)), label="at")
        if op == "flip" and n:
            buf[i] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        elif op == "set" and n:
            buf[i] = data.draw(st.integers(0, 255), label="byte")
        elif op == "insert":
            buf[i:i] = data.draw(st.binary(min_size=1, max_size=8), label="bytes")
        elif op == "delete" and n:
            j = data.draw(st.integers(i + 1, min(n, i + 8)), label="to")
            del buf[i:j]
        elif op == "truncate":
            del buf[i:]
        elif op == "append":
            buf += data.draw(st.binary(min_size=1, max_size=8), label="tail")
        elif op == "swap" and n > 1:
            i = min(i, n - 2)
            buf[i], buf[i + 1] = buf[i + 1], buf[i]
    return bytes(buf)


def _inflates_to(compressed: bytes, expected: bytes) -> bool:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(compressed)
    except zlib.error:
        return False
    return inflater.eof and not inflater.unused_data and out == expected


@settings(max_examples=1000, deadline=None)
@given(st.data())
def test_zlib_stream_mutations(data: st.DataObject) -> None:
    cose = data.draw(st.sampled_from(COSES), label="code")
    mutated = _mutate_bytes(data, zlib.compress(cose, 9))
    text = HEALTH_CODE_PREFIX + base45.b45encode(mutated).decode()
    check(text, may_admit=_inflates_to(mutated, cose))


# --- mutations of the CBOR bytes and the COSE structure, re-framed validly -------------------


@settings(max_examples=1500, deadline=None)
@given(st.data())
def test_cose_byte_mutations(data: st.DataObject) -> None:
    cose = data.draw(st.sampled_from(COSES), label="code")
    mutated = _mutate_bytes(data, cose)
    check(wrap(HEALTH_CODE_PREFIX, mutated), may_admit=_signed_triple(mutated) in TRIPLES)


_junk = st.one_of(
    st.none(),
    st.integers(-(2**70), 2**70),
    st.text(max_size=8),
    st.binary(max_size=70),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.integers(-5, 5), st.integers(), max_size=3),
    st.booleans(),
)
_algs = st.sampled_from([-7, -37, -8, -35, -36, -257, 0, 1, 5, None]) | st.integers() | _junk


def _kids(original: bytes) -> st.SearchStrategy[Any]:
    others = [ES.kid, PS.kid]
    return st.sampled_from([original, *others, b"", original[:7], original + b"\x00"]) | _junk


@settings(max_examples=1000, deadline=None)
@given(st.data())
def test_cose_structure_mutations(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, 2), label="code")
    protected, unprotected, payload, signature = cbor2.loads(COSES[index]).value
    header = cbor2.loads(protected)
    items: list[Any] = [protected, unprotected, payload, signature]
    tag: int | None = COSE_TAG

    def put(position: int, value: Any) -> None:  # the array may have shrunk meanwhile
        if position < len(items):
            items[position] = value
        else:
            items.append(value)

    for _ in range(data.draw(st.integers(1, 3), label="rounds")):
        op = data.draw(
            st.sampled_from(
                [
                    "header",
                    "header_bytes",
                    "unprotected",
                    "payload",
                    "signature",
                    "swap_part",
                    "element_type",
                    "length",
                    "tag",
                ]
            ),
            label="op",
        )
        if op == "header":
            new = dict(header)
            if data.draw(st.booleans(), label="alg?"):
                alg = data.draw(_algs, label="alg")
                if alg is None:
                    new.pop(1, None)
                else:
                    new[1] = alg
            if data.draw(st.booleans(), label="kid?"):
                new[4] = data.draw(_kids(header[4]), label="kid")
            if data.draw(st.booleans(), label="extra?"):
                new[data.draw(st.integers(-10, 10), label="label")] = data.draw(_junk)
            put(0, cbor2.dumps(new))
        elif op == "header_bytes":
            put(0, _mutate_bytes(data, protected))
        elif op == "unprotected":
            put(
                1,
                data.draw(
                    st.dictionaries(st.integers(-5, 5), _junk | _algs, max_size=3)
                    | st.just({4: header[4]})
                    | st.just({1: -7})
                    | _junk,
                    label="unprotected",
                ),
            )
        elif op == "payload":
            put(2, _mutate_bytes(data, payload))
        elif op == "signature":
            choice = data.draw(st.sampled_from(["short", "long", "empty", "random", "mutate"]))
            new_signature = {
                "short": signature[:-1],
                "long": signature + b"\x00",
                "empty": b"",
            }.get(choice)
            if choice == "random":
                new_signature = data.draw(
                    st.binary(min_size=len(signature), max_size=len(signature))
                )
            elif choice == "mutate":
                new_signature = _mutate_bytes(data, signature)
            put(3, new_signature)
        elif op == "swap_part":
            other = cbor2.loads(COSES[data.draw(st.integers(0, 2), label="other")]).value
            part = data.draw(st.sampled_from([0, 2, 3]), label="part")
            put(part, other[part])
        elif op == "element_type":
            put(data.draw(st.integers(0, 3), label="pos"), data.draw(_junk))
        elif op == "length":
            if data.draw(st.booleans(), label="grow") or not items:
                items.append(data.draw(_junk))
            else:
                items.pop(data.draw(st.integers(0, len(items) - 1), label="pos"))
        elif op == "tag":
            tag = data.draw(st.sampled_from([None, 16, 17, 19, 61, 96, 98]) | st.integers(0, 2**20))
    encoded = cbor2.dumps(cbor2.CBORTag(tag, items) if tag is not None else items)
    check(wrap(HEALTH_CODE_PREFIX, encoded), may_admit=_signed_triple(encoded) in TRIPLES)


def test_payload_and_signature_swaps() -> None:
    """Protected header of one code, payload of another, signature of a third: all 27 ways."""
    parts = [cbor2.loads(c).value for c in COSES]
    admitted = 0
    for p, q, r in itertools.product(range(3), repeat=3):
        message = [parts[p][0], {}, parts[q][2], parts[r][3]]
        encoded = cbor2.dumps(cbor2.CBORTag(COSE_TAG, message))
        genuine = _signed_triple(encoded) in TRIPLES  # A and B share a key, hence a header
        verdict = check(wrap(HEALTH_CODE_PREFIX, encoded), may_admit=genuine)
        if genuine:
            assert verdict.decision is Decision.ADMIT
            admitted += 1
        else:
            assert verdict.reason is Reason.BAD_SIGNATURE, (p, q, r)
    assert admitted == 5  # (A|B, A, A), (A|B, B, B), (P, P, P)


# --- claims re-signed with the real key: the claim parser and the time rules -----------------

_times = st.sampled_from(
    [
        ISSUED,
        ISSUED + 300,
        NOW,
        NOW + SKEW,
        NOW + SKEW + 1,
        NOW - SKEW,
        NOW - SKEW - 1,
        KEY_NOT_BEFORE - SKEW - 1,
        KEY_NOT_AFTER + SKEW + 1,
        ISSUED + MAX_LIFETIME,
        ISSUED + MAX_LIFETIME + 1,
        0,
        -1,
        2**64,
    ]
) | st.integers(NOW - 2 * MAX_LIFETIME, NOW + 2 * MAX_LIFETIME)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _should_admit(claims: object) -> bool:
    """The admission rule written out from README.md, independently of verifier/claims.py."""
    if not isinstance(claims, dict):
        return False
    status = claims.get(-65537)
    if not isinstance(status, dict):
        return False
    iss, iat, exp = claims.get(1), claims.get(6), claims.get(4)
    colour, until = status.get(1), status.get(2)
    if not (isinstance(iss, str) and _is_int(iat) and _is_int(exp)):
        return False
    if not (_is_int(colour) and _is_int(until) and isinstance(status.get(3), str)):
        return False
    if not isinstance(status.get(4), bytes):
        return False
    if status.get(5) is not None and not isinstance(status.get(5), str):
        return False
    assert isinstance(iat, int)
    assert isinstance(exp, int)
    assert isinstance(until, int)
    return (
        colour == 0
        and exp - iat <= MAX_LIFETIME
        and iat >= KEY_NOT_BEFORE - SKEW
        and exp <= KEY_NOT_AFTER + SKEW
        and iat <= NOW + SKEW
        and exp > NOW  # expiry is expiry: no skew allowance on exp (SIG-9)
        and iss == CITY
        and until > NOW
    )


@settings(max_examples=1000, deadline=None)
@given(st.data())
def test_resigned_claims(data: st.DataObject) -> None:
    """Claims edited then signed with the real key: the verdict follows the rules exactly."""
    claims: Any = cbor2.loads(cbor2.loads(COSE_A).value[2])
    status = claims[-65537]
    for _ in range(data.draw(st.integers(0, 4), label="rounds")):
        where = data.draw(st.sampled_from(["top"] * 4 + ["status"] * 4 + ["whole"]), label="at")
        if where == "whole":
            claims = data.draw(_junk | st.just({}), label="claims")
            break
        target = claims if where == "top" else status
        keys = [1, 4, 6, 4, 6, -65537, 99] if where == "top" else [1, 1, 2, 2, 3, 4, 5, 6]
        key = data.draw(st.sampled_from(keys), label="key")
        if data.draw(st.integers(0, 9), label="delete?") == 0:
            target.pop(key, None)
            continue
        if (key in (4, 6) and target is claims) or (key == 2 and target is status):
            value = data.draw(_times | _junk if data.draw(st.booleans()) else _times)
        elif key == 1 and target is status:
            value = data.draw(st.sampled_from([0, 0, 1, 2, 3, -1, True, False]) | _junk)
        elif key == 1:
            value = data.draw(st.sampled_from([CITY, "CN-OTHER", "", b"CN-FUZZ"]) | _junk)
        else:
            value = data.draw(_junk | st.sampled_from([None, "张*", b"ref"]), label="value")
        if not (target is claims and key == -65537):
            target[key] = value
    trailer = data.draw(st.sampled_from([b""] * 8 + [b"\x00", b"\xf6"]), label="trailer")
    payload = cbor2.dumps(claims) + trailer
    verdict = check(wrap(HEALTH_CODE_PREFIX, ES.sign(payload)), may_admit=True)
    expected = _should_admit(claims) and not trailer
    assert (verdict.decision is Decision.ADMIT) == expected, (claims, trailer)


# --- trailers: exactly one CBOR item at each layer ---------------------------------------------


@pytest.mark.parametrize("extra", [b"\x00", b"\xf6", cbor2.dumps("unsigned trailer"), b"\xff" * 99])
def test_bytes_after_the_cose_message_are_refused(extra: bytes) -> None:
    """cbor2.loads stops after the first item; the verifier must not (it used to admit these)."""
    for cose in COSES:
        text = wrap(HEALTH_CODE_PREFIX, cose + extra)
        assert check(text, may_admit=False).reason is Reason.MALFORMED, extra


def test_bytes_after_the_signed_claims_are_refused() -> None:
    payload = cbor2.loads(COSE_A).value[2] + b"\x00"
    verdict = check(wrap(HEALTH_CODE_PREFIX, ES.sign(payload)), may_admit=False)
    assert verdict.reason is Reason.BAD_CLAIMS
