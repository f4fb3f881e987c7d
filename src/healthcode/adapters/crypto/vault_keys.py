"""The identity vault's key: who a subject is, and what people wrote, sealed until the sunset.

The vault (adapters/db/vault.py) stores a person's name, ID number, phone number and commitment
key only as AES-256-SIV ciphertexts (RFC 5297) under the key `vault` of the key store (64 random
bytes, made at `healthcode init`). Free text that speaks about people (the reason of a manual
order, an appeal's reason, a venue operator's name) is sealed the same way. Sunset destroys the
key, so a copy of the database taken at any time before it (a backup, a replica, a stolen disk)
names nobody after it, even to whoever holds the key store then.

Why SIV: it is deterministic for equal inputs and equal associated data, so the ID number and
the phone number are their own blind index (enrolment finds an ID number, sign-in a phone, by
equality on the sealed value, and the unique constraint on ID numbers still holds) while they
can be read back with the key; it authenticates, so a value moved to another row or field does
not open. The associated data binds each value to its field, and the name, the commitment key
and free text also to their row, so equal names of two people look unrelated. ID numbers and
phone numbers are bound to their field only (that is what makes them findable): within the
emergency two people with one phone share a sealed value, as they shared the clear one.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from healthcode.adapters.crypto.keystore import KeyStore, KeyStoreError
from healthcode.adapters.crypto.permutation import KeyCache

NAME = "vault"
KEY_BYTES = 64  # AES-256-SIV: two 256-bit keys
_DOMAIN = b"healthcode/vault/1"


class VaultKeys:
    def __init__(self, store: KeyStore) -> None:
        self.keys = KeyCache(store, AESSIV, KEY_BYTES)  # AESSIV keeps no state between calls

    def ensure(self) -> None:
        """Make the key if there is none (at `healthcode init` and start-up)."""
        self.keys.get(NAME, create=True)

    @staticmethod
    def _data(field: str, row: str | None) -> list[bytes]:
        data = [_DOMAIN, field.encode()]
        if row is not None:
            data.append(row.encode())
        return data

    def seal(self, field: str, value: bytes, row: str | None = None) -> bytes:
        """`value` sealed for `field` (and `row`, when given); the key made on first use."""
        siv = self.keys.get(NAME, create=True)
        assert siv is not None  # noqa: S101 - made above
        return siv.encrypt(value, self._data(field, row))

    def find(self, field: str, value: bytes) -> bytes | None:
        """The sealed form of `value` for a field bound to no row, to look it up by; None
        while there is no key (then nothing is stored under it)."""
        siv = self.keys.get(NAME, create=False)
        return None if siv is None else siv.encrypt(value, self._data(field, None))

    def opener(self) -> Callable[[str, bytes, str | None], bytes] | None:
        """`open` bound to the key as it is now (one look at its file for several values),
        or None once it is destroyed. The opener raises KeyStoreError for a value that was not
        sealed there (a row copied elsewhere)."""
        siv = self.keys.get(NAME, create=False)
        if siv is None:
            return None

        def opened(field: str, sealed: bytes, row: str | None = None) -> bytes:
            try:
                return siv.decrypt(sealed, self._data(field, row))
            except InvalidTag:
                raise KeyStoreError(f"a sealed {field} does not open: moved or damaged") from None

        return opened

    def open(self, field: str, sealed: bytes, row: str | None = None) -> bytes | None:
        """The value sealed for `field` (and `row`), or None once the key is destroyed."""
        opened = self.opener()
        return None if opened is None else opened(field, sealed, row)

    def destroy(self) -> int:
        """Destroy the key (sunset): 1 if there was one, else 0."""
        return int(self.keys.destroy(NAME))
