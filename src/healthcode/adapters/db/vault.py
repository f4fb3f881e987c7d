"""The identity vault repository: the only reader and writer of vault_identities."""

from __future__ import annotations

from sqlalchemy import Connection, and_, delete, insert, select

from healthcode.adapters.db.repositories import chunks
from healthcode.adapters.db.vault_table import vault_identities
from healthcode.domain.identity import DocumentType
from healthcode.services.ports import Identity


class SqlVault:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, identity: Identity) -> None:
        self.conn.execute(
            insert(vault_identities).values(
                subject_id=identity.subject_id,
                name=identity.name,
                doc_type=identity.doc_type.value if identity.doc_type else None,
                doc_number=identity.doc_number,
                phone=identity.phone,
                commit_key=identity.commit_key,
                created_at=identity.created_at,
            )
        )

    def get(self, subject_id: str) -> Identity | None:
        row = self.conn.execute(
            select(vault_identities).where(vault_identities.c.subject_id == subject_id)
        ).first()
        if row is None:
            return None
        doc_type = DocumentType(row.doc_type) if row.doc_type else None
        return Identity(
            row.subject_id,
            row.name,
            doc_type,
            row.doc_number,
            row.phone,
            bytes(row.commit_key),
            row.created_at,
        )

    def commit_keys(self, subject_ids: list[str]) -> dict[str, bytes]:
        keys: dict[str, bytes] = {}
        table = vault_identities
        for chunk in chunks(subject_ids):
            rows = self.conn.execute(
                select(table.c.subject_id, table.c.commit_key).where(table.c.subject_id.in_(chunk))
            )
            keys.update((r.subject_id, bytes(r.commit_key)) for r in rows)
        return keys

    def find_phone(self, phone: str) -> list[str]:
        rows = self.conn.execute(
            select(vault_identities.c.subject_id)
            .where(vault_identities.c.phone == phone)
            .order_by(vault_identities.c.created_at, vault_identities.c.subject_id)
        )
        return [r.subject_id for r in rows]

    def find_document(self, doc_type: DocumentType, doc_number: str) -> str | None:
        return self.conn.execute(
            select(vault_identities.c.subject_id).where(
                and_(
                    vault_identities.c.doc_type == doc_type.value,
                    vault_identities.c.doc_number == doc_number,
                )
            )
        ).scalar_one_or_none()

    def erase_all(self) -> int:
        """Sunset: every identity and with it every commitment key, so each commitment on the
        public log points at nobody (AUD-7)."""
        return self.conn.execute(delete(vault_identities)).rowcount
