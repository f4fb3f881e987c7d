"""Generate the health-code test vectors: trust_list.json, anchor_fingerprint.txt, vectors.json.

Run from the project root:  .venv/bin/python tests/vectors/generate.py [--out DIR]

A throwaway city, "ZZ-VECTORS", is built from the crypto pieces alone (no database): its anchor,
its ES256, Ed25519 and place keys are derived from a fixed seed, so kids and the anchor
fingerprint stay the same from one run to the next; the PS256 key is fresh each run, and ECDSA
and PSS signatures are randomised, so signatures (and the PS256 key) change on every run while
every case keeps its meaning and expected outcome. THESE KEYS ARE PUBLIC TEST KEYS: the seed is in
this file, anyone can sign with them. Never put the anchor or the list in a production verifier.

Every expectation below is written by hand from the specification in README.md. Before anything
is written the script checks each case against our verifier and exits non-zero on a mismatch, so
the committed files never disagree with the verifier that produced them silently.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import base45
import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from healthcode.adapters.crypto.signer import (
    CoseSigner,
    PrivateKey,
    generate_private_key,
    raw_es256,
)
from healthcode.verifier.base45 import b45encode
from healthcode.verifier.claims import Colour, HealthClaims, PlaceClaims
from healthcode.verifier.cose import (
    COSE_SIGN1_TAG,
    ES256,
    HEADER_ALG,
    HEADER_KID,
    PS256,
    protected_header,
    pss_padding,
    sig_structure,
)
from healthcode.verifier.envelope import (
    HEALTH_CODE_PREFIX,
    MAX_COSE_BYTES,
    MAX_TEXT_CHARS,
    PLACE_CODE_PREFIX,
    wrap,
)
from healthcode.verifier.trustlist import (
    FORMAT,
    TrustStore,
    canonical_json,
    fingerprint,
    key_id,
    parse_trust_list,
    spki_der,
)
from healthcode.verifier.verify import (
    Decision,
    Reason,
    VerifyPolicy,
    verify_health_code,
    verify_place_code,
)

HERE = Path(__file__).resolve().parent
SEED = b"healthcode/test-vectors/v1"
CITY = "ZZ-VECTORS"
DAY = 86400
T0 = 1_795_000_000  # 2026-11-18T08:26:40Z: the instant most codes are issued at
NOW = T0 + 60  # most codes are verified a minute after issue
SKEW = 300  # VerifyPolicy defaults the vectors assume (see README.md)
MAX_LIFETIME = 24 * 3600
LIFETIME = 300
RULE = "baseline@1#none"
LIST_VERSION = 7
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _digest(label: str) -> bytes:
    return hashlib.sha256(SEED + b"/" + label.encode()).digest()


def derived_p256(label: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 key from the public seed: reproducible, hence for test vectors only."""
    scalar = int.from_bytes(_digest(label), "big") % (P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def derived_bytes(label: str, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += _digest(f"{label}#{counter}")
        counter += 1
    return out[:length]


@dataclass(frozen=True)
class ListedKey:
    key: PrivateKey
    use: str
    not_before: int
    not_after: int
    withdrawn_at: int | None = None

    @property
    def kid(self) -> bytes:
        return key_id(self.key.public_key())

    @property
    def alg(self) -> int:
        return ES256 if isinstance(self.key, ec.EllipticCurvePrivateKey) else PS256

    def as_json(self) -> dict[str, object]:
        return {
            "kid": base64.b64encode(self.kid).decode(),
            "use": self.use,
            "alg": "ES256" if self.alg == ES256 else "PS256",
            "public_key": base64.b64encode(spki_der(self.key.public_key())).decode(),
            "not_before": self.not_before,
            "not_after": self.not_after,
            "withdrawn_at": self.withdrawn_at,
        }


@dataclass
class City:
    anchor: ec.EllipticCurvePrivateKey
    health: ListedKey  # the active ES256 code-signing key
    health_retired: ListedKey  # a second ES256 key, retired: still verifies until not_after
    health_ps256: ListedKey
    health_withdrawn: ListedKey
    place: ListedKey
    unlisted: ec.EllipticCurvePrivateKey  # a key on no list
    eddsa: Ed25519PrivateKey  # a key of an algorithm we never accept

    @property
    def listed(self) -> list[ListedKey]:
        return [
            self.health,
            self.health_retired,
            self.health_ps256,
            self.health_withdrawn,
            self.place,
        ]

    def trust_list(self) -> str:
        body: dict[str, object] = {
            "format": FORMAT,
            "city": CITY,
            "city_name": {"zh": "测试向量市", "en": "Test Vector City"},
            "version": LIST_VERSION,
            "issued_at": T0 - DAY,
            "anchor": {
                "alg": "ES256",
                "public_key": base64.b64encode(spki_der(self.anchor.public_key())).decode(),
            },
            "keys": [k.as_json() for k in self.listed],
        }
        signature = raw_es256(self.anchor, canonical_json(body))
        document = {"trust_list": body, "signature": base64.b64encode(signature).decode()}
        return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def make_city() -> City:
    ps256 = generate_private_key("PS256")
    assert isinstance(ps256, rsa.RSAPrivateKey)
    return City(
        anchor=derived_p256("anchor"),
        health=ListedKey(derived_p256("health-a"), "health", T0 - 30 * DAY, T0 + 60 * DAY),
        health_retired=ListedKey(derived_p256("health-b"), "health", T0 - 90 * DAY, T0 + 3600),
        health_ps256=ListedKey(ps256, "health", T0 - 30 * DAY, T0 + 60 * DAY),
        health_withdrawn=ListedKey(
            derived_p256("health-withdrawn"),
            "health",
            T0 - 30 * DAY,
            T0 + 60 * DAY,
            withdrawn_at=T0 - 3600,
        ),
        place=ListedKey(derived_p256("place"), "place", T0 - 30 * DAY, T0 + 1065 * DAY),
        unlisted=derived_p256("unlisted"),
        eddsa=Ed25519PrivateKey.from_private_bytes(_digest("eddsa")),
    )


# --- building codes ------------------------------------------------------------------------


def claims(**changes: Any) -> HealthClaims:
    values: dict[str, Any] = {
        "issuer": CITY,
        "issued_at": T0,
        "expires_at": T0 + LIFETIME,
        "colour": Colour.GREEN,
        "valid_until": T0 + LIFETIME,
        "rule_ref": RULE,
        "subject_ref": derived_bytes("subject", 28),
        "masked_name": "张*",
    }
    values.update(changes)
    return HealthClaims(**values)


def raw_signature(key: PrivateKey, protected: bytes, payload: bytes) -> bytes:
    to_be_signed = sig_structure(protected, payload)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return raw_es256(key, to_be_signed)
    return key.sign(to_be_signed, pss_padding(), hashes.SHA256())


def cose(
    protected: bytes,
    unprotected: dict[int, Any],
    payload: bytes,
    signature: bytes,
    *,
    tag: int | None = COSE_SIGN1_TAG,
) -> bytes:
    body = [protected, unprotected, payload, signature]
    encoded: bytes = cbor2.dumps(cbor2.CBORTag(tag, body) if tag is not None else body)
    return encoded


def health(data: bytes) -> str:
    return wrap(HEALTH_CODE_PREFIX, data)


def framed(raw: bytes, prefix: str = HEALTH_CODE_PREFIX) -> str:
    """Base45 of `raw` as is (no zlib): for cases that break the compression layer."""
    encoded: bytes = base45.b45encode(raw)
    return prefix + encoded.decode("ascii")


def flip_signature_bit(sign1: bytes) -> bytes:
    tagged = cbor2.loads(sign1)
    protected, unprotected, payload, signature = tagged.value
    flipped = bytes([signature[0] ^ 0x01]) + signature[1:]
    return cose(protected, unprotected, payload, flipped)


# --- the cases -----------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    description: str
    code: str
    now: int
    decision: Decision
    reason: Reason
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "code": self.code,
            "now": self.now,
            "expected": {"decision": self.decision.value, "reason": self.reason.value},
        }


def build_cases(city: City) -> list[Case]:
    es = CoseSigner.for_key(city.health.key)
    retired = CoseSigner.for_key(city.health_retired.key)
    ps = CoseSigner.for_key(city.health_ps256.key)
    withdrawn = CoseSigner.for_key(city.health_withdrawn.key)
    place = CoseSigner.for_key(city.place.key)
    unlisted = CoseSigner.for_key(city.unlisted)
    kid = es.kid

    green = es.sign(claims().encode())
    green_text = health(green)
    red_payload = claims(colour=Colour.RED).encode()
    red = es.sign(red_payload)
    body = green_text[len(HEALTH_CODE_PREFIX) :]

    admit, refuse, invalid = Decision.ADMIT, Decision.REFUSE, Decision.INVALID
    cases: list[Case] = []

    def add(
        name: str, description: str, code: str, expected: tuple[Decision, Reason], now: int = NOW
    ) -> None:
        cases.append(Case(name, description, code, now, *expected))

    # -- accepted and refused by status ----------------------------------------------------
    add(
        "valid_green_es256",
        "A green code signed ES256 by the active health key, verified a minute after issue.",
        green_text,
        (admit, Reason.OK),
    )
    add(
        "valid_green_ps256",
        "A green code signed PS256 (RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32) by a 3072-bit "
        "RSA health key on the list.",
        health(ps.sign(claims().encode())),
        (admit, Reason.OK),
    )
    add(
        "valid_green_retired_key",
        "A green code signed by a retired ES256 key that is still on the list (not_after "
        "covers the code's lifetime).",
        health(retired.sign(claims().encode())),
        (admit, Reason.OK),
    )
    add(
        "valid_green_no_masked_name",
        "A green code without the optional masked name (status key 5 absent).",
        health(es.sign(claims(masked_name=None).encode())),
        (admit, Reason.OK),
    )
    protected_alg_only = cbor2.dumps({HEADER_ALG: ES256})
    payload = claims().encode()
    add(
        "valid_kid_in_unprotected_header",
        "The kid sits in the unprotected header (as EU DCC issuers may do); the algorithm is "
        "protected. Accepted: the kid only selects the key, the signature decides.",
        health(
            cose(
                protected_alg_only,
                {HEADER_KID: kid},
                payload,
                raw_signature(city.health.key, protected_alg_only, payload),
            )
        ),
        (admit, Reason.OK),
    )
    tagged = cbor2.loads(green).value
    add(
        "valid_untagged_cose_sign1",
        "The same signed message as valid_green_es256 without the COSE_Sign1 tag 18 (the "
        "tag is optional, as in the EU DCC).",
        health(cose(*tagged, tag=None)),
        (admit, Reason.OK),
    )
    add(
        "edge_last_second_before_exp",
        "Verified 1 s before exp: accepted.",
        green_text,
        (admit, Reason.OK),
        now=T0 + LIFETIME - 1,
    )
    add(
        "edge_expired_at_exp",
        "Verified exactly at exp: expired (no clock-skew allowance on exp).",
        green_text,
        (invalid, Reason.EXPIRED),
        now=T0 + LIFETIME,
    )
    add(
        "edge_expired_within_skew",
        "Verified 1 s after exp, well within max_skew (300 s): expired all the same. The skew "
        "allowance is for iat and key validity only; a 5-minute code works for 5 minutes.",
        green_text,
        (invalid, Reason.EXPIRED),
        now=T0 + LIFETIME + 1,
    )
    add(
        "edge_issued_ahead_within_skew",
        "Verified exactly max_skew (300 s) before iat (a verifier clock running late): "
        "still accepted.",
        green_text,
        (admit, Reason.OK),
        now=T0 - SKEW,
    )
    add(
        "valid_red",
        "A validly signed red code: the verifier refuses entry.",
        health(red),
        (refuse, Reason.STATUS_RED),
    )
    add(
        "valid_yellow",
        "A validly signed yellow code: the verifier refuses entry.",
        health(es.sign(claims(colour=Colour.YELLOW).encode())),
        (refuse, Reason.STATUS_YELLOW),
    )
    add(
        "status_expired",
        "A green code whose status valid_until (status key 2) has been reached while the code "
        "itself (exp) is still valid.",
        health(es.sign(claims(valid_until=T0 + 60, expires_at=T0 + 3600).encode())),
        (refuse, Reason.STATUS_EXPIRED),
        now=T0 + 60,
    )

    # -- framing ---------------------------------------------------------------------------
    add(
        "wrong_prefix_hc1",
        "The valid green code's body behind the EU DCC prefix HC1: instead of HCODE1:.",
        "HC1:" + body,
        (invalid, Reason.WRONG_PREFIX),
    )
    add(
        "wrong_prefix_lowercase",
        "The prefix is case-sensitive: hcode1: is not HCODE1:.",
        "hcode1:" + body,
        (invalid, Reason.WRONG_PREFIX),
    )
    add(
        "wrong_prefix_empty",
        "The empty string.",
        "",
        (invalid, Reason.WRONG_PREFIX),
    )
    place_code = wrap(PLACE_CODE_PREFIX, place.sign(PlaceClaims(CITY, T0, "V1", "P1").encode()))
    add(
        "wrong_prefix_place_code",
        "A genuine place code (PLACE1:, signed by the city's place key) scanned as a health code.",
        place_code,
        (invalid, Reason.WRONG_PREFIX),
    )
    cut = (len(body) // 2) // 3 * 3
    add(
        "truncated_text",
        "The valid green code cut after a whole number of base45 triplets: base45 decodes, "
        "the zlib stream ends early.",
        HEALTH_CODE_PREFIX + body[:cut],
        (invalid, Reason.BAD_COMPRESSION),
    )
    add(
        "truncated_text_mid_triplet",
        "The valid green code cut one character into a base45 triplet (length 3k+1 is never "
        "valid base45).",
        HEALTH_CODE_PREFIX + body[: cut + 1],
        (invalid, Reason.BAD_BASE45),
    )
    add(
        "bad_base45_alphabet",
        "A lowercase letter, outside the base45 alphabet of RFC 9285.",
        HEALTH_CODE_PREFIX + body[:9] + "a" + body[10:],
        (invalid, Reason.BAD_BASE45),
    )
    add(
        "bad_base45_overflow",
        "A triplet ':::' encodes 44 + 44*45 + 44*45^2 = 91124 > 65535 (RFC 9285 §4.2).",
        HEALTH_CODE_PREFIX + ":::" + body[3:],
        (invalid, Reason.BAD_BASE45),
    )
    add(
        "bad_compression_not_zlib",
        "Valid base45 of bytes that are not a zlib stream.",
        framed(b"this is not a zlib stream"),
        (invalid, Reason.BAD_COMPRESSION),
    )
    add(
        "bad_compression_trailing_bytes",
        "A complete zlib stream of the valid green code followed by one extra byte.",
        framed(zlib.compress(green, 9) + b"\x00"),
        (invalid, Reason.BAD_COMPRESSION),
    )
    big = es.sign(claims(subject_ref=derived_bytes("big", 700)).encode())
    big_text = health(big)
    assert len(big_text) > MAX_TEXT_CHARS
    assert len(big) <= MAX_COSE_BYTES
    add(
        "too_large_text",
        f"A validly signed code whose text is longer than {MAX_TEXT_CHARS} characters "
        "(incompressible 700-byte subject reference).",
        big_text,
        (invalid, Reason.TOO_LARGE),
    )
    bomb = es.sign(claims(masked_name="张" * 1200).encode())
    # Issuers store codes uncompressed (they are mostly random bytes); a bomb is compressed.
    bomb_text = HEALTH_CODE_PREFIX + b45encode(zlib.compress(bomb, 9))
    assert len(bomb) > MAX_COSE_BYTES
    assert len(bomb_text) <= MAX_TEXT_CHARS
    add(
        "too_large_decompressed",
        f"A short, validly signed code that inflates to more than {MAX_COSE_BYTES} bytes "
        "(a small zlib bomb): refused without inflating it all.",
        bomb_text,
        (invalid, Reason.TOO_LARGE),
    )
    add(
        "malformed_not_cbor",
        "Valid base45 and zlib around bytes that are not CBOR (a lone break code 0xff).",
        health(b"\xff"),
        (invalid, Reason.MALFORMED),
    )
    add(
        "malformed_wrong_tag",
        "The valid green message under CBOR tag 17 (COSE_Mac0) instead of 18.",
        health(cose(*tagged, tag=17)),
        (invalid, Reason.MALFORMED),
    )
    add(
        "malformed_truncated_cose",
        "The valid green COSE_Sign1 with its last 10 bytes cut, then framed correctly.",
        health(green[:-10]),
        (invalid, Reason.MALFORMED),
    )
    add(
        "malformed_three_items",
        "A COSE_Sign1 array of three items (no signature).",
        health(cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, tagged[:3]))),
        (invalid, Reason.MALFORMED),
    )
    add(
        "malformed_trailing_bytes",
        "The valid green COSE_Sign1 followed by one more CBOR item (null) inside a valid zlib "
        "stream: exactly one CBOR item is allowed, nothing after it.",
        health(green + b"\xf6"),
        (invalid, Reason.MALFORMED),
    )
    padded = protected_header(ES256, kid) + b"\x00"
    add(
        "malformed_protected_header_trailing_bytes",
        "A protected header holding a CBOR map followed by a stray byte, correctly signed: the "
        "header must be exactly one CBOR map.",
        health(cose(padded, {}, payload, raw_signature(city.health.key, padded, payload))),
        (invalid, Reason.MALFORMED),
    )

    # -- algorithm and key -----------------------------------------------------------------
    ed_kid = hashlib.sha256(
        city.eddsa.public_key().public_bytes_raw()  # not an SPKI: any 8 bytes will do
    ).digest()[:8]
    ed_protected = cbor2.dumps({HEADER_ALG: -8, HEADER_KID: ed_kid})
    add(
        "wrong_algorithm_eddsa",
        "alg -8 (EdDSA) with a genuine Ed25519 signature: only ES256 (-7) and PS256 (-37) are "
        "accepted.",
        health(
            cose(ed_protected, {}, payload, city.eddsa.sign(sig_structure(ed_protected, payload)))
        ),
        (invalid, Reason.WRONG_ALGORITHM),
    )
    zero = cbor2.dumps({HEADER_ALG: 0, HEADER_KID: kid})
    add(
        "wrong_algorithm_zero",
        "alg 0 (reserved: a 'none'-like algorithm) with an empty signature and a listed kid.",
        health(cose(zero, {}, payload, b"")),
        (invalid, Reason.WRONG_ALGORITHM),
    )
    hs = cbor2.dumps({HEADER_ALG: 5, HEADER_KID: kid})
    mac = hmac.new(spki_der(city.health.key.public_key()), sig_structure(hs, payload), "sha256")
    add(
        "wrong_algorithm_hs256",
        "alg 5 (HMAC 256/256) keyed with the listed key's public SPKI bytes: the classic "
        "algorithm-confusion forgery.",
        health(cose(hs, {}, payload, mac.digest())),
        (invalid, Reason.WRONG_ALGORITHM),
    )
    no_alg = cbor2.dumps({HEADER_KID: kid})
    add(
        "wrong_algorithm_missing",
        "No alg at all (the protected header holds only the kid); correctly ES256-signed.",
        health(cose(no_alg, {}, payload, raw_signature(city.health.key, no_alg, payload))),
        (invalid, Reason.WRONG_ALGORITHM),
    )
    kid_only = cbor2.dumps({HEADER_KID: kid})
    add(
        "wrong_algorithm_unprotected",
        "alg ES256 only in the unprotected header, where the signature does not cover it.",
        health(
            cose(
                kid_only,
                {HEADER_ALG: ES256},
                payload,
                raw_signature(city.health.key, kid_only, payload),
            )
        ),
        (invalid, Reason.WRONG_ALGORITHM),
    )
    add(
        "unknown_key",
        "A well-formed green code signed ES256 by a key on no trust list.",
        health(unlisted.sign(claims().encode())),
        (invalid, Reason.UNKNOWN_KEY),
    )
    no_kid = cbor2.dumps({HEADER_ALG: ES256})
    add(
        "unknown_key_no_kid",
        "A correctly signed code with no kid in either header.",
        health(cose(no_kid, {}, payload, raw_signature(city.health.key, no_kid, payload))),
        (invalid, Reason.UNKNOWN_KEY),
    )
    mismatch = protected_header(ES256, ps.kid)
    add(
        "unknown_key_alg_mismatch",
        "alg ES256 with the kid of the listed PS256 key: no listed key has that kid and "
        "that algorithm.",
        health(cose(mismatch, {}, payload, raw_signature(city.health.key, mismatch, payload))),
        (invalid, Reason.UNKNOWN_KEY),
    )
    add(
        "unknown_key_place_key",
        "A health code signed by the city's place key: a place key never signs health codes.",
        health(place.sign(claims().encode())),
        (invalid, Reason.UNKNOWN_KEY),
    )
    add(
        "key_withdrawn",
        "A correctly signed green code whose key the list marks withdrawn (withdrawn_at set).",
        health(withdrawn.sign(claims().encode())),
        (invalid, Reason.KEY_WITHDRAWN),
    )
    add(
        "bad_signature_bit_flip",
        "The valid green code with the lowest bit of the signature's first byte flipped.",
        health(flip_signature_bit(green)),
        (invalid, Reason.BAD_SIGNATURE),
    )
    p, u, _, sig = cbor2.loads(red).value
    tampered = red_payload.replace(b"\x01\x02", b"\x01\x00", 1)  # status {1: 2} -> {1: 0}
    assert tampered != red_payload
    assert cbor2.loads(tampered)[-65537][1] == Colour.GREEN
    add(
        "bad_signature_tampered_payload",
        "A red code whose payload was edited to green (status key 1: 2 -> 0), signature kept.",
        health(cose(p, u, tampered, sig)),
        (invalid, Reason.BAD_SIGNATURE),
    )
    swapped_kid = protected_header(ES256, retired.kid)
    g_p, g_u, g_payload, g_sig = tagged
    add(
        "bad_signature_tampered_kid",
        "The valid green code with its protected kid replaced by another listed ES256 key's kid.",
        health(cose(swapped_kid, g_u, g_payload, g_sig)),
        (invalid, Reason.BAD_SIGNATURE),
    )
    add(
        "bad_signature_short",
        "The valid green code with the last byte of its 64-byte r||s signature removed.",
        health(cose(g_p, g_u, g_payload, g_sig[:-1])),
        (invalid, Reason.BAD_SIGNATURE),
    )
    add(
        "bad_signature_der",
        "An ES256 signature in ASN.1 DER form instead of the fixed 64-byte r||s of RFC 9053.",
        health(
            cose(
                g_p,
                g_u,
                g_payload,
                city.health.key.sign(sig_structure(g_p, g_payload), ec.ECDSA(hashes.SHA256())),
            )
        ),
        (invalid, Reason.BAD_SIGNATURE),
    )

    # -- claims and time -------------------------------------------------------------------
    add(
        "bad_claims_not_a_map",
        "A correctly signed payload that is a CBOR array, not a claims map.",
        health(es.sign(cbor2.dumps([1, 2, 3]))),
        (invalid, Reason.BAD_CLAIMS),
    )
    unknown_colour = cbor2.loads(claims().encode())
    unknown_colour[-65537][1] = 3
    add(
        "bad_claims_unknown_colour",
        "A correctly signed code with colour 3 (only 0 green, 1 yellow, 2 red exist).",
        health(es.sign(cbor2.dumps(unknown_colour))),
        (invalid, Reason.BAD_CLAIMS),
    )
    bool_exp = cbor2.loads(claims().encode())
    bool_exp[4] = True
    add(
        "bad_claims_boolean_time",
        "A correctly signed code whose exp is CBOR true instead of an integer.",
        health(es.sign(cbor2.dumps(bool_exp))),
        (invalid, Reason.BAD_CLAIMS),
    )
    add(
        "bad_claims_trailing_bytes",
        "A correctly signed payload holding the claims map followed by a stray byte: the "
        "payload must be exactly one CBOR map.",
        health(es.sign(claims().encode() + b"\x00")),
        (invalid, Reason.BAD_CLAIMS),
    )
    add(
        "wrong_issuer",
        "A correctly signed code naming another city (CN-OTHER) than the key's trust list.",
        health(es.sign(claims(issuer="CN-OTHER").encode())),
        (invalid, Reason.WRONG_ISSUER),
    )
    add(
        "lifetime_too_long",
        f"A correctly signed code living {MAX_LIFETIME + 1} s, one second more than any code may.",
        health(es.sign(claims(expires_at=T0 + MAX_LIFETIME + 1).encode())),
        (invalid, Reason.LIFETIME_TOO_LONG),
    )
    early = city.health.not_before - 1000
    add(
        "outside_key_validity",
        "A correctly signed code whose iat lies before its key's not_before (minus skew).",
        health(
            es.sign(
                claims(issued_at=early, expires_at=early + 300, valid_until=early + 300).encode()
            )
        ),
        (invalid, Reason.OUTSIDE_KEY_VALIDITY),
        now=early + 60,
    )
    add(
        "not_yet_valid",
        "The valid green code verified max_skew + 1 s before its iat.",
        green_text,
        (invalid, Reason.NOT_YET_VALID),
        now=T0 - SKEW - 1,
    )
    add(
        "expired",
        "The valid green code verified an hour after its exp.",
        green_text,
        (invalid, Reason.EXPIRED),
        now=T0 + LIFETIME + 3600,
    )

    # -- check order: each case fails two checks; the earlier one must be reported ---------
    add(
        "order_prefix_before_size",
        "Wrong prefix and far too long: framing is checked before the size cap.",
        "HC1:" + "A" * 2000,
        (invalid, Reason.WRONG_PREFIX),
    )
    add(
        "order_size_before_base45",
        "Too long and not base45: the size cap is checked before any decoding.",
        HEALTH_CODE_PREFIX + "a" * (MAX_TEXT_CHARS + 2),
        (invalid, Reason.TOO_LARGE),
    )
    add(
        "order_algorithm_before_key",
        "alg -8 and a kid on no list: the algorithm is checked before the key lookup.",
        health(cose(cbor2.dumps({HEADER_ALG: -8, HEADER_KID: b"\x00" * 8}), {}, payload, b"x")),
        (invalid, Reason.WRONG_ALGORITHM),
    )
    add(
        "order_key_before_signature",
        "A kid on no list and a garbage signature: key lookup comes before the signature.",
        health(cose(protected_header(ES256, b"\x00" * 8), {}, payload, b"\x00" * 64)),
        (invalid, Reason.UNKNOWN_KEY),
    )
    add(
        "order_signature_before_withdrawal",
        "A withdrawn key's code with a flipped signature bit: a forgery is reported as such.",
        health(flip_signature_bit(withdrawn.sign(claims().encode()))),
        (invalid, Reason.BAD_SIGNATURE),
    )
    add(
        "order_withdrawal_before_time",
        "A withdrawn key's correctly signed code, verified after its exp.",
        health(withdrawn.sign(claims().encode())),
        (invalid, Reason.KEY_WITHDRAWN),
        now=T0 + LIFETIME + SKEW + 1,
    )
    add(
        "order_signature_before_claims",
        "A payload that is not a claims map and a signature that does not verify: the payload "
        "is never decoded before the signature verifies.",
        health(flip_signature_bit(es.sign(b"\xff"))),
        (invalid, Reason.BAD_SIGNATURE),
    )
    add(
        "order_signature_before_time",
        "The valid green code with a flipped signature bit, verified long after its exp.",
        health(flip_signature_bit(green)),
        (invalid, Reason.BAD_SIGNATURE),
        now=T0 + 10 * DAY,
    )
    add(
        "order_lifetime_before_expiry",
        "A code living too long that has also expired: lifetime is checked first.",
        health(es.sign(claims(expires_at=T0 + 2 * DAY).encode())),
        (invalid, Reason.LIFETIME_TOO_LONG),
        now=T0 + 3 * DAY,
    )
    add(
        "order_issuer_before_time",
        "A code naming another city that has also expired: the issuer selects the key whose "
        "validity the time window is checked against, so it comes first.",
        health(es.sign(claims(issuer="CN-OTHER").encode())),
        (invalid, Reason.WRONG_ISSUER),
        now=T0 + LIFETIME + SKEW + 1,
    )
    add(
        "order_time_before_status",
        "A red code verified after its exp: expired (invalid), not red (refuse).",
        health(red),
        (invalid, Reason.EXPIRED),
        now=T0 + LIFETIME + SKEW + 1,
    )
    add(
        "order_status_validity_before_colour",
        "A red code whose status valid_until has passed but whose exp has not.",
        health(
            es.sign(claims(colour=Colour.RED, valid_until=T0 + 60, expires_at=T0 + 3600).encode())
        ),
        (refuse, Reason.STATUS_EXPIRED),
        now=T0 + 61,
    )
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


