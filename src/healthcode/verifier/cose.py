"""COSE_Sign1 (RFC 9052 §4.2) framing and signature checks, as the EU DCC uses them.

We implement the few lines of COSE_Sign1 ourselves over `cbor2` and `cryptography` instead of using
pycose: pycose signs and verifies ES256 about 30 times slower than the raw library (it verifies
through the pure-Python `ecdsa` package), and a verifier must control the order of its checks
(signature before the payload is ever decoded, SIG-2). Interoperability is tested against pycose
and cwt in tests/integration/test_cose_interop.py.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

COSE_SIGN1_TAG = 18
HEADER_ALG = 1
HEADER_KID = 4

# Algorithms we accept, by COSE identifier (RFC 9053). Everything else, "none" included, is refused.
ES256 = -7
PS256 = -37
ALGORITHMS: dict[str, int] = {"ES256": ES256, "PS256": PS256}
ALGORITHM_NAMES: dict[int, str] = {v: k for k, v in ALGORITHMS.items()}

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class CoseError(ValueError):
    """The bytes are not a well-formed COSE_Sign1 message of the shape we accept."""


@dataclass(frozen=True, slots=True)
class Sign1:
    """A parsed, not yet verified COSE_Sign1 message."""

    protected: bytes
    alg: int | None
    kid: bytes | None
    payload: bytes
    signature: bytes


# A CBOR array is its header followed by its items, so the constant parts of Sig_structure and of
# the message are built once per key and the payload is encoded once per signature.
SIG1_PREFIX = b"\x84" + cbor2.dumps("Signature1")  # array(4), "Signature1"
EMPTY_AAD = b"\x40"
SIGN1_HEAD = b"\xd2\x84"  # tag 18, array(4)
EMPTY_MAP = b"\xa0"
ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def cbor_bstr(data: bytes) -> bytes:
    """A CBOR byte string: major type 2 head + the bytes (RFC 8949 §3.1). Written out because
    `cbor2.dumps` costs ~3.8 µs per call for this, ~12 times more, on the hot path of every
    code; tests check it against cbor2 for every length class."""
    size = len(data)
    if size < 24:
        return bytes((0x40 + size,)) + data
    if size < 0x100:
        return bytes((0x58, size)) + data
    if size < 0x10000:
        return b"\x59" + size.to_bytes(2, "big") + data
    return b"\x5a" + size.to_bytes(4, "big") + data


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """The bytes that are signed: Sig_structure of RFC 9052 §4.4 with empty external_aad."""
    return SIG1_PREFIX + cbor_bstr(protected) + EMPTY_AAD + cbor_bstr(payload)


def protected_header(alg: int, kid: bytes) -> bytes:
    encoded: bytes = cbor2.dumps({HEADER_ALG: alg, HEADER_KID: kid})
    return encoded


def encode_sign1(protected: bytes, payload: bytes, signature: bytes) -> bytes:
    return SIGN1_HEAD + cbor_bstr(protected) + EMPTY_MAP + cbor_bstr(payload) + cbor_bstr(signature)


def _header_map(raw: Any) -> dict[Any, Any]:
    if not isinstance(raw, dict):
        raise CoseError("COSE header is not a map")
    return raw


def loads_exact(data: bytes) -> Any:
    """Decode exactly one CBOR item: `cbor2.loads` silently ignores bytes after the first item,
    and a verifier must not accept anything it did not check. Raises ValueError."""
    stream = io.BytesIO(data)
    try:
        obj = cbor2.CBORDecoder(stream).decode()
    except Exception as exc:  # cbor2 raises several types on malformed input
        raise ValueError(f"not CBOR: {type(exc).__name__}") from None
    if stream.tell() != len(data):
        raise ValueError(f"{len(data) - stream.tell()} trailing bytes after the CBOR item")
    return obj


def parse_sign1(data: bytes) -> Sign1:
    """Parse the COSE_Sign1 envelope only: the payload stays opaque bytes until verified."""
    try:
        obj = loads_exact(data)
    except ValueError as exc:
        raise CoseError(str(exc)) from None
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != COSE_SIGN1_TAG:
            raise CoseError(f"CBOR tag {obj.tag} is not COSE_Sign1 (18)")
        obj = obj.value
    if not isinstance(obj, list) or len(obj) != 4:
        raise CoseError("COSE_Sign1 must be an array of four items")
    protected_raw, unprotected_raw, payload, signature = obj
    if not isinstance(protected_raw, bytes) or not isinstance(payload, bytes):
        raise CoseError("protected header and payload must be byte strings")
    if not isinstance(signature, bytes):
        raise CoseError("signature must be a byte string")
    alg, kid = _protected_fields(protected_raw)
    if kid is None:
        # A kid may sit in either header, as in the EU DCC, but the protected one wins.
        kid = _header_map(unprotected_raw).get(HEADER_KID)
        if kid is not None and not isinstance(kid, bytes):
            raise CoseError("kid must be a byte string")
    else:
        _header_map(unprotected_raw)
    return Sign1(protected_raw, alg, kid, payload, signature)


@functools.lru_cache(maxsize=256)
def _protected_fields(protected_raw: bytes) -> tuple[int | None, bytes | None]:
    """alg and kid of a protected header. Every code a key signs carries the same header bytes,
    so parsed headers are cached (bounded; a malformed header raises and is never cached)."""
    try:
        protected = _header_map(loads_exact(protected_raw)) if protected_raw else {}
    except ValueError:
        raise CoseError("protected header is not a single CBOR map") from None
    # The algorithm must be protected: it is covered by the signature.
    alg = protected.get(HEADER_ALG)
    kid = protected.get(HEADER_KID)
    if alg is not None and (not isinstance(alg, int) or isinstance(alg, bool)):
        raise CoseError("alg must be an integer")
    if kid is not None and not isinstance(kid, bytes):
        raise CoseError("kid must be a byte string")
    return alg, kid


def verify_signature(msg: Sign1, key: PublicKey, alg: int) -> bool:
    """True when `msg` is signed by `key` with `alg`. Never raises.

    The trust list guarantees that a key's algorithm matches its type (trustlist._key), so we
    dispatch on `alg` alone; a mismatch still cannot verify (the call fails, we return False)."""
    to_be_signed = sig_structure(msg.protected, msg.payload)
    try:
        if alg == ES256:
            signature = msg.signature
            if len(signature) != 64:
                return False
            # COSE carries r || s (RFC 9053 §2.1); cryptography wants DER.
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            key.verify(der, to_be_signed, ECDSA_SHA256)  # type: ignore[call-arg,arg-type]
            return True
        if alg == PS256:
            key.verify(msg.signature, to_be_signed, pss_padding(), hashes.SHA256())  # type: ignore[call-arg,arg-type]
            return True
    except (InvalidSignature, ValueError, TypeError):
        return False
    return False


def pss_padding() -> padding.PSS:
    # RFC 8230 §2: PS256 uses MGF1 with SHA-256 and a salt as long as the hash.
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
