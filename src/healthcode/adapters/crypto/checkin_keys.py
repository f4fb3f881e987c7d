"""Per-UTC-day keys for check-ins: who visited is stored encrypted under the key of the day.

Each UTC day has its own random 256-bit key in the key store, `checkin-day-YYYYMMDD`, made by
the first check-in of that day. A check-in stores its subject as AES-256 of the subject id's 16
bytes under that key, one block: a keyed pseudorandom permutation. It is deterministic within
a day, so "the visits of this person" is still an equality lookup (one value per day of the
window, in one IN list) and tracing can decrypt who else was there; it differs from day to
day, so the rows of two days cannot be joined without the keys. The retention purge destroys a
day's key once the whole day is past retention, and sunset destroys them all: from then on no
copy of those rows (a backup, a stolen disk, a replica) can be tied to a person again, while
the rows hold the same 32 hex digits as before, so the schema does not change.

The keys are cached in memory, but every use first checks that the key's file is still the one
the cached key came from, so a key that another process destroyed is never used again here.
"""

from __future__ import annotations

import calendar
import functools
import re
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from healthcode.adapters.crypto.keystore import KeyStore, KeyStoreError

DAY = 86400
PREFIX = "checkin-day-"
KEY_BYTES = 32
BLOCK = 16
SUBJECT = re.compile(r"^[0-9a-f]{32}$")  # a subject id: 128 random bits (enrolment)
_NAME = re.compile(r"^checkin-day-(\d{8})$")


def day_of(instant: int) -> int:
    """The start of the UTC day of `instant` (epoch seconds)."""
    return instant - instant % DAY


def key_name(day: int) -> str:
    return PREFIX + time.strftime("%Y%m%d", time.gmtime(day))


@functools.lru_cache(maxsize=4096)
def _day_of_name(name: str) -> int | None:
    match = _NAME.match(name)
    if match is None:
        return None
    digits = match.group(1)
    return calendar.timegm((int(digits[:4]), int(digits[4:6]), int(digits[6:]), 0, 0, 0))


def _ecb(key: bytes) -> Cipher[modes.ECB]:
    # One block per subject: ECB of a single block is the AES permutation itself, and equal
    # subjects giving equal blocks within a day is the point (lookups by equality).
    return Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305 - single-block PRP, see above


@dataclass(frozen=True, slots=True)
class _DayCipher:
    """A day's key as one thread uses it: both directions, and the file it was read from."""

    stamp: tuple[int, int]
    encrypt: Any
    decrypt: Any


class CheckInKeys:
    def __init__(self, store: KeyStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        # (day, thread) -> cipher contexts: an OpenSSL context is not shared between threads,
        # and building one costs more than using it. Dropped when the key is destroyed here;
        # elsewhere, the stamp of the key's file tells.
        self._ciphers: dict[tuple[int, int], _DayCipher] = {}

    def _cipher(self, day: int, name: str, stamp: tuple[int, int]) -> _DayCipher | None:
        """The day's cipher for this thread, if the key file with this stamp can be read."""
        slot = (day, threading.get_ident())
        found = self._ciphers.get(slot)
        if found is not None and found.stamp == stamp:
            return found
        try:
            cipher = _ecb(self.store.get(name))
        except KeyStoreError:
            if self.store.has(name):
                raise
            return None  # destroyed between the look and the read
        found = self._ciphers[slot] = _DayCipher(stamp, cipher.encryptor(), cipher.decryptor())
        return found

    def _day(self, day: int, *, create: bool) -> _DayCipher | None:
        """The day's cipher; its key made if `create` and there is none; None if there is none."""
        name = key_name(day)
        stamp = self.store.stamp(name)
        if stamp is None:  # destroyed (maybe by another process), or never made
            self._forget(day)
            if not create:
                return None
            with self._lock:  # one maker per process; put_new settles it between processes
                self.store.put_new(name, secrets.token_bytes(KEY_BYTES))
            stamp = self.store.stamp(name)
        found = self._cipher(day, name, stamp) if stamp is not None else None
        if found is None and create:
            raise KeyStoreError(f"key {name!r} was destroyed while being made")
        return found

    def _forget(self, day: int) -> None:
        for slot in list(self._ciphers):  # a copy: other threads may add meanwhile
            if slot[0] == day:
                self._ciphers.pop(slot, None)

    def seal(self, day: int, subject_ids: Sequence[str]) -> list[str]:
        """The stored form of each subject id for check-ins of this UTC day (the day's key is
        made on first use). Raises ValueError for anything but a subject id (32 hex digits)."""
        for subject_id in subject_ids:
            if not SUBJECT.match(subject_id):
                raise ValueError("a subject id is 32 lowercase hex digits")
        cipher = self._day(day_of(day), create=True)
        assert cipher is not None  # noqa: S101 - made above
        sealed = cipher.encrypt.update(bytes.fromhex("".join(subject_ids))).hex()
        return [sealed[i : i + 2 * BLOCK] for i in range(0, len(sealed), 2 * BLOCK)]

    def open(self, day: int, sealed: Sequence[str]) -> list[str] | None:
        """The subject ids behind stored values of check-ins of this UTC day, or None if the
        day's key is gone: then nobody can tell whose they were."""
        cipher = self._day(day_of(day), create=False)
        if cipher is None:
            return None
        opened = cipher.decrypt.update(bytes.fromhex("".join(sealed))).hex()
        return [opened[i : i + 2 * BLOCK] for i in range(0, len(opened), 2 * BLOCK)]

    def days(self) -> list[int]:
        """The UTC days (day starts) that have a key, oldest first: one scan of the key store."""
        found = (_day_of_name(name) for name in self.store.names(PREFIX))
        return sorted(day for day in found if day is not None)

    def pseudonyms(self, subject_id: str, first: int, last: int) -> dict[int, str]:
        """Day -> the stored form of `subject_id` on that day, for each day from the day of
        `first` to the day of `last` that has a key (days without one hold no linkable rows)."""
        if not SUBJECT.match(subject_id):
            return {}
        block, first_day = bytes.fromhex(subject_id), day_of(first)
        found: dict[int, str] = {}
        for day in self.days():
            if first_day <= day <= last:
                cipher = self._day(day, create=False)
                if cipher is not None:
                    found[day] = cipher.encrypt.update(block).hex()
        return found

    def destroy_before(self, before: int | None) -> int:
        """Destroy the key of every day that ends at or before `before` (None: every day's);
        return how many were destroyed."""
        destroyed = 0
        for day in self.days():
            if before is None or day + DAY <= before:
                self._forget(day)
                self.store.destroy(key_name(day))
                destroyed += 1
        return destroyed
