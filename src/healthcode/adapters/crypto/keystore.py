"""Private keys at rest: one file a key, AES-256-GCM under a key derived from the passphrase.

Private keys never enter the database, a log line or a response (SIG-7). The key-encryption key
is derived once per process with scrypt (RFC 7914) from the passphrase and a random salt kept in
keystore.json; each file is bound to its name as associated data, so files cannot be swapped.
Deleting a file destroys the key (used by retention for per-day keys).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,80}$")


class KeyStoreError(RuntimeError):
    """The key store is missing, locked with another passphrase, or a key file is damaged."""


class KeyStore:
    def __init__(self, directory: Path, passphrase: str) -> None:
        self.directory = directory
        self._passphrase = passphrase.encode()
        self._kek: AESGCM | None = None

    @property
    def _meta_path(self) -> Path:
        return self.directory / "keystore.json"

    def exists(self) -> bool:
        return self._meta_path.exists()

    def create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        if self.exists():
            return
        meta = {
            "kdf": "scrypt",
            "n": SCRYPT_N,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
            "salt": base64.b64encode(secrets.token_bytes(16)).decode(),
        }
        self._write(self._meta_path, json.dumps(meta).encode())
        # A check value proves at load time that the passphrase is the right one.
        self.put("passphrase-check", b"healthcode")

    def _aead(self) -> AESGCM:
        if self._kek is None:
            if not self.exists():
                raise KeyStoreError("no key store: run `healthcode init` first")
            meta = json.loads(self._meta_path.read_text())
            kdf = Scrypt(
                salt=base64.b64decode(meta["salt"]),
                length=32,
                n=meta["n"],
                r=meta["r"],
                p=meta["p"],
            )
            self._kek = AESGCM(kdf.derive(self._passphrase))
        return self._kek

    def _path(self, name: str) -> Path:
        if not NAME.match(name):
            raise KeyStoreError(f"bad key name {name!r}")
        return self.directory / f"{name}.key"

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def put(self, name: str, secret: bytes) -> None:
        nonce = secrets.token_bytes(12)
        sealed = self._aead().encrypt(nonce, secret, name.encode())
        self._write(self._path(name), nonce + sealed)

    def get(self, name: str) -> bytes:
        path = self._path(name)
        if not path.exists():
            raise KeyStoreError(f"key {name!r} is not in the key store")
        raw = path.read_bytes()
        try:
            return self._aead().decrypt(raw[:12], raw[12:], name.encode())
        except InvalidTag:
            raise KeyStoreError(
                f"key {name!r} cannot be decrypted: wrong passphrase or damaged file"
            ) from None

    def has(self, name: str) -> bool:
        return self._path(name).exists()

    def destroy(self, name: str) -> None:
        path = self._path(name)
        if path.exists():
            size = path.stat().st_size
            with path.open("r+b") as handle:  # overwrite first: unlink alone leaves the bytes
                handle.write(secrets.token_bytes(size))
                handle.flush()
                os.fsync(handle.fileno())
            path.unlink()

    def unlock(self) -> None:
        """Fail at start, not at the first signature, when the passphrase is wrong."""
        if self.get("passphrase-check") != b"healthcode":
            raise KeyStoreError("key store check value is wrong")
