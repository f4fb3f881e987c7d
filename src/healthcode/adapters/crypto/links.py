"""The subject-links key: who a long-lived row is about, outside the check-ins and their day.

Statuses, the people a manual order names, appeals and residents' sessions are not tied to one
day of visits: they live as long as the emergency does. They store their subject as AES-256 of
the subject id under one key, `subject-links` (permutation.py), made by the first such row.
Sunset destroys it (with the identity vault's key and every day key), so a copy of these tables
taken at any time before the sunset (a backup, a replica, a stolen disk) names nobody after it.
Within the emergency the value is the same for one person in all these tables, as the subject
id was: it is a pseudonym of the pseudonym, and it joins to nothing that names the person once
the vault's key is gone.
"""

from __future__ import annotations

from collections.abc import Sequence

from healthcode.adapters.crypto.keystore import KeyStore
from healthcode.adapters.crypto.permutation import SUBJECT, Permutations, pack_subject

NAME = "subject-links"


class SubjectLinks:
    def __init__(self, store: KeyStore, permutations: Permutations | None = None) -> None:
        self.permutations = permutations or Permutations(store)

    def seal(self, subject_ids: Sequence[str]) -> list[str]:
        """The stored form of each subject id (the key made on first use). Raises ValueError
        for anything but a subject id (32 lowercase hex digits)."""
        if not subject_ids:
            return []
        blocks = b"".join(pack_subject(s) for s in subject_ids)
        cipher = self.permutations.get(NAME, create=True)
        assert cipher is not None  # noqa: S101 - made above
        return cipher.seal(blocks)

    def find(self, subject_ids: Sequence[str]) -> dict[str, str]:
        """Subject id -> its stored form, to look rows up by; ids that are not subject ids, and
        every id while there is no key (then no row is about anyone), are left out. Never makes
        the key."""
        valid = sorted({s for s in subject_ids if SUBJECT.match(s)})
        cipher = self.permutations.get(NAME, create=False)
        if cipher is None or not valid:
            return {}
        return dict(zip(valid, cipher.seal(b"".join(map(pack_subject, valid))), strict=True))

    def find_one(self, subject_id: str) -> str | None:
        """The stored form of one subject id, or None (no key, or not a subject id)."""
        return self.find([subject_id]).get(subject_id)

    def open(self, sealed: Sequence[str]) -> list[str] | None:
        """The subject ids behind stored values, or None once the key is destroyed."""
        cipher = self.permutations.get(NAME, create=False)
        if cipher is None:
            return None
        if not sealed:
            return []
        return [block.hex() for block in cipher.open_blocks(sealed)]

    def destroy(self) -> int:
        """Destroy the key (sunset): 1 if there was one, else 0."""
        return int(self.permutations.destroy(NAME))
