"""The KeyRing port over the encrypted key store: every private-key operation happens here.

Keys by purpose, never shared between purposes (AUD-3, SIG-5):
  health-<kid>, place-<kid>   code-signing keys (ES256 or PS256), rotated, listed on the trust list
  anchor                      signs our trust lists (ES256); other cities pin its fingerprint
  log                         signs transparency-log checkpoints (Ed25519, C2SP signed note)
  ref                         AES-256 key that seals the subject reference inside health codes
  phone-tag                   HMAC-SHA256 key: phone numbers waiting for a sign-in code, as tags
  checkin-day-YYYYMMDD        AES-256 key of one UTC day: who visited, in that day's check-ins,
                              exposures and notices (checkin_keys.py); destroyed by retention
  subject-links               AES-256 key: who a status, an order, an appeal or a session is
                              about (links.py); destroyed at sunset
  vault                       AES-256-SIV key: the identity vault and free text about people
                              (vault_keys.py); destroyed at sunset
Sunset destroys every key that seals personal data: the day keys, subject-links, vault,
phone-tag and ref (`destroy_sunset_keys`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from healthcode.adapters.crypto.checkin_keys import CheckInKeys
from healthcode.adapters.crypto.keystore import KeyStore, KeyStoreError
from healthcode.adapters.crypto.links import SubjectLinks
from healthcode.adapters.crypto.note import make_vkey, sign_checkpoint
from healthcode.adapters.crypto.permutation import Permutations
from healthcode.adapters.crypto.signer import (
    CoseSigner,
    generate_private_key,
    load_private_key,
    private_key_bytes,
    raw_es256,
)
from healthcode.adapters.crypto.vault_keys import VaultKeys
from healthcode.domain.keys import KeyUse
from healthcode.verifier.checkpoint import Checkpoint
from healthcode.verifier.trustlist import canonical_json, key_id, spki_der

REF_NONCE = 12


class KeyRing:
    def __init__(self, store: KeyStore, log_origin: str) -> None:
        self.store = store
        self.log_origin = log_origin
        self._signers: dict[str, CoseSigner] = {}
        self._cache: dict[str, Any] = {}
        self._local = threading.local()
        permutations = Permutations(store)
        self.checkin_keys = CheckInKeys(store, permutations)
        self.links = SubjectLinks(store, permutations)
        self.vault_keys = VaultKeys(store)

    def ensure(self) -> None:
        """Create the key store and the single-purpose keys that do not rotate with codes."""
        self.store.create()
        self.store.unlock()
        if not self.store.has("anchor"):
            self.store.put("anchor", private_key_bytes(ec.generate_private_key(ec.SECP256R1())))
        if not self.store.has("log"):
            key = Ed25519PrivateKey.generate()
            self.store.put("log", key.private_bytes_raw())
        if not self.store.has("ref"):
            self.store.put("ref", secrets.token_bytes(32))
        if not self.store.has("phone-tag"):
            self.store.put("phone-tag", secrets.token_bytes(32))
        self.vault_keys.ensure()

    def phone_tag(self, phone: str) -> str:
        """A keyed hash of a phone number: the same number gives the same tag, but the tag
        cannot be reversed by trying every number without the key."""
        key = self._cache.get("phone-tag")
        if key is None:
            key = self._cache["phone-tag"] = self.store.get("phone-tag")
        return hmac.new(key, b"healthcode/phone/" + phone.encode(), hashlib.sha256).hexdigest()

    def shared_secret(self, name: str) -> bytes:
        """A secret that what every process of the city shares in Redis hashes its keys with
        ("rate-limit": shared_ratelimit.py; "status-view": status_view.py): the same in every
        process, made by the first that asks. What Redis held under it is deleted at the sunset
        (the status read model) or expires within its window (the rate limits)."""
        if not self.store.has(name):
            self.store.put_new(name, secrets.token_bytes(32))  # once, across processes
        return self.store.get(name)

    def destroy_checkin_keys(self, before: int | None) -> int:
        return self.checkin_keys.destroy_before(before)

    def destroy_sunset_keys(self) -> dict[str, int]:
        destroyed = {
            "checkin_keys": self.checkin_keys.destroy_before(None),
            "links_key": self.links.destroy(),
            "vault_key": self.vault_keys.destroy(),
        }
        for name in ("phone-tag", "ref"):
            self._cache.pop(name, None)
            had = self.store.has(name)
            if had:
                self.store.destroy(name)
            destroyed[f"{name.replace('-', '_')}_key"] = int(had)
        self._local = threading.local()  # the ref key's cipher contexts with it
        return destroyed

    def create_signing_key(self, use: KeyUse, alg: str) -> tuple[str, bytes]:
        key = generate_private_key(alg)
        kid = key_id(key.public_key()).hex()
        self.store.put(f"{use.value}-{kid}", private_key_bytes(key))
        return kid, spki_der(key.public_key())

    def destroy_signing_key(self, kid: str) -> None:
        self._signers.pop(kid, None)
        for use in KeyUse:
            self.store.destroy(f"{use.value}-{kid}")

    def _signer(self, kid: str) -> CoseSigner:
        signer = self._signers.get(kid)
        if signer is None:
            for use in KeyUse:
                if self.store.has(f"{use.value}-{kid}"):
                    key = load_private_key(self.store.get(f"{use.value}-{kid}"))
                    signer = self._signers[kid] = CoseSigner.for_key(key)
                    break
            else:
                raise KeyStoreError(f"no private key for kid {kid}: no code can be signed")
        return signer

    def sign_cose(self, kid: str, payload: bytes) -> bytes:
        return self._signer(kid).sign(payload)

    def _anchor(self) -> ec.EllipticCurvePrivateKey:
        if "anchor" not in self._cache:
            key = load_private_key(self.store.get("anchor"))
            assert isinstance(key, ec.EllipticCurvePrivateKey)  # noqa: S101 - created as P-256
            self._cache["anchor"] = key
        anchor: ec.EllipticCurvePrivateKey = self._cache["anchor"]
        return anchor

    def anchor_public_key(self) -> bytes:
        return spki_der(self._anchor().public_key())

    def sign_trust_list(self, body: dict[str, object]) -> str:
        signature = raw_es256(self._anchor(), canonical_json(body))
        return json.dumps(
            {"trust_list": body, "signature": base64.b64encode(signature).decode()},
            ensure_ascii=False,
            indent=1,
            sort_keys=True,
        )

    def _log_key(self) -> Ed25519PrivateKey:
        if "log" not in self._cache:
            self._cache["log"] = Ed25519PrivateKey.from_private_bytes(self.store.get("log"))
        key: Ed25519PrivateKey = self._cache["log"]
        return key

    def log_vkey(self) -> str:
        return make_vkey(self.log_origin, self._log_key().public_key())

    def sign_checkpoint(self, size: int, root: bytes, time: int) -> str:
        cp = Checkpoint(origin=self.log_origin, size=size, root=root, timestamp=time)
        return sign_checkpoint(cp, self.log_origin, self._log_key())

    def _ref_block(self) -> Any:
        """A per-thread AES-ECB context on the ref key: a single-block CTR is AES of the counter
        block XOR the plaintext, and reusing the context saves building a cipher per code.
        OpenSSL contexts are not shared between threads."""
        block = getattr(self._local, "ref_block", None)
        if block is None:
            block = Cipher(algorithms.AES(self.store.get("ref")), modes.ECB()).encryptor()  # noqa: S305 - one block of CTR
            self._local.ref_block = block
        return block

    def _keystream(self, nonce: bytes) -> int:
        block = self._ref_block().update(nonce + bytes(16 - REF_NONCE))
        return int.from_bytes(block, "big")

    def seal_subject(self, subject_id: str) -> bytes:
        """Unlinkable subject reference: a fresh nonce per code, so two codes of one person look
        unrelated to a guard. Integrity comes from the code's signature, so AES-CTR suffices."""
        nonce = secrets.token_bytes(REF_NONCE)
        sealed = int.from_bytes(bytes.fromhex(subject_id), "big") ^ self._keystream(nonce)
        return nonce + sealed.to_bytes(16, "big")

    def open_subject(self, sealed: bytes) -> str | None:
        if len(sealed) != REF_NONCE + 16:
            return None
        nonce, body = sealed[:REF_NONCE], sealed[REF_NONCE:]
        return (int.from_bytes(body, "big") ^ self._keystream(nonce)).to_bytes(16, "big").hex()
