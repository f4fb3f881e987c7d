"""Per-UTC-day keys: who visited, and every id tied to a visit, sealed under the key of its day.

Each UTC day has its own random 256-bit key in the key store, `checkin-day-YYYYMMDD`, made by
the first row of that day that needs it. A check-in stores its subject as AES-256 of the subject
id's 16 bytes under that key, one block: a keyed pseudorandom permutation (permutation.py). It
is deterministic within a day, so "the visits of this person" is still an equality lookup (one
value per day of the window, in one IN list) and tracing can decrypt who else was there; it
differs from day to day, so the rows of two days cannot be joined without the keys. Exposures
found at visits of a day, and the notices about them, seal their subject and their record ids
(the exposure's own id, its case, the appeal that withdrew it) under the same key, so nothing
else in the database can be joined to them once it is gone. The retention purge destroys a
day's key once the whole day is past retention, and sunset destroys them all: from then on no
copy of those rows (a backup, a stolen disk, a replica) can be tied to a person again, while
the rows hold 32 hex digits as before.

The keys are cached in memory, but every use first checks that the key's file is still the one
the cached key came from, so a key that another process destroyed is never used again here.
"""

from __future__ import annotations

import calendar
import functools
import re
import time
from collections.abc import Sequence

from healthcode.adapters.crypto.keystore import KeyStore, KeyStoreError
from healthcode.adapters.crypto.permutation import (
    SUBJECT,
    KeyCipher,
    Permutations,
    is_record,
    pack_record,
    pack_subjects,
    unpack_record,
)

DAY = 86400
PREFIX = "checkin-day-"
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


class DayKey:
    """One day's key as a repository uses it for one call: looked at once, then used for every
    value of the call."""

    def __init__(self, cipher: KeyCipher) -> None:
        self.cipher = cipher

    def seal(self, subject_ids: Sequence[str]) -> list[str]:
        """The stored form of each subject id. Raises ValueError for anything else."""
        blocks = pack_subjects(subject_ids)
        return self.cipher.seal(blocks) if blocks else []

    def find(self, subject_ids: Sequence[str]) -> list[str]:
        """The stored form of those of `subject_ids` that are subject ids, to look rows up by."""
        return self.seal([s for s in subject_ids if SUBJECT.match(s)])

    def seal_records(self, record_ids: Sequence[str]) -> list[str]:
        """The stored form of each record id. Raises ValueError for anything else."""
        blocks = b"".join(pack_record(r) for r in record_ids)
        return self.cipher.seal(blocks) if blocks else []

    def find_records(self, record_ids: Sequence[str]) -> list[str]:
        """The stored form of those of `record_ids` that are record ids, to look rows up by."""
        return self.seal_records([r for r in record_ids if is_record(r)])

    def open(self, sealed: Sequence[str]) -> list[str]:
        return [block.hex() for block in self.cipher.open_blocks(sealed)] if sealed else []

    def open_records(self, sealed: Sequence[str]) -> list[str | None]:
        """The record id behind each value; None for a value that holds none."""
        if not sealed:
            return []
        return [unpack_record(block) for block in self.cipher.open_blocks(sealed)]


class CheckInKeys:
    def __init__(self, store: KeyStore, permutations: Permutations | None = None) -> None:
        self.store = store
        self.permutations = permutations or Permutations(store)

    def _day(self, day: int, *, create: bool) -> KeyCipher | None:
        """The day's cipher; its key made if `create` and there is none; None if there is none."""
        return self.permutations.get(key_name(day), create=create)

    def key(self, day: int, *, create: bool = False) -> DayKey | None:
        """The key of the UTC day of `day`: made if `create` and there is none, else None if
        there is none (then nobody can tell whose that day's rows were)."""
        cipher = self._day(day_of(day), create=create)
        return DayKey(cipher) if cipher is not None else None

    def _made(self, day: int) -> DayKey:
        made = self.key(day, create=True)
        if made is None:  # pragma: no cover - get(create=True) raises instead
            raise KeyStoreError(f"key {key_name(day)!r} could not be made")
        return made

    def seal(self, day: int, subject_ids: Sequence[str]) -> list[str]:
        """The stored form of each subject id for rows of this UTC day (the day's key is made
        on first use). Raises ValueError for anything but a subject id (32 hex digits)."""
        return self._made(day).seal(subject_ids)

    def open(self, day: int, sealed: Sequence[str]) -> list[str] | None:
        """The subject ids behind stored values of this UTC day, or None if the day's key is
        gone: then nobody can tell whose they were."""
        key = self.key(day)
        return key.open(sealed) if key is not None else None

    def seal_records(self, day: int, record_ids: Sequence[str]) -> list[str]:
        """The stored form of each record id ("e" + 16 hex digits, ...) for rows of this UTC
        day. Raises ValueError for anything but a record id."""
        return self._made(day).seal_records(record_ids)

    def open_records(self, day: int, sealed: Sequence[str]) -> list[str | None] | None:
        """The record ids behind stored values of this UTC day (None for a value that holds
        none), or None if the day's key is gone."""
        key = self.key(day)
        return key.open_records(sealed) if key is not None else None

    def days(self) -> list[int]:
        """The UTC days (day starts) that have a key, oldest first: one scan of the key store."""
        found = (_day_of_name(name) for name in self.store.names(PREFIX))
        return sorted(day for day in found if day is not None)

    def keys(self) -> dict[int, DayKey]:
        """The key of each day that has one, each looked at once: for a repository call that
        reads rows of many days."""
        found = {}
        for day in self.days():
            key = self.key(day)
            if key is not None:
                found[day] = key
        return found

    def pseudonyms(self, subject_id: str, first: int, last: int) -> dict[int, str]:
        """Day -> the stored form of `subject_id` on that day, for each day from the day of
        `first` to the day of `last` that has a key (days without one hold no linkable rows)."""
        if not SUBJECT.match(subject_id):
            return {}
        first_day, found = day_of(first), {}
        for day in self.days():
            key = self.key(day) if first_day <= day <= last else None
            if key is not None:
                found[day] = key.seal([subject_id])[0]
        return found

    def destroy_before(self, before: int | None) -> int:
        """Destroy the key of every day that ends at or before `before` (None: every day's);
        return how many were destroyed."""
        destroyed = 0
        for day in self.days():
            if before is None or day + DAY <= before:
                self.permutations.destroy(key_name(day))
                destroyed += 1
        return destroyed
