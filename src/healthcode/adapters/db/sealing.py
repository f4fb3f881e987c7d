"""What the repositories need from the key store to seal who a row is about (adapters/crypto).

Three families of keys, each destroyed when what it seals must name nobody any more:
- **day keys** (`checkin-day-YYYYMMDD`): everything tied to visits of one UTC day: the subject
  of a check-in, and the subject, case, contact and record ids of the exposures found at
  visits of that day and of the notices about them. The purge destroys a day's key once the
  day is past retention; sunset destroys all.
- **the subject-links key**: the subject of statuses, of the people a manual order names, of
  appeals and of residents' sessions. Sunset destroys it.
- **the vault key**: names, ID numbers, phone numbers and commitment keys in the identity
  vault, and free text about people. Sunset destroys it.
The repositories store only sealed values and unseal what they read; a row whose key is gone
reads as nobody's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


class DayKey(Protocol):
    """One day's key, looked at once for one repository call (adapters/crypto/checkin_keys.py)."""

    def seal(self, subject_ids: Sequence[str]) -> list[str]: ...

    def find(self, subject_ids: Sequence[str]) -> list[str]: ...

    def seal_records(self, record_ids: Sequence[str]) -> list[str]: ...

    def find_records(self, record_ids: Sequence[str]) -> list[str]: ...

    def open(self, sealed: Sequence[str]) -> list[str]: ...

    def open_records(self, sealed: Sequence[str]) -> list[str | None]: ...


class DaySeal(Protocol):
    """Per-UTC-day keys (adapters/crypto/checkin_keys.py)."""

    def key(self, day: int, *, create: bool = False) -> DayKey | None:
        """The key of the day of `day` (made if `create`); None if there is none."""

    def keys(self) -> Mapping[int, DayKey]:
        """The key of each day that has one, each looked at once."""

    def seal(self, day: int, subject_ids: Sequence[str]) -> list[str]:
        """The stored form of each subject id on this day (the day's key made on first use)."""

    def open(self, day: int, sealed: Sequence[str]) -> list[str] | None:
        """The subject ids behind stored values of this day; None if the day's key is gone."""

    def pseudonyms(self, subject_id: str, first: int, last: int) -> dict[int, str]:
        """Day -> stored form of the subject, for each day in [first, last] that has a key."""

    def seal_records(self, day: int, record_ids: Sequence[str]) -> list[str]:
        """The stored form of each record id on this day (the day's key made on first use)."""

    def open_records(self, day: int, sealed: Sequence[str]) -> list[str | None] | None:
        """The record ids behind stored values of this day (None for a value that holds
        none); None if the day's key is gone."""


class LinkSeal(Protocol):
    """The subject-links key (adapters/crypto/links.py)."""

    def seal(self, subject_ids: Sequence[str]) -> list[str]: ...

    def find(self, subject_ids: Sequence[str]) -> dict[str, str]: ...

    def find_one(self, subject_id: str) -> str | None: ...

    def open(self, sealed: Sequence[str]) -> list[str] | None: ...


class VaultSeal(Protocol):
    """The vault key (adapters/crypto/vault_keys.py)."""

    def opener(self) -> Callable[[str, bytes, str | None], bytes] | None:
        """`open` with the key looked at once, for several values; None once it is gone."""

    def seal(self, field: str, value: bytes, row: str | None = None) -> bytes: ...

    def find(self, field: str, value: bytes) -> bytes | None: ...

    def open(self, field: str, sealed: bytes, row: str | None = None) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Seals:
    days: DaySeal
    links: LinkSeal
    vault: VaultSeal

    def seal_text(self, field: str, row: str, text: str) -> str:
        """Free text about people, sealed under the vault key, as hex ("" stays "")."""
        return self.vault.seal(field, text.encode(), row).hex() if text else ""

    def text_opener(self) -> Callable[[str, str, str], str]:
        """`open_text` with the vault key looked at once, for the rows of one call."""
        opened = self.vault.opener()

        def text(field: str, row: str, stored: str) -> str:
            if not stored or opened is None:  # "" stays ""; once the key is gone, nothing
                return ""
            return opened(field, bytes.fromhex(stored), row).decode()

        return text

    def open_text(self, field: str, row: str, stored: str) -> str:
        """Sealed free text read back; "" once the vault key is gone."""
        return self.text_opener()(field, row, stored) if stored else ""
