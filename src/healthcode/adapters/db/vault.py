"""The identity vault repository: the only reader and writer of vault_identities.

Every value that says who a subject is (name, ID number, phone number) and the commitment key
that links them to the log are stored only sealed under the vault key (adapters/db/sealing.py,
adapters/crypto/vault_keys.py); ID numbers and phone numbers are found by equality on their
sealed form. Once sunset has destroyed the key, no row (in this database or a copy of it)
opens, and the vault reads as empty.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, and_, delete, insert, select

from healthcode.adapters.db.repositories import each_in
from healthcode.adapters.db.sealing import VaultSeal
from healthcode.adapters.db.vault_table import vault_identities
from healthcode.domain.identity import DocumentType
from healthcode.services.ports import Identity

NAME, PHONE, COMMIT_KEY = "name", "phone", "commit_key"


def _doc(doc_type: DocumentType | str) -> str:
    return "doc/" + (doc_type.value if isinstance(doc_type, DocumentType) else doc_type)


class SqlVault:
    def __init__(self, conn: Connection, seal: VaultSeal) -> None:
        self.conn = conn
        self.seal = seal

    def add(self, identity: Identity) -> None:
        seal, subject = self.seal.seal, identity.subject_id
        doc = identity.doc_type
        self.conn.execute(
            insert(vault_identities).values(
                subject_id=subject,
                name=seal(NAME, identity.name.encode(), subject),
                doc_type=doc.value if doc else None,
                doc_number=seal(_doc(doc), identity.doc_number.encode())
                if doc and identity.doc_number
                else None,
                phone=seal(PHONE, identity.phone.encode()) if identity.phone else None,
                commit_key=seal(COMMIT_KEY, identity.commit_key, subject),
                created_at=identity.created_at,
            )
        )

    def _identity(self, row: Row[Any]) -> Identity | None:
        subject, opened = row.subject_id, self.seal.opener()
        if opened is None:  # the key is gone (sunset): nobody
            return None
        name = opened(NAME, bytes(row.name), subject)
        key = opened(COMMIT_KEY, bytes(row.commit_key), subject)
        doc_type = DocumentType(row.doc_type) if row.doc_type else None
        number = phone = None
        if doc_type is not None and row.doc_number is not None:
            number = opened(_doc(doc_type), bytes(row.doc_number), None)
        if row.phone is not None:
            phone = opened(PHONE, bytes(row.phone), None)
        return Identity(
            subject,
            name.decode(),
            doc_type,
            number.decode() if number is not None else None,
            phone.decode() if phone is not None else None,
            key,
            row.created_at,
        )

    @staticmethod
    def name_query(subject_id: Any) -> Any:
        """The sealed name of a person (an id or a bound parameter) as a scalar subquery, for
        a read that gathers several things in one statement (adapters/db/code_sight.py);
        `open_name` opens it."""
        return (
            select(vault_identities.c.name)
            .where(vault_identities.c.subject_id == subject_id)
            .scalar_subquery()
        )

    def open_name(self, subject_id: str, sealed: bytes | None) -> str | None:
        opened = self.seal.opener() if sealed is not None else None
        if opened is None:  # no identity, or the key is gone (sunset)
            return None
        return opened(NAME, bytes(sealed), subject_id).decode()

    def get(self, subject_id: str) -> Identity | None:
        row = self.conn.execute(
            select(vault_identities).where(vault_identities.c.subject_id == subject_id)
        ).first()
        return self._identity(row) if row is not None else None

    def commit_keys(self, subject_ids: list[str]) -> dict[str, bytes]:
        keys: dict[str, bytes] = {}
        table = vault_identities
        for where in each_in(self.conn, table.c.subject_id, subject_ids):
            rows = self.conn.execute(select(table.c.subject_id, table.c.commit_key).where(where))
            opened = self.seal.opener()
            if opened is None:
                return {}
            for r in rows:
                keys[r.subject_id] = opened(COMMIT_KEY, bytes(r.commit_key), r.subject_id)
        return keys

    def find_phone(self, phone: str) -> list[str]:
        sealed = self.seal.find(PHONE, phone.encode())
        if sealed is None:
            return []
        rows = self.conn.execute(
            select(vault_identities.c.subject_id)
            .where(vault_identities.c.phone == sealed)
            .order_by(vault_identities.c.created_at, vault_identities.c.subject_id)
        )
        return [r.subject_id for r in rows]

    def find_document(self, doc_type: DocumentType, doc_number: str) -> str | None:
        sealed = self.seal.find(_doc(doc_type), doc_number.encode())
        if sealed is None:
            return None
        return self.conn.execute(
            select(vault_identities.c.subject_id).where(
                and_(
                    vault_identities.c.doc_type == doc_type.value,
                    vault_identities.c.doc_number == sealed,
                )
            )
        ).scalar_one_or_none()

    def erase_all(self) -> int:
        """Sunset: every identity and with it every commitment key, so each commitment on the
        public log points at nobody (AUD-7)."""
        return self.conn.execute(delete(vault_identities)).rowcount
