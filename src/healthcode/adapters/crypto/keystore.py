"""Private keys at rest: one file a key, AES-256-GCM under a key derived from the passphrase.

Private keys never enter the database, a log line or a response (SIG-7). The key-encryption key
is derived once per process with scrypt (RFC 7914) from the passphrase and a random salt kept in
keystore.json; each file is bound to its name as associated data, so files cannot be swapped.
Deleting a file destroys the key: retention destroys the per-day check-in keys this way
(adapters/crypto/checkin_keys.py), which crypto-shreds that day's check-ins in every copy.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import time
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P = 15, 8, 1  # a new store's cost; each store records its own
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,80}$")
SETTLED_NS = 2_000_000_000  # a directory scan is kept once the directory is this long unchanged


class KeyStoreError(RuntimeError):
    """The key store is missing, locked with another passphrase, or a key file is damaged."""


class KeyStore:
    def __init__(
        self, directory: Path, passphrase: str, scrypt_log2_n: int = SCRYPT_LOG2_N
    ) -> None:
        self.directory = directory
        self._passphrase = passphrase.encode()
        self._scrypt_n = 2**scrypt_log2_n  # for a store created here; an existing one says its own
        self._kek: AESGCM | None = None
        self._listing: tuple[tuple[int, int], list[str]] | None = None  # stamp, file names
        self._stamp_paths: dict[str, str] = {}  # key name -> its file's path, for `stamp`

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
            "n": self._scrypt_n,
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
    def _write_file(path: Path, data: bytes, flags: int = os.O_TRUNC) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    @classmethod
    def _write(cls, path: Path, data: bytes) -> None:
        tmp = path.with_suffix(".tmp")
        cls._write_file(tmp, data)
        os.replace(tmp, path)

    def _seal(self, name: str, secret: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead().encrypt(nonce, secret, name.encode())

    def put(self, name: str, secret: bytes) -> None:
        self._write(self._path(name), self._seal(name, secret))

    def put_new(self, name: str, secret: bytes) -> bool:
        """Store a key only if there is none by that name, atomically across processes: False
        if another writer got there first (then theirs is the key). The file is complete and on
        disk, directory entry included, before anything can be encrypted under it."""
        path = self._path(name)
        tmp = self.directory / f".{name}.{secrets.token_hex(8)}.tmp"
        self._write_file(tmp, self._seal(name, secret), os.O_EXCL)
        try:
            os.link(tmp, path)  # fails if the name exists: no writer replaces another's key
        except FileExistsError:
            return False
        finally:
            tmp.unlink()
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return True

    def get(self, name: str) -> bytes:
        path = self._path(name)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise KeyStoreError(f"key {name!r} is not in the key store") from None
        try:
            return self._aead().decrypt(raw[:12], raw[12:], name.encode())
        except InvalidTag:
            raise KeyStoreError(
                f"key {name!r} cannot be decrypted: wrong passphrase or damaged file"
            ) from None

    def has(self, name: str) -> bool:
        return self._path(name).exists()

    def stamp(self, name: str) -> tuple[int, int] | None:
        """Which file holds the key now (inode, modification time), or None if there is none:
        a cached key is good only while its file's stamp is unchanged."""
        path = self._stamp_paths.get(name)
        if path is None:  # checked once per name: every use of a cached key asks
            if not NAME.match(name):
                raise KeyStoreError(f"bad key name {name!r}")
            path = self._stamp_paths[name] = os.path.join(self.directory, f"{name}.key")
        try:
            found = os.stat(path)
        except FileNotFoundError:
            return None
        return found.st_ino, found.st_mtime_ns

    def names(self, prefix: str) -> list[str]:
        """The names of the stored keys that start with `prefix`. The directory is scanned
        again whenever it changed (a key made or destroyed, by any process, changes its
        modification time); otherwise one `stat` tells that the last scan still holds."""
        try:
            entries = self._entries()
        except FileNotFoundError:
            return []
        found = [
            name[: -len(".key")]
            for name in entries
            if name.startswith(prefix) and name.endswith(".key")
        ]
        return [name for name in found if NAME.match(name)]

    def _entries(self) -> list[str]:
        seen = os.stat(self.directory)
        stamp = (seen.st_ino, seen.st_mtime_ns)
        held = self._listing
        if held is not None and held[0] == stamp:
            return held[1]
        entries = [entry.name for entry in os.scandir(self.directory)]
        # A scan in the same clock tick as the directory's last change could miss a second
        # change within that tick (the time would not move): kept only once the change is old.
        if time.time_ns() - seen.st_mtime_ns > SETTLED_NS:
            self._listing = (stamp, entries)
        return entries

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
