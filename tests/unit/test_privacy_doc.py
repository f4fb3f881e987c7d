"""docs/PRIVACY.md lists every stored column, and only real ones (PRIV-1)."""

from __future__ import annotations

import re
from pathlib import Path

import healthcode.adapters.db.vault_table  # noqa: F401 - registers the vault on the metadata
from healthcode.adapters.db.tables import metadata

PRIVACY = Path(__file__).resolve().parents[2] / "docs" / "PRIVACY.md"
ROW = re.compile(r"^\|\s*([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\s*\|", re.MULTILINE)
HEADER = ("table", "column")


def _documented() -> set[str]:
    rows = ROW.findall(PRIVACY.read_text("utf-8"))
    return {f"{table}.{column}" for table, column in rows if (table, column) != HEADER}


def _schema() -> set[str]:
    return {f"{t.name}.{c.name}" for t in metadata.tables.values() for c in t.columns}


def test_vault_is_registered() -> None:
    assert "vault_identities" in metadata.tables


def test_every_column_is_documented() -> None:
    missing = _schema() - _documented()
    assert not missing, f"columns missing from docs/PRIVACY.md: {sorted(missing)}"


def test_every_documented_column_exists() -> None:
    unknown = _documented() - _schema()
    assert not unknown, f"docs/PRIVACY.md names columns not in the schema: {sorted(unknown)}"


def test_rows_have_all_fields() -> None:
    text = PRIVACY.read_text("utf-8")
    for line in text.splitlines():
        if ROW.match(line):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            assert len(cells) == 6, f"row needs 6 cells: {line}"
            assert all(cells), f"row has an empty cell: {line}"
