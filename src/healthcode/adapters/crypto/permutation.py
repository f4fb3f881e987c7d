"""AES-256 as a keyed permutation of 16-byte values, under named keys of the key store.

Who a stored row is about is kept as AES-256 of a 16-byte value under a key of the key store:
one block, so equal values give equal blocks under one key (lookups stay equality lookups),
while a block names nobody once its key is destroyed, in every copy of the database. The check-
in day keys (checkin_keys.py) and the subject-links key (links.py) are such keys; this module
keeps their cipher contexts.

Two kinds of value are sealed this way:
- a subject id: 32 hex digits, 128 random bits (enrolment), exactly one block;
- a record id. The system's own ("e1f0..." an exposure, "k..." a case, "a..." an appeal: one
  lowercase letter and 16 hex digits) pack as the letter, its 8 bytes and 7 zero bytes; any
  other id of 1 to 15 printable ASCII characters (one a test or an older system made) as its
  length, its characters and zero bytes. The padding is checked when a block is opened, so a
  block sealed under another key opens to nothing, not to a wrong id.

Contexts are cached per key and thread (an OpenSSL context is not shared between threads, and
building one costs more than using it), and every use first checks that the key's file is still
the one the context came from, so a key another process destroyed is never used again here.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from healthcode.adapters.crypto.keystore import KeyStore, KeyStoreError

KEY_BYTES = 32
BLOCK = 16
SUBJECT = re.compile(r"^[0-9a-f]{32}$")  # a subject id: 128 random bits (enrolment)
RECORD = re.compile(r"^[a-z][0-9a-f]{16}$")  # a record id: a kind letter and 64 random bits
SHORT = re.compile(r"^[!-~]{1,15}$")  # any other id: 1 to 15 printable ASCII characters
_PAD = bytes(BLOCK - 9)
T = TypeVar("T")


def pack_record(record_id: str) -> bytes:
    """The 16-byte block of a record id. Raises ValueError for anything else."""
    if RECORD.match(record_id):
        return record_id[0].encode() + bytes.fromhex(record_id[1:]) + _PAD
    if SHORT.match(record_id):
        raw = record_id.encode()
        return bytes([len(raw)]) + raw + bytes(BLOCK - 1 - len(raw))
    raise ValueError("a record id is a lowercase letter and 16 lowercase hex digits")


def is_record(record_id: str) -> bool:
    return bool(RECORD.match(record_id) or SHORT.match(record_id))


def unpack_record(block: bytes) -> str | None:
    """The record id a block holds, or None if it holds none (sealed under another key)."""
    if len(block) != BLOCK:
        return None
    if 0x61 <= block[0] <= 0x7A and block[9:] == _PAD:
        return chr(block[0]) + block[1:9].hex()
    size = block[0]
    if 1 <= size < BLOCK and not any(block[1 + size :]):
        text = block[1 : 1 + size].decode("ascii", "replace")
        return text if SHORT.match(text) else None
    return None


def pack_subject(subject_id: str) -> bytes:
    if not SUBJECT.match(subject_id):
        raise ValueError("a subject id is 32 lowercase hex digits")
    return bytes.fromhex(subject_id)


def pack_subjects(subject_ids: Sequence[str]) -> bytes:
    """The blocks of many subject ids, one after the other, as pack_subject makes each: checked
    and decoded in a few calls for the lot, rather than a few per id (a bulk import seals
    millions). Raises ValueError if any is not a subject id."""
    joined = "".join(subject_ids)
    try:
        blocks = bytes.fromhex(joined)  # hex digits of either case, and whitespace
    except ValueError:
        blocks = b""
    if (
        len(blocks) == BLOCK * len(subject_ids)  # no whitespace: 2 digits a byte
        and joined == joined.lower()
        and set(map(len, subject_ids)) <= {2 * BLOCK}
    ):
        return blocks
    return b"".join(pack_subject(s) for s in subject_ids)  # raises for the first bad one


def _ecb(key: bytes) -> Cipher[modes.ECB]:
    # One block per value: ECB of a single block is the AES permutation itself, and equal
    # values giving equal blocks under one key is the point (lookups by equality).
    return Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305 - single-block PRP, see above


@dataclass(frozen=True, slots=True)
class KeyCipher:
    """An AES-256 key as one thread uses it: both directions of the permutation."""

    encrypt: Any
    decrypt: Any

    @classmethod
    def of(cls, key: bytes) -> KeyCipher:
        cipher = _ecb(key)
        return cls(cipher.encryptor(), cipher.decryptor())

    def seal(self, blocks: bytes) -> list[str]:
        """Each 16-byte block of `blocks`, encrypted, as 32 hex digits."""
        if not blocks:
            return []
        # Split in C: hex digits with a space after every block, then cut at the spaces.
        return self.encrypt.update(blocks).hex(" ", BLOCK).split(" ")

    def open_blocks(self, sealed: Sequence[str]) -> list[bytes]:
        """The blocks behind stored values (32 hex digits each)."""
        opened = self.decrypt.update(bytes.fromhex("".join(sealed)))
        return [opened[i : i + BLOCK] for i in range(0, len(opened), BLOCK)]


class KeyCache(Generic[T]):
    """Named keys of one key store, each turned into what uses it (`build`) once per thread and
    key file: every use first looks at the file's stamp, so a key another process destroyed is
    never used again here, and a key made anew is read anew. Keys are made on demand
    (`size` random bytes), once across processes (`KeyStore.put_new`)."""

    def __init__(self, store: KeyStore, build: Callable[[bytes], T], size: int = KEY_BYTES):
        self.store = store
        self.build = build
        self.size = size
        self._lock = threading.Lock()
        self._built: dict[tuple[str, int], tuple[tuple[int, int], T]] = {}

    def _read(self, name: str, stamp: tuple[int, int]) -> T | None:
        """The key built for this thread, if the key file with this stamp can be read."""
        slot = (name, threading.get_ident())
        found = self._built.get(slot)
        if found is not None and found[0] == stamp:
            return found[1]
        try:
            built = self.build(self.store.get(name))
        except KeyStoreError:
            if self.store.has(name):
                raise
            return None  # destroyed between the look and the read
        self._built[slot] = (stamp, built)
        return built

    def get(self, name: str, *, create: bool) -> T | None:
        """The key, built; made if `create` and there is none; None if there is none."""
        stamp = self.store.stamp(name)
        if stamp is None:  # destroyed (maybe by another process), or never made
            self.forget(name)
            if not create:
                return None
            with self._lock:  # one maker per process; put_new settles it between processes
                self.store.put_new(name, secrets.token_bytes(self.size))
            stamp = self.store.stamp(name)
        found = self._read(name, stamp) if stamp is not None else None
        if found is None and create:
            raise KeyStoreError(f"key {name!r} was destroyed while being made")
        return found

    def forget(self, name: str) -> None:
        for slot in list(self._built):  # a copy: other threads may add meanwhile
            if slot[0] == name:
                self._built.pop(slot, None)

    def destroy(self, name: str) -> bool:
        """Destroy the key (its file overwritten and unlinked); False if there was none."""
        self.forget(name)
        if not self.store.has(name):
            return False
        self.store.destroy(name)
        return True


class Permutations(KeyCache[KeyCipher]):
    """The cipher contexts of named AES-256 keys of one key store."""

    def __init__(self, store: KeyStore) -> None:
        super().__init__(store, KeyCipher.of)