def check(cases: Sequence[Case], document: str, anchor_fingerprint: str) -> list[str]:
    """Every case against our own verifier; returns the disagreements."""
    store = TrustStore.of([parse_trust_list(document, anchor_fingerprint)])
    problems = []
    for case in cases:
        verdict = verify_health_code(case.code, store, case.now, VerifyPolicy())
        if (verdict.decision, verdict.reason) != (case.decision, case.reason):
            problems.append(
                f"{case.name}: expected {case.decision.value}/{case.reason.value}, "
                f"verifier says {verdict.decision.value}/{verdict.reason.value}"
            )
    place = next(c for c in cases if c.name == "wrong_prefix_place_code")
    if verify_place_code(place.code, store, place.now).decision is not Decision.ADMIT:
        problems.append("wrong_prefix_place_code: the place code itself does not verify")
    return problems


def generate(out: Path) -> int:
    city = make_city()
    document = city.trust_list()
    anchor_fingerprint = fingerprint(city.anchor.public_key())
    cases = build_cases(city)
    problems = check(cases, document, anchor_fingerprint)
    if problems:
        print("not written: cases disagree with the verifier:", file=sys.stderr)
        for problem in problems:
            print("  " + problem, file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    (out / "trust_list.json").write_text(document, encoding="utf-8")
    (out / "anchor_fingerprint.txt").write_text(anchor_fingerprint + "\n", encoding="utf-8")
    vectors = json.dumps([c.as_json() for c in cases], ensure_ascii=False, indent=1)
    (out / "vectors.json").write_text(vectors + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} vectors for {CITY} (anchor {anchor_fingerprint[:16]}...)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output directory")
    args = parser.parse_args(argv)
    return generate(args.out)


if __name__ == "__main__":
    sys.exit(main())
