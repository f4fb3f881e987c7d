"""Independent COSE libraries agree with our COSE_Sign1, in both directions.

Our codes are signed by a few lines of our own over cbor2 and cryptography (verifier/cose.py).
Here pycose (which verifies ES256 with the pure-Python `ecdsa` package) and cwt check them, given
nothing but the exported trust list: the public key comes from the list's base64 SPKI, the
message from the code's text (prefix, base45, zlib) decoded without our helpers. And messages
made by pycose and cwt, with keys put on a trust list, pass our verifier.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import base45
import cbor2
import cwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pycose.algorithms import Es256, Ps256
from pycose.headers import KID, Algorithm
from pycose.keys import EC2Key, RSAKey
from pycose.keys.curves import P256
from pycose.messages import Sign1Message

from healthcode.adapters.crypto.signer import raw_es256
from healthcode.bootstrap import App
from healthcode.domain.audit import Actor
from healthcode.services import codes, enrolment, keys, verify
from healthcode.verifier.claims import Colour, HealthClaims
from healthcode.verifier.trustlist import (
    FORMAT,
    TrustStore,
    canonical_json,
    fingerprint,
    key_id,
    parse_trust_list,
    spki_der,
)
from healthcode.verifier.verify import Decision, Reason, verify_health_code
from tests.conftest import START

ADMIN = Actor("authority_admin", "officer-1")
PREFIX = "HCODE1:"


# --- decoding a code and the list with no help from our package ----------------------------


def cose_bytes(text: str) -> bytes:
    assert text.startswith(PREFIX)
    return zlib.decompress(base45.b45decode(text[len(PREFIX) :]))


def listed_key(document: str, kid: bytes) -> dict[str, Any]:
    """The trust-list entry of `kid` among the health keys, found by hand."""
    body = json.loads(document)["trust_list"]
    wanted = base64.b64encode(kid).decode()
    found = [k for k in body["keys"] if k["kid"] == wanted and k["use"] == "health"]
    assert len(found) == 1
    return found[0]


def public_key(entry: dict[str, Any]) -> Any:
    return serialization.load_der_public_key(base64.b64decode(entry["public_key"]))


def pem(entry: dict[str, Any]) -> bytes:
    return public_key(entry).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def header_kid(cose: bytes) -> bytes:
    tag = cbor2.loads(cose)
    assert tag.tag == 18
    kid: bytes = cbor2.loads(tag.value[0])[4]
    return kid


def flip_signature(cose: bytes) -> bytes:
    tag = cbor2.loads(cose)
    protected, unprotected, payload, signature = tag.value
    flipped = signature[:-1] + bytes([signature[-1] ^ 0x01])
    encoded: bytes = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, flipped]))
    return encoded


def pycose_key(entry: dict[str, Any]) -> EC2Key | RSAKey:
    key = public_key(entry)
    if isinstance(key, ec.EllipticCurvePublicKey):
        numbers = key.public_numbers()
        return EC2Key(crv=P256, x=numbers.x.to_bytes(32, "big"), y=numbers.y.to_bytes(32, "big"))
    assert isinstance(key, rsa.RSAPublicKey)
    rsa_numbers = key.public_numbers()
    return RSAKey(
        n=rsa_numbers.n.to_bytes((rsa_numbers.n.bit_length() + 7) // 8, "big"),
        e=rsa_numbers.e.to_bytes(3, "big"),
    )


def pycose_verifies(cose: bytes, entry: dict[str, Any]) -> bool:
    message = Sign1Message.decode(cose)
    message.key = pycose_key(entry)
    return bool(message.verify_signature())


def cwt_key(entry: dict[str, Any], kid: bytes) -> Any:
    return cwt.COSEKey.from_pem(pem(entry), alg=entry["alg"], kid=kid)


# --- our codes, checked by them ------------------------------------------------------------


def enrol(app: App, doc: str = "11010519491231002X") -> str:
    cmd = enrolment.EnrolResident("张三", "prc_id", doc, "13812345678")
    return enrolment.enrol_resident(app.ctx, cmd).subject_id


def issue(app: App) -> tuple[codes.IssuedCode, str]:
    issued = codes.issue_health_code(app.ctx, enrol(app))
    return issued, keys.our_trust_list(app.ctx).document


def test_pycose_verifies_our_es256_code_from_the_trust_list_alone(app: App) -> None:
    issued, document = issue(app)
    cose = cose_bytes(issued.text)
    kid = header_kid(cose)
    assert kid.hex() == issued.kid
    entry = listed_key(document, kid)
    assert entry["alg"] == "ES256"
    message = Sign1Message.decode(cose)
    assert message.phdr[Algorithm] is Es256
    assert message.phdr[KID] == kid
    message.key = pycose_key(entry)
    assert message.verify_signature() is True
    claims = cbor2.loads(message.payload)
    assert claims[1] == app.settings.city
    assert claims[4] - claims[6] == app.settings.code_lifetime_seconds
    assert claims[-65537][1] == Colour.GREEN


def test_cwt_verifies_our_es256_code_from_the_trust_list_alone(app: App) -> None:
    issued, document = issue(app)
    cose = cose_bytes(issued.text)
    kid = header_kid(cose)
    entry = listed_key(document, kid)
    protected, unprotected, payload = cwt.COSE.new(verify_kid=True).decode_with_headers(
        cose, cwt_key(entry, kid)
    )
    assert protected == {1: -7, 4: kid}
    assert unprotected == {}
    assert cbor2.loads(payload)[1] == app.settings.city


def test_both_libraries_reject_our_code_with_a_flipped_signature_bit(app: App) -> None:
    issued, document = issue(app)
    cose = cose_bytes(issued.text)
    kid = header_kid(cose)
    entry = listed_key(document, kid)
    forged = flip_signature(cose)
    assert pycose_verifies(cose, entry)
    assert not pycose_verifies(forged, entry)
    cwt.COSE.new().decode(cose, cwt_key(entry, kid))
    with pytest.raises(cwt.VerifyError):
        cwt.COSE.new().decode(forged, cwt_key(entry, kid))
    # and ours agrees
    assert verify.verify_text(app.ctx, wrap_text(forged)).reason is Reason.BAD_SIGNATURE


def test_both_libraries_reject_our_code_under_another_listed_key(app: App) -> None:
    """The key matters: after a rotation, the new key does not verify the old code."""
    issued, _ = issue(app)
    keys.rotate_key(app.ctx, keys.KeyUse.HEALTH, ADMIN)
    document = keys.our_trust_list(app.ctx).document
    cose = cose_bytes(issued.text)
    old_kid = header_kid(cose)
    body = json.loads(document)["trust_list"]
    others = [
        k
        for k in body["keys"]
        if k["use"] == "health" and k["kid"] != base64.b64encode(old_kid).decode()
    ]
    assert others
    for entry in others:
        assert not pycose_verifies(cose, entry)
        # labelled with the code's kid, so cwt really tries this key's signature check
        with pytest.raises(cwt.VerifyError):
            cwt.COSE.new().decode(cose, cwt_key(entry, old_kid))


def test_both_libraries_verify_our_ps256_code(ps256_app: App) -> None:
    issued, document = issue(ps256_app)
    cose = cose_bytes(issued.text)
    kid = header_kid(cose)
    entry = listed_key(document, kid)
    assert entry["alg"] == "PS256"
    message = Sign1Message.decode(cose)
    assert message.phdr[Algorithm] is Ps256
    assert pycose_verifies(cose, entry)
    assert not pycose_verifies(flip_signature(cose), entry)
    assert cbor2.loads(cwt.COSE.new().decode(cose, cwt_key(entry, kid)))[1] == "CN-TEST"
    with pytest.raises(cwt.VerifyError):
        cwt.COSE.new().decode(flip_signature(cose), cwt_key(entry, kid))


# --- their messages, checked by us ---------------------------------------------------------

FOREIGN = "CN-FOREIGN"


def foreign_claims(issuer: str = FOREIGN, now: int = START) -> bytes:
    return HealthClaims(
        issuer=issuer,
        issued_at=now,
        expires_at=now + 300,
        colour=Colour.GREEN,
        valid_until=now + 300,
        rule_ref="foreign@1#green",
        subject_ref=b"\x01" * 28,
        masked_name="李*",
    ).encode()


class ForeignCity:
    """A trust list made by hand around public keys that other libraries generated."""

    def __init__(self, city: str = FOREIGN) -> None:
        self.city = city
        self.anchor = ec.generate_private_key(ec.SECP256R1())
        self.keys: list[dict[str, object]] = []

    def add(self, public: Any, withdrawn_at: int | None = None) -> bytes:
        kid = key_id(public)
        self.keys.append(
            {
                "kid": base64.b64encode(kid).decode(),
                "use": "health",
                "alg": "ES256" if isinstance(public, ec.EllipticCurvePublicKey) else "PS256",
                "public_key": base64.b64encode(spki_der(public)).decode(),
                "not_before": START - 86400,
                "not_after": START + 30 * 86400,
                "withdrawn_at": withdrawn_at,
            }
        )
        return kid

    def document(self, version: int = 1) -> str:
        body = {
            "format": FORMAT,
            "city": self.city,
            "city_name": {"zh": "外市", "en": "Foreign City"},
            "version": version,
            "issued_at": START - 3600,
            "anchor": {
                "alg": "ES256",
                "public_key": base64.b64encode(spki_der(self.anchor.public_key())).decode(),
            },
            "keys": self.keys,
        }
        signature = raw_es256(self.anchor, canonical_json(body))
        return json.dumps({"trust_list": body, "signature": base64.b64encode(signature).decode()})

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.anchor.public_key())

    def store(self) -> TrustStore:
        return TrustStore.of([parse_trust_list(self.document(), self.fingerprint)])


def ec_public(key: EC2Key) -> ec.EllipticCurvePublicKey:
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(key.x, "big"), int.from_bytes(key.y, "big"), ec.SECP256R1()
    )
    return numbers.public_key()


def rsa_public(key: RSAKey) -> rsa.RSAPublicKey:
    return rsa.RSAPublicNumbers(
        int.from_bytes(key.e, "big"), int.from_bytes(key.n, "big")
    ).public_key()


def pycose_sign(key: EC2Key | RSAKey, alg: Any, kid: bytes, payload: bytes, **kw: Any) -> bytes:
    headers = {Algorithm: alg, KID: kid}
    if kw.get("kid_unprotected"):
        message = Sign1Message(phdr={Algorithm: alg}, uhdr={KID: kid}, payload=payload)
    else:
        message = Sign1Message(phdr=headers, payload=payload)
    message.key = key
    encoded: bytes = message.encode()
    return encoded


def wrap_text(cose: bytes) -> str:
    return PREFIX + base45.b45encode(zlib.compress(cose)).decode()


def test_our_verifier_accepts_a_pycose_es256_message() -> None:
    city = ForeignCity()
    key = EC2Key.generate_key(crv=P256)
    kid = city.add(ec_public(key))
    cose = pycose_sign(key, Es256, kid, foreign_claims())
    verdict = verify_health_code(wrap_text(cose), city.store(), START + 10)
    assert (verdict.decision, verdict.reason) == (Decision.ADMIT, Reason.OK)
    assert verdict.issuer == FOREIGN
    assert verdict.masked_name == "李*"
    forged = verify_health_code(wrap_text(flip_signature(cose)), city.store(), START + 10)
    assert forged.reason is Reason.BAD_SIGNATURE


def test_our_verifier_accepts_pycose_with_the_kid_unprotected() -> None:
    city = ForeignCity()
    key = EC2Key.generate_key(crv=P256)
    kid = city.add(ec_public(key))
    cose = pycose_sign(key, Es256, kid, foreign_claims(), kid_unprotected=True)
    assert cbor2.loads(cose).value[1] == {4: kid}
    verdict = verify_health_code(wrap_text(cose), city.store(), START + 10)
    assert verdict.decision is Decision.ADMIT


def test_our_verifier_accepts_a_pycose_ps256_message() -> None:
    city = ForeignCity()
    key = RSAKey.generate_key(key_bits=2048)
    kid = city.add(rsa_public(key))
    cose = pycose_sign(key, Ps256, kid, foreign_claims())
    verdict = verify_health_code(wrap_text(cose), city.store(), START + 10)
    assert (verdict.decision, verdict.reason) == (Decision.ADMIT, Reason.OK)
    assert (
        verify_health_code(wrap_text(flip_signature(cose)), city.store(), START + 10).reason
        is Reason.BAD_SIGNATURE
    )


def test_our_verifier_refuses_a_pycose_message_from_a_withdrawn_key() -> None:
    city = ForeignCity()
    key = EC2Key.generate_key(crv=P256)
    kid = city.add(ec_public(key), withdrawn_at=START - 60)
    cose = pycose_sign(key, Es256, kid, foreign_claims())
    assert verify_health_code(wrap_text(cose), city.store(), START + 10).reason is (
        Reason.KEY_WITHDRAWN
    )


def test_our_verifier_accepts_a_cwt_es256_message() -> None:
    city = ForeignCity()
    private = ec.generate_private_key(ec.SECP256R1())
    kid = city.add(private.public_key())
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signer = cwt.COSEKey.from_pem(private_pem, alg="ES256", kid=kid)
    cose = cwt.COSE.new().encode_and_sign(
        foreign_claims(), signer, protected={1: -7, 4: kid}, unprotected={}
    )
    assert isinstance(cose, bytes)
    assert cbor2.loads(cose).tag == 18
    verdict = verify_health_code(wrap_text(cose), city.store(), START + 10)
    assert (verdict.decision, verdict.reason) == (Decision.ADMIT, Reason.OK)
    assert (
        verify_health_code(wrap_text(flip_signature(cose)), city.store(), START + 10).reason
        is Reason.BAD_SIGNATURE
    )


def test_server_admits_a_pycose_code_after_importing_its_list(app: App) -> None:
    """End to end: another city signs with pycose; we import its list with the pinned anchor."""
    city = ForeignCity()
    key = EC2Key.generate_key(crv=P256)
    kid = city.add(ec_public(key))
    now = app.ctx.clock.now()
    text = wrap_text(pycose_sign(key, Es256, kid, foreign_claims(now=now)))
    assert verify.verify_text(app.ctx, text).reason is Reason.UNKNOWN_KEY
    keys.import_trust_list(app.ctx, city.document(), city.fingerprint, ADMIN)
    verdict = verify.verify_text(app.ctx, text)
    assert (verdict.decision, verdict.reason, verdict.issuer) == (
        Decision.ADMIT,
        Reason.OK,
        FOREIGN,
    )
    # a code naming our city but signed by the foreign key is not ours to accept
    impostor = wrap_text(pycose_sign(key, Es256, kid, foreign_claims(app.settings.city, now)))
    assert verify.verify_text(app.ctx, impostor).reason is Reason.WRONG_ISSUER
