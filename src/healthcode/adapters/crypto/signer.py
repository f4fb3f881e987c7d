"""Signing keys in memory and COSE_Sign1 signing (the issuing half of verifier/cose.py)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from healthcode.verifier.cose import (
    ALGORITHMS,
    ECDSA_SHA256,
    EMPTY_AAD,
    EMPTY_MAP,
    ES256,
    PS256,
    SIG1_PREFIX,
    SIGN1_HEAD,
    cbor_bstr,
    protected_header,
    pss_padding,
)
from healthcode.verifier.trustlist import key_id

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def generate_private_key(alg: str) -> PrivateKey:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "PS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise ValueError(f"unsupported algorithm {alg!r}")


def private_key_bytes(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(der: bytes) -> PrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("unsupported private key type")
    return key


def raw_es256(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """ECDSA P-256 / SHA-256 signature as fixed-length r || s (RFC 9053 §2.1, JWS style)."""
    r, s = decode_dss_signature(key.sign(message, ECDSA_SHA256))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class CoseSigner:
    """One private key, ready to sign COSE_Sign1 messages.

    Everything that does not depend on the payload (kid, protected header, the constant heads of
    Sig_structure and of the message) is encoded once here; a signature then costs one CBOR
    encoding of the payload, the signature itself and a few concatenations."""

    __slots__ = ("_msg_head", "_tbs_head", "alg", "key", "kid")

    def __init__(self, key: PrivateKey, alg: int) -> None:
        self.key = key
        self.alg = alg
        self.kid = key_id(key.public_key())
        protected = cbor_bstr(protected_header(alg, self.kid))
        self._tbs_head = SIG1_PREFIX + protected + EMPTY_AAD
        self._msg_head = SIGN1_HEAD + protected + EMPTY_MAP

    @classmethod
    def for_key(cls, key: PrivateKey) -> CoseSigner:
        alg = ES256 if isinstance(key, ec.EllipticCurvePrivateKey) else PS256
        return cls(key, alg)

    @property
    def alg_name(self) -> str:
        return next(name for name, value in ALGORITHMS.items() if value == self.alg)

    def sign(self, payload: bytes) -> bytes:
        encoded_payload = cbor_bstr(payload)
        to_be_signed = self._tbs_head + encoded_payload
        if self.alg == ES256:
            signature = raw_es256(self.key, to_be_signed)  # type: ignore[arg-type]
        else:
            signature = self.key.sign(to_be_signed, pss_padding(), hashes.SHA256())  # type: ignore[call-arg]
        return self._msg_head + encoded_payload + cbor_bstr(signature)
