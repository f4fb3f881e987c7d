"""The identity vault: the only table that holds who a subject is.

Kept apart from everything else: no other table references it, only adapters/db/vault.py reads
it (an import-linter contract), and every other table knows a subject by its pseudonym alone.
`commit_key` keys the subject's commitments on the transparency log; erasing it unlinks them.
Name, ID number, phone number and commitment key are stored only sealed under the vault key
(adapters/db/vault.py), which sunset destroys.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary, String, Table, UniqueConstraint

from healthcode.adapters.db.tables import metadata

vault_identities = Table(
    "vault_identities",
    metadata,
    Column("subject_id", String(32), primary_key=True),
    Column("name", LargeBinary, nullable=False),  # sealed (AES-SIV), as the three below
    Column("doc_type", String(32)),
    Column("doc_number", LargeBinary),  # sealed for its document type: found by equality
    Column("phone", LargeBinary),  # sealed: found by equality
    Column("commit_key", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("doc_type", "doc_number"),
    Index(None, "phone"),  # signing in by one-time code finds the resident by phone
)
