"""ES256 signatures over plain bytes: a lab's signed submissions (domain/labs.py), checked with
the public key the city registered for it. Raw r || s, as in COSE and our trust lists."""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

KID_BYTES = 8


def p256_key(spki_der: bytes) -> ec.EllipticCurvePublicKey | None:
    """The P-256 public key in this SubjectPublicKeyInfo, or None for anything else."""
    try:
        key = serialization.load_der_public_key(spki_der)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    return None


def kid_of(spki_der: bytes) -> str:
    return hashlib.sha256(spki_der).digest()[:KID_BYTES].hex()


def verify_es256(spki_der: bytes, message: bytes, signature: bytes) -> bool:
    key = p256_key(spki_der)
    if key is None or len(signature) != 64:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
