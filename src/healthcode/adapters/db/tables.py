"""Tables (SQLAlchemy Core). Times are UTC epoch seconds (BigInteger) everywhere.

Venue-scoped tables (posters, and later check-ins) carry venue_id in their primary key and no
foreign key to another table, so they can be sharded by venue on a distributed engine.
The identity vault is defined apart, in vault_table.py, and only the vault repository uses it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

subjects = Table(
    "subjects",
    metadata,
    Column("subject_id", String(32), primary_key=True),  # random pseudonym, used everywhere
    Column("kind", String(16), nullable=False),  # resident | dependant
    Column("created_at", BigInteger, nullable=False),
    Column("erased_at", BigInteger),
)

guardianships = Table(
    "guardianships",
    metadata,
    Column("guardian_id", String(32), ForeignKey("subjects.subject_id"), primary_key=True),
    Column("dependant_id", String(32), ForeignKey("subjects.subject_id"), primary_key=True),
    Column("relation", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "dependant_id"),
)

venues = Table(
    "venues",
    metadata,
    Column("venue_id", String(24), primary_key=True),
    Column("name_zh", String(80)),
    Column("name_en", String(120)),
    Column("address", String(200), nullable=False),
    Column("district", String(40), nullable=False),
    Column("venue_type", String(24), nullable=False),
    Column("operator", String(120), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

posters = Table(
    "posters",
    metadata,
    Column("venue_id", String(24), primary_key=True),
    Column("poster_id", String(24), primary_key=True),
    Column("kid", String(16), nullable=False),
    Column("payload", Text, nullable=False),  # the signed place code, reprinted as is
    Column("issued_at", BigInteger, nullable=False),
    Column("superseded_at", BigInteger),
    Column("grace_until", BigInteger),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(16), primary_key=True),
    Column("use", String(8), nullable=False),
    Column("alg", String(8), nullable=False),
    Column("public_key", LargeBinary, nullable=False),  # never the private key (SIG-7)
    Column("not_before", BigInteger, nullable=False),
    Column("not_after", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("retired_at", BigInteger),
    Column("withdrawn_at", BigInteger),
)

trust_lists = Table(
    "trust_lists",
    metadata,
    Column("city", String(16), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("document", Text, nullable=False),
    Column("anchor_fingerprint", String(64), nullable=False),
    Column("source", String(8), nullable=False),  # ours | imported
    Column("stored_at", BigInteger, nullable=False),
)

# The transparency log. Append-only: triggers (see the migration) refuse UPDATE and DELETE.
log_entries = Table(
    "log_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("time", BigInteger, nullable=False),
    Column("entry", Text, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
)

log_hashes = Table(
    "log_hashes",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

log_checkpoints = Table(
    "log_checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("time", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
)

APPEND_ONLY_TABLES = ("log_entries", "log_hashes", "log_checkpoints")

# Check-ins: venue-scoped (venue_id leads the key, no foreign keys) so they shard by venue.
# (venue_id, time_in) serves tracing's range scans; (subject_id, time_in) a resident's own list
# and the daily cap; (venue_id, client_id) makes offline uploads idempotent.
checkins = Table(
    "checkins",
    metadata,
    Column("venue_id", String(24), primary_key=True),
    Column("checkin_id", String(24), primary_key=True),
    Column("subject_id", String(32), nullable=False),
    Column("time_in", BigInteger, nullable=False),
    Column("closes_at", BigInteger, nullable=False),
    Column("time_out", BigInteger),
    Column("source", String(16), nullable=False),
    Column("client_id", String(64)),
    Index(None, "venue_id", "time_in"),
    Index(None, "subject_id", "time_in"),
    Index(None, "venue_id", "client_id", unique=True),
)

lab_results = Table(
    "lab_results",
    metadata,
    Column("lab", String(40), primary_key=True),
    Column("test_id", String(64), primary_key=True),
    Column("subject_id", String(32), nullable=False),
    Column("sample_time", BigInteger, nullable=False),
    Column("result", String(16), nullable=False),
    Column("imported_at", BigInteger, nullable=False),
    Index(None, "subject_id", "sample_time"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", String(24), primary_key=True),
    Column("subject_id", String(32), nullable=False),
    Column("index_test", String(110), nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("window_end", BigInteger, nullable=False),
    Column("opened_at", BigInteger, nullable=False),
    Column("closed_at", BigInteger),
    Index(None, "subject_id"),
)

# -- health facts, rules and derived status ------------------------------------------------------

exposures = Table(
    "exposures",
    metadata,
    Column("exposure_id", String(24), primary_key=True),
    Column("subject_id", String(32), nullable=False),
    Column("case_id", String(24), nullable=False),
    Column("level", String(16), nullable=False),
    Column("venue_id", String(24), nullable=False),
    Column("start", BigInteger, nullable=False),
    Column("end", BigInteger, nullable=False),
    Column("contact_checkin_id", String(24), nullable=False),
    Column("source_checkin_id", String(24), nullable=False),
    Column("via_subject", String(32)),
    Column("found_at", BigInteger, nullable=False),
    Index(None, "subject_id", "start"),
    Index(
        "ix_exposures_evidence",
        "case_id",
        "subject_id",
        "contact_checkin_id",
        "source_checkin_id",
        unique=True,
    ),
)

health_facts = Table(
    "health_facts",
    metadata,
    Column("fact_id", String(24), primary_key=True),
    Column("subject_id", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("detail", String(120), nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Column("recorded_by", String(24), nullable=False),
    Index(None, "subject_id", "time"),
)

rulesets = Table(
    "rulesets",
    metadata,
    Column("set_id", String(10), primary_key=True),
    Column("version", SmallInteger, primary_key=True),
    Column("document", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("loaded_at", BigInteger, nullable=False),
    Column("activated_at", BigInteger),
)

statuses = Table(
    "statuses",
    metadata,
    Column("subject_id", String(32), primary_key=True),
    Column("colour", String(8), nullable=False),
    Column("rule_ref", String(16), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("since", BigInteger),
    Column("until", BigInteger),
    Column("changed_at", BigInteger, nullable=False),
    Index(None, "until"),
)

notices = Table(
    "notices",
    metadata,
    Column("notice_id", String(24), primary_key=True),
    Column("subject_id", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("venue_id", String(24), nullable=False),
    Column("day", BigInteger, nullable=False),
    Column("rule_ref", String(16), nullable=False),
    Column("exposure_id", String(24), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "subject_id", "created_at"),
)
