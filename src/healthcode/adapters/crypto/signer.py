"""Signing keys in memory and COSE_Sign1 signing (the issuing half of verifier/cose.py)."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from healthcode.verifier.cose import (
    ALGORITHMS,
    ES256,
    PS256,
    encode_sign1,
    protected_header,
    pss_padding,
    sig_structure,
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
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@dataclass(frozen=True)
class CoseSigner:
    """One private key, ready to sign COSE_Sign1 messages. The protected header is built once."""

    key: PrivateKey
    alg: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "_protected", protected_header(self.alg, self.kid))

    @classmethod
    def for_key(cls, key: PrivateKey) -> CoseSigner:
        alg = ES256 if isinstance(key, ec.EllipticCurvePrivateKey) else PS256
        return cls(key, alg)

    @property
    def kid(self) -> bytes:
        return key_id(self.key.public_key())

    @property
    def alg_name(self) -> str:
        return next(name for name, value in ALGORITHMS.items() if value == self.alg)

    def sign(self, payload: bytes) -> bytes:
        protected: bytes = self._protected  # type: ignore[attr-defined]
        to_be_signed = sig_structure(protected, payload)
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            signature = raw_es256(self.key, to_be_signed)
        else:
            signature = self.key.sign(to_be_signed, pss_padding(), hashes.SHA256())
        return encode_sign1(protected, payload, signature)
