"""Nothing outlives its key: the vault encrypted, and who a row is about sealed everywhere

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 09:00:00.000000

Until now only check-ins stored their subject encrypted (0008). From this revision on
(adapters/db/sealing.py):
- the identity vault stores name, ID number, phone number and commitment key as AES-256-SIV
  ciphertexts under the `vault` key (the columns become binary);
- exposures and exposure notices store their subject, case, contact and record ids under the
  key of the day of the visit, like the check-ins of that day (the id columns widen to 32);
- statuses, the people of manual orders, appeals and residents' sessions store their subject
  under the `subject-links` key;
- the reason of a manual order or an appeal and a venue operator's name are sealed under the
  vault key (the columns become text).
This revision seals the rows already there with the keys of the key store, which
adapters/db/migrate.py hands over when `healthcode init` or the server applies the schema;
without it (bare `alembic upgrade`) it refuses unless those tables are empty. Downgrading opens
them again; rows whose key was already destroyed can be tied to nobody and are deleted.
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy import Connection, text

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = 86400
VAULT_TEXT = ("name", "doc_number", "phone")
WIDENED = {
    "exposures": ("exposure_id", "case_id", "withdrawn_by_appeal"),
    "notices": ("exposure_id",),
}
TEXTS = (  # table, its sealed text column, its width before, its key, the sealed field
    ("manual_orders", "reason", 500, "order_id", "order_reason"),
    ("appeals", "reason", 1000, "appeal_id", "appeal_reason"),
    ("venues", "operator", 120, "venue_id", "venue_operator"),
)
PERSONAL = (
    "SELECT count(*) FROM vault_identities",
    "SELECT count(*) FROM exposures",
    "SELECT count(*) FROM notices",
    "SELECT count(*) FROM statuses",
    "SELECT count(*) FROM order_subjects",
    "SELECT count(*) FROM appeals",
    "SELECT count(*) FROM sessions WHERE kind = 'resident'",
    "SELECT count(*) FROM manual_orders WHERE reason != ''",
    "SELECT count(*) FROM venues WHERE operator != ''",
)


def _seals(conn: Connection) -> Any:
    seals = context.config.attributes.get("seals")
    if seals is None and any(conn.execute(text(q)).scalar_one() for q in PERSONAL):
        raise RuntimeError(
            "revision 0011 seals the stored personal data with the keys of the key store and "
            "needs them: apply it with `healthcode init` (or by starting the server), not "
            "alembic alone"
        )
    return seals


def _str(value: Any) -> str:
    return bytes(value).decode() if isinstance(value, bytes | memoryview) else str(value)


def _day(instant: int) -> int:
    return instant - instant % DAY


def upgrade() -> None:
    conn = op.get_bind()
    seals = _seals(conn)
    with op.batch_alter_table("vault_identities") as batch:
        for column in VAULT_TEXT:
            batch.alter_column(
                column,
                type_=sa.LargeBinary(),
                existing_type=sa.String(),
                postgresql_using=f"convert_to({column}, 'UTF8')",
            )
        batch.alter_column("commit_key", type_=sa.LargeBinary(), existing_type=sa.LargeBinary(32))
    for table, columns in WIDENED.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.String(32), existing_type=sa.String(24))
    for table, column, width, _, _ in TEXTS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.Text(), existing_type=sa.String(width))
    if seals is not None:
        _vault(conn, seals, seal=True)
        _day_rows(conn, seals, seal=True)
        _links(conn, seals, seal=True)
        _texts(conn, seals, seal=True)


def downgrade() -> None:
    conn = op.get_bind()
    seals = _seals(conn)
    if seals is not None:
        _vault(conn, seals, seal=False)
        _day_rows(conn, seals, seal=False)
        _links(conn, seals, seal=False)
        _texts(conn, seals, seal=False)
    for table, column, width, _, _ in TEXTS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(width), existing_type=sa.Text())
    for table, columns in WIDENED.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.String(24), existing_type=sa.String(32))
    widths = {"name": 64, "doc_number": 32, "phone": 20}
    with op.batch_alter_table("vault_identities") as batch:
        for column in VAULT_TEXT:
            batch.alter_column(
                column,
                type_=sa.String(widths[column]),
                existing_type=sa.LargeBinary(),
                postgresql_using=f"convert_from({column}, 'UTF8')",
            )
        batch.alter_column("commit_key", type_=sa.LargeBinary(32), existing_type=sa.LargeBinary())


def _vault(conn: Connection, seals: Any, *, seal: bool) -> None:
    vault = seals.vault
    rows = conn.execute(
        text(
            "SELECT subject_id, name, doc_type, doc_number, phone, commit_key FROM vault_identities"
        )
    ).all()
    for r in rows:
        doc_field = f"doc/{r.doc_type}"
        if seal:
            values: dict[str, Any] = {
                "name": vault.seal("name", _str(r.name).encode(), r.subject_id),
                "doc_number": None if r.doc_number is None
                else vault.seal(doc_field, _str(r.doc_number).encode()),
                "phone": None if r.phone is None else vault.seal("phone", _str(r.phone).encode()),
                "commit_key": vault.seal("commit_key", bytes(r.commit_key), r.subject_id),
            }  # fmt: skip
        else:
            name = vault.open("name", bytes(r.name), r.subject_id)
            if name is None:  # the vault key is gone: nobody to restore
                conn.execute(
                    text("DELETE FROM vault_identities WHERE subject_id = :s"), {"s": r.subject_id}
                )
                continue
            number = None if r.doc_number is None else vault.open(doc_field, bytes(r.doc_number))
            phone = None if r.phone is None else vault.open("phone", bytes(r.phone))
            values = {
                "name": name,  # bytes: the type change after makes them text again
                "doc_number": number,
                "phone": phone,
                "commit_key": vault.open("commit_key", bytes(r.commit_key), r.subject_id),
            }
        conn.execute(
            text(
                "UPDATE vault_identities SET name = :name, doc_number = :doc_number, "
                "phone = :phone, commit_key = :commit_key WHERE subject_id = :subject_id"
            ),
            {**values, "subject_id": r.subject_id},
        )


def _day_rows(conn: Connection, seals: Any, *, seal: bool) -> None:
    """Exposures: subject, via and record ids under the key of the day the exposure started."""
    days = seals.days
    exposures = conn.execute(
        text("SELECT exposure_id, subject_id, case_id, via_subject, withdrawn_by_appeal, start "
             "FROM exposures")
    ).all()  # fmt: skip
    for r in exposures:
        day = _day(r.start)
        records = [r.exposure_id, r.case_id] + (
            [r.withdrawn_by_appeal] if r.withdrawn_by_appeal else []
        )
        subjects = [r.subject_id] + ([r.via_subject] if r.via_subject else [])
        if seal:
            ids: list[Any] = days.seal_records(day, records)
            people: list[Any] | None = days.seal(day, subjects)
        else:
            opened = days.open_records(day, records)
            ids = opened if opened is not None else []
            people = days.open(day, subjects)
        if people is None or None in ids:  # the day's key is gone: tied to nobody
            conn.execute(text("DELETE FROM exposures WHERE exposure_id = :e"), {"e": r.exposure_id})
            continue
        conn.execute(
            text(
                "UPDATE exposures SET exposure_id = :exposure_id, subject_id = :subject_id, "
                "case_id = :case_id, via_subject = :via, withdrawn_by_appeal = :appeal "
                "WHERE exposure_id = :old"
            ),
            {
                "exposure_id": ids[0],
                "case_id": ids[1],
                "appeal": ids[2] if r.withdrawn_by_appeal else None,
                "subject_id": people[0],
                "via": people[1] if r.via_subject else None,
                "old": r.exposure_id,
            },
        )
    notices = conn.execute(
        text("SELECT notice_id, subject_id, exposure_id, day FROM notices")
    ).all()
    for r in notices:
        day = _day(r.day)
        if seal:
            people, ids = days.seal(day, [r.subject_id]), days.seal_records(day, [r.exposure_id])
        else:
            people, opened = days.open(day, [r.subject_id]), days.open_records(day, [r.exposure_id])
            ids = opened if opened is not None else [None]
        if people is None or None in ids:
            conn.execute(text("DELETE FROM notices WHERE notice_id = :n"), {"n": r.notice_id})
            continue
        conn.execute(
            text("UPDATE notices SET subject_id = :s, exposure_id = :e WHERE notice_id = :n"),
            {"s": people[0], "e": ids[0], "n": r.notice_id},
        )


def _links(conn: Connection, seals: Any, *, seal: bool) -> None:
    """Statuses, order subjects, appeals, residents' sessions: the subject-links key."""
    change: Callable[[list[str]], list[str] | None] = seals.links.seal if seal else seals.links.open
    places = (  # table, the sealed column, the row's key (the key's columns, by index)
        ("statuses", "subject_id", ("subject_id",), ""),
        ("order_subjects", "subject_id", ("order_id", "subject_id"), ""),
        ("appeals", "subject_id", ("appeal_id",), ""),
        ("sessions", "ref", ("session_id",), " WHERE kind = 'resident'"),
    )
    for table, column, key, where in places:
        names = ", ".join(f"{k} AS k{i}" for i, k in enumerate(key))
        rows = conn.execute(text(f"SELECT {names}, {column} AS v FROM {table}{where}")).all()  # noqa: S608 - names above
        if not rows:
            continue
        changed = change([r.v for r in rows])
        if changed is None:  # the key is gone: these rows are nobody's
            conn.execute(text(f"DELETE FROM {table}{where}"))  # noqa: S608
            continue
        match = " AND ".join(f"{k} = :k{i}" for i, k in enumerate(key))
        conn.execute(
            text(f"UPDATE {table} SET {column} = :v WHERE {match}"),  # noqa: S608
            [{**{f"k{i}": r[i] for i in range(len(key))}, "v": v}
             for r, v in zip(rows, changed, strict=True)],
        )  # fmt: skip


def _texts(conn: Connection, seals: Any, *, seal: bool) -> None:
    for table, column, _, key, field in TEXTS:
        rows = conn.execute(text(f"SELECT {key} AS k, {column} AS v FROM {table}")).all()  # noqa: S608
        params = [
            {
                "k": r.k,
                "v": seals.seal_text(field, r.k, r.v) if seal else seals.open_text(field, r.k, r.v),
            }
            for r in rows
            if r.v
        ]
        if params:
            conn.execute(text(f"UPDATE {table} SET {column} = :v WHERE {key} = :k"), params)  # noqa: S608
