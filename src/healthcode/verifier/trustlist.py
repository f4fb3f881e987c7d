"""Signed, versioned trust lists: which keys may sign codes for which city, and for how long.

A trust list is a JSON document, signed (ES256, detached r||s over its canonical JSON) by the
city's trust-list anchor key. Verifiers pin each city's anchor by its fingerprint (SHA-256 of the
key's SubjectPublicKeyInfo), learned out of band; a list signed by any other key is refused, and a
list older than one already held is refused (rollback).

The document comes from outside (another city, an admin's upload, a file on a guard's device), so
the parser answers anything it is given with a `TrustListError` and nothing else: size and depth
are capped, text must be valid Unicode, numbers must fit a JavaScript number (the guard's page
reads the same lists), and the anchor's fingerprint is compared with the pin on the raw bytes
*before* the key is parsed, so a key type no library supports is never even decoded unpinned.

    {"trust_list": {"format": "healthcode-trust-list/1", "city": "CN-GZ",
                    "city_name": {"zh": "...", "en": "..."}, "version": 3, "issued_at": 1700000000,
                    "anchor": {"alg": "ES256", "public_key": "<base64 SPKI DER>"},
                    "keys": [{"kid": "<base64>", "use": "health" | "place", "alg": "ES256",
                              "public_key": "<base64 SPKI DER>", "not_before": 1700000000,
                              "not_after": 1707776000, "withdrawn_at": null}]},
     "signature": "<base64 r||s>"}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from healthcode.verifier.cose import ALGORITHMS, PublicKey

FORMAT = "healthcode-trust-list/1"
KEY_USES = ("health", "place")
KID_BYTES = 8
MAX_DOCUMENT_CHARS = 1 << 20  # far above a list of hundreds of keys
MAX_KEYS = 1000
MAX_INT = 2**53 - 1  # versions and times: exact in every JSON reader, JavaScript included
MAX_NAME_CHARS = 100
CITY = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,8}$")  # ISO 3166-2 style, as codes carry it in iss
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")


class TrustListError(ValueError):
    """A trust list is malformed, wrongly signed, from an unpinned anchor, or a rollback."""


def canonical_json(obj: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, no spaces, UTF-8); we never put floats in."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _signed_bytes(body: Any) -> bytes:
    """The canonical bytes of a body read from outside: text that is not valid Unicode (a lone
    surrogate from a \\ud800 escape) has no UTF-8 form, so no signature can cover it."""
    try:
        return canonical_json(body)
    except (UnicodeEncodeError, RecursionError, ValueError):
        raise TrustListError("the list holds text that is not valid Unicode") from None


def spki_der(key: PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(key: PublicKey) -> bytes:
    """kid = first 8 bytes of SHA-256 over the SubjectPublicKeyInfo (as the EU DCC does)."""
    return hashlib.sha256(spki_der(key)).digest()[:KID_BYTES]


def fingerprint(key: PublicKey) -> str:
    return hashlib.sha256(spki_der(key)).hexdigest()


def _der(b64: object) -> bytes:
    if not isinstance(b64, str):
        raise TrustListError("public_key must be base64 text")
    try:
        return base64.b64decode(b64, validate=True)
    except (ValueError, binascii.Error):
        raise TrustListError("public_key is not base64") from None


def _load_der(der: bytes) -> PublicKey:
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # UnsupportedAlgorithm: a well-formed key of a type or curve the library does not know.
        raise TrustListError(
            "public_key is not a P-256 or RSA SubjectPublicKeyInfo (DER)"
        ) from None
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048:
        return key
    raise TrustListError("only P-256 and RSA ≥ 2048-bit public keys are accepted")


def load_public_key(b64: object) -> PublicKey:
    return _load_der(_der(b64))


@dataclass(frozen=True, slots=True)
class TrustedKey:
    city: str
    kid: bytes
    use: str
    alg: int
    public_key: PublicKey
    not_before: int
    not_after: int
    withdrawn_at: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "kid": base64.b64encode(self.kid).decode(),
            "use": self.use,
            "alg": next(name for name, value in ALGORITHMS.items() if value == self.alg),
            "public_key": base64.b64encode(spki_der(self.public_key)).decode(),
            "not_before": self.not_before,
            "not_after": self.not_after,
            "withdrawn_at": self.withdrawn_at,
        }


@dataclass(frozen=True, slots=True)
class TrustList:
    city: str
    city_name: dict[str, str]
    version: int
    issued_at: int
    anchor: ec.EllipticCurvePublicKey
    keys: tuple[TrustedKey, ...]
    document: str

    @property
    def anchor_fingerprint(self) -> str:
        return fingerprint(self.anchor)


def _int(obj: dict[str, Any], name: str, *, optional: bool = False) -> Any:
    value = obj.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_INT:
        raise TrustListError(f"{name} must be an integer from 0 to 2^53 - 1")
    return value


def _key(city: str, raw: Any) -> TrustedKey:
    if not isinstance(raw, dict):
        raise TrustListError("each key must be an object")
    alg = ALGORITHMS.get(str(raw.get("alg")))
    if alg is None:
        raise TrustListError(f"key algorithm {raw.get('alg')!r} is not ES256 or PS256")
    if raw.get("use") not in KEY_USES:
        raise TrustListError(f"key use must be one of {KEY_USES}")
    public_key = load_public_key(raw.get("public_key"))
    if (alg == ALGORITHMS["ES256"]) != isinstance(public_key, ec.EllipticCurvePublicKey):
        raise TrustListError("key algorithm does not match its public key type")
    kid = key_id(public_key)
    if raw.get("kid") != base64.b64encode(kid).decode():
        raise TrustListError("kid is not the truncated SHA-256 of the public key")
    key = TrustedKey(
        city,
        kid,
        str(raw["use"]),
        alg,
        public_key,
        _int(raw, "not_before"),
        _int(raw, "not_after"),
        _int(raw, "withdrawn_at", optional=True),
    )
    if key.not_after <= key.not_before:
        raise TrustListError("key not_after must be later than not_before")
    return key


def _outer(document: object) -> tuple[dict[str, Any], bytes]:
    if not isinstance(document, str) or len(document) > MAX_DOCUMENT_CHARS:
        raise TrustListError(
            f"a trust list is JSON text of at most {MAX_DOCUMENT_CHARS} characters"
        )
    try:
        outer = json.loads(document)
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        raise TrustListError("not a JSON document") from None
    if not isinstance(outer, dict) or set(outer) != {"trust_list", "signature"}:
        raise TrustListError("not a trust list document (trust_list + signature)")
    body, signature_b64 = outer["trust_list"], outer["signature"]
    if not isinstance(body, dict) or not isinstance(signature_b64, str):
        raise TrustListError("not a trust list document (trust_list + signature)")
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (ValueError, binascii.Error):
        raise TrustListError("signature is not base64") from None
    return body, signature


def _anchor(body: dict[str, Any], pinned_fingerprint: str | None) -> ec.EllipticCurvePublicKey:
    """The anchor key, compared with the pin on its raw bytes before it is parsed."""
    anchor_raw = body.get("anchor")
    if not isinstance(anchor_raw, dict) or anchor_raw.get("alg") != "ES256":
        raise TrustListError("anchor must be an ES256 public key")
    der = _der(anchor_raw.get("public_key"))
    if pinned_fingerprint is not None:
        pin = pinned_fingerprint.lower() if isinstance(pinned_fingerprint, str) else ""
        if not _FINGERPRINT.match(pin):
            raise TrustListError("the pinned fingerprint is 64 hex digits")
        if hashlib.sha256(der).hexdigest() != pin:
            raise TrustListError("trust list is signed by an anchor that is not the pinned one")
    anchor = _load_der(der)
    if not isinstance(anchor, ec.EllipticCurvePublicKey):
        raise TrustListError("anchor must be an ES256 public key")
    return anchor


def _city_name(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > 8:
        raise TrustListError("city_name maps a language to the city's name")
    names: dict[str, str] = {}
    for lang, name in raw.items():
        if not isinstance(lang, str) or not isinstance(name, str) or len(name) > MAX_NAME_CHARS:
            raise TrustListError(f"city_name: names are text of at most {MAX_NAME_CHARS} chars")
        names[lang] = name
    return names


def parse_trust_list(document: str, pinned_fingerprint: str | None) -> TrustList:
    """Check a trust list's signature and shape. `pinned_fingerprint=None` trusts the embedded
    anchor (only for our own list, which we just signed). Raises TrustListError only."""
    body, signature = _outer(document)
    if body.get("format") != FORMAT:
        raise TrustListError(f"format must be {FORMAT!r}")
    anchor = _anchor(body, pinned_fingerprint)
    if len(signature) != 64:
        raise TrustListError("signature must be 64 bytes (r || s)")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        anchor.verify(der, _signed_bytes(body), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise TrustListError("trust list signature does not verify") from None
    city = body.get("city")
    if not isinstance(city, str) or not CITY.match(city):
        raise TrustListError("city must be an ISO 3166-2 style id such as CN-GZ")
    keys_raw = body.get("keys")
    if not isinstance(keys_raw, list) or len(keys_raw) > MAX_KEYS:
        raise TrustListError(f"keys must be a list of at most {MAX_KEYS}")
    return TrustList(
        city=city,
        city_name=_city_name(body.get("city_name")),
        version=_int(body, "version"),
        issued_at=_int(body, "issued_at"),
        anchor=anchor,
        keys=tuple(_key(city, raw) for raw in keys_raw),
        document=document,
    )


@dataclass
class TrustStore:
    """Every key of every trust list a verifier holds, indexed by kid."""

    lists: dict[str, TrustList] = field(default_factory=dict)
    _by_kid: dict[tuple[bytes, str], list[TrustedKey]] = field(default_factory=dict)

    @classmethod
    def of(cls, lists: Iterable[TrustList]) -> TrustStore:
        store = cls()
        for trust_list in lists:
            store.add(trust_list)
        return store

    def add(self, trust_list: TrustList) -> None:
        held = self.lists.get(trust_list.city)
        if held is not None and trust_list.version < held.version:
            raise TrustListError(
                f"{trust_list.city} list version {trust_list.version} is older than the "
                f"held version {held.version} (rollback refused)"
            )
        self.lists[trust_list.city] = trust_list
        self._by_kid = {}
        for held_list in self.lists.values():
            for key in held_list.keys:
                self._by_kid.setdefault((key.kid, key.use), []).append(key)

    def keys_for(self, kid: bytes, use: str) -> list[TrustedKey]:
        """Every key with this kid (kids are short, so collisions are possible: try them all)."""
        return self._by_kid.get((kid, use), [])
