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
    Integer,
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
    Column("operator", Text, nullable=False),  # sealed under the vault key (sealing.py)
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
    # The commitment of the person an entry is about, copied out of the entry so that a resident
    # can list "everything about me" by index. Not hashed: the entry text is the record.
    Column("subject_ref", String(40)),
    Index(None, "subject_ref"),
)

# The log's queue: entries of committed state changes not yet sequenced (adapters/db/
# log_store.py). A state change writes its entry here in its own transaction, without the log's
# lock; the sequencer moves entries from here into log_entries in queue order, in a transaction
# of its own, and deletes them here. Not append-only: rows leave when they are sequenced.
log_pending = Table(
    "log_pending",
    metadata,
    Column(
        "pending_id",
        Integer().with_variant(BigInteger, "postgresql"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("appended_at", BigInteger, nullable=False),
    Column("entry", Text, nullable=False),  # the canonical entry, its seq not yet known (-1)
    Column("subject_ref", String(40)),
    Index(None, "subject_ref"),
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
# On PostgreSQL, migration 0007 partitions the table by UTC day of time_in (retention drops a
# whole day at once), and PostgreSQL wants the partition key in every unique index: there the
# key is (venue_id, checkin_id, time_in) and the upload index (venue_id, client_id, time_in).
# Duplicates are still refused: the services look client ids up before inserting, and a
# retried upload carries the same scan time. SQLite keeps the plain table described here.
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

# An exposure is a visit: its ids (own, subject, case, via, appeal) are stored sealed under the
# key of the day it started, like that day's check-ins (adapters/db/health_facts.py).
exposures = Table(
    "exposures",
    metadata,
    Column("exposure_id", String(32), primary_key=True),
    Column("subject_id", String(32), nullable=False),
    Column("case_id", String(32), nullable=False),
    Column("level", String(16), nullable=False),
    Column("venue_id", String(24), nullable=False),
    Column("start", BigInteger, nullable=False),
    Column("end", BigInteger, nullable=False),
    Column("contact_checkin_id", String(24), nullable=False),
    Column("source_checkin_id", String(24), nullable=False),
    Column("via_subject", String(32)),
    Column("found_at", BigInteger, nullable=False),
    Column("withdrawn_at", BigInteger),  # an appeal against it was granted
    Column("withdrawn_by_appeal", String(32)),
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
    Column("withdrawn_at", BigInteger),  # an appeal against it was granted
    Column("withdrawn_by_appeal", String(24)),
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
    # the active rule set (the newest activated), read by every "show my code"
    Index("ix_rulesets_active", "activated_at", "loaded_at"),
)

statuses = Table(
    "statuses",
    metadata,
    Column("subject_id", String(32), primary_key=True),  # sealed: the subject-links key
    Column("colour", String(8), nullable=False),
    Column("rule_ref", String(16), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("since", BigInteger),
    Column("until", BigInteger),
    Column("changed_at", BigInteger, nullable=False),
    Index(None, "until"),
)

# Colour work a trace queued (services/status_queue.py): the contacts whose colours are to be
# derived again because of the exposures it found, with who traced and why. Rows leave when the
# work is done; a person with a row here is never shown a stored colour (the code route derives
# first).
status_queue = Table(
    "status_queue",
    metadata,
    Column("subject_id", String(32), primary_key=True),  # sealed: the subject-links key
    Column("case_id", String(40), primary_key=True),
    Column("found_at", BigInteger, primary_key=True),  # when the trace found the exposures
    Column("actor_role", String(40), nullable=False),
    Column("actor_ref", String(80), nullable=False),
    Column("reason", String(24), nullable=False),
    Index(None, "found_at"),
)

notices = Table(
    "notices",
    metadata,
    Column("notice_id", String(24), primary_key=True),
    Column("subject_id", String(32), nullable=False),  # sealed under the day's key
    Column("kind", String(16), nullable=False),
    Column("venue_id", String(24), nullable=False),
    Column("day", BigInteger, nullable=False),
    Column("rule_ref", String(16), nullable=False),
    Column("exposure_id", String(32), nullable=False),  # sealed under the day's key
    Column("created_at", BigInteger, nullable=False),
    Index(None, "subject_id", "created_at"),
)

# Labs: organisations registered by two admins with their own public key (domain/labs.py).
labs = Table(
    "labs",
    metadata,
    Column("lab_id", String(24), primary_key=True),
    Column("code", String(40), nullable=False, unique=True),  # on every result it submits
    Column("name", String(120), nullable=False),
    Column("public_key", LargeBinary, nullable=False),  # its ES256 key: SPKI DER
    Column("kid", String(16), nullable=False),
    Column("requested_by", String(24), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("approved_by", String(24)),
    Column("approved_at", BigInteger),
    Column("revoked_by", String(24)),
    Column("revoked_at", BigInteger),
)

# Samples a lab registered before their result: the test requests results answer.
lab_samples = Table(
    "lab_samples",
    metadata,
    Column("lab", String(40), primary_key=True),
    Column("test_id", String(64), primary_key=True),
    Column("subject_id", String(32), nullable=False),
    Column("sample_time", BigInteger, nullable=False),
    Column("registered_at", BigInteger, nullable=False),
    Index(None, "sample_time"),
)

# --- Accounts and access (who may act, and for which case) ------------------------------------

staff_accounts = Table(
    "staff_accounts",
    metadata,
    Column("staff_id", String(24), primary_key=True),  # random; the log names staff by it
    Column("username", String(32), nullable=False, unique=True),
    Column("role", String(24), nullable=False),
    Column("venue_id", String(24)),  # venue staff and venue admins act for one venue
    Column("password_hash", String(200), nullable=False),  # Argon2id, PHC string
    Column("totp_secret", String(64), nullable=False),  # base32
    Column("totp_last_step", BigInteger, nullable=False),  # a code is accepted once
    Column("created_at", BigInteger, nullable=False),
    Column("disabled_at", BigInteger),
    Column("activated_at", BigInteger),  # NULL while its creation waits for a second person
)

# Requests to create, re-role or re-enable a staff account (and to disable an auditor's), with
# their decisions: the appointments separation of duties reads (domain/duties.py).
staff_changes = Table(
    "staff_changes",
    metadata,
    Column("change_id", String(24), primary_key=True),
    Column("staff_id", String(24), nullable=False),
    Column("kind", String(8), nullable=False),  # create | role | enable | disable
    Column("role", String(24), nullable=False),  # the account's role once changed
    Column("requested_by", String(24), nullable=False),  # a staff id, or "operator"
    Column("requested_role", String(24), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("state", String(10), nullable=False),  # pending | approved | refused
    Column("decided_by", String(24)),
    Column("decided_at", BigInteger),
    Index(None, "staff_id"),
    Index(None, "state"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),  # SHA-256 of the token, never the token
    Column("kind", String(16), nullable=False),  # staff | resident | applicant
    Column("ref", String(64), nullable=False),  # staff id, sealed subject id, or phone tag
    Column("role", String(24), nullable=False),
    Column("venue_id", String(24)),
    Column("created_at", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    Column("ended_at", BigInteger),
    Index(None, "kind", "ref"),
)

otp_challenges = Table(
    "otp_challenges",
    metadata,
    Column("phone_tag", String(64), primary_key=True),  # keyed hash of the phone number
    Column("code_hash", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("attempts", SmallInteger, nullable=False),
)

device_tokens = Table(
    "device_tokens",
    metadata,
    Column("device_id", String(24), primary_key=True),
    Column("venue_id", String(24), nullable=False),
    Column("label", String(40), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
    Index(None, "venue_id"),
)

case_assignments = Table(
    "case_assignments",
    metadata,
    Column("case_id", String(24), primary_key=True),
    Column("staff_id", String(24), primary_key=True),
    Column("assigned_by", String(24), nullable=False),
    Column("assigned_at", BigInteger, nullable=False),
    Index(None, "staff_id"),
)

# --- Manual orders and appeals (domain/orders.py, domain/appeals.py) --------------------------

manual_orders = Table(
    "manual_orders",
    metadata,
    Column("order_id", String(10), primary_key=True),  # "order:<id>" is the colour's rule_ref
    Column("colour", String(8), nullable=False),
    Column("legal_basis", String(32), nullable=False),  # an id of the published list
    Column("reason", Text, nullable=False),  # shown to the people named; never logged; sealed
    Column("days", SmallInteger, nullable=False),
    Column("subject_count", Integer, nullable=False),
    Column("state", String(12), nullable=False),
    Column("proposed_by", String(24), nullable=False),  # staff ids, as on the log
    Column("proposer_role", String(24), nullable=False),
    Column("proposed_at", BigInteger, nullable=False),
    Column("decided_by", String(24)),
    Column("decided_role", String(24)),
    Column("decided_at", BigInteger),
    Column("released_by", String(24)),
    Column("released_at", BigInteger),
    Column("starts_at", BigInteger),
    Column("ends_at", BigInteger),
    Column("ended_by", String(24)),
    Column("ended_at", BigInteger),
    Index(None, "proposed_by", "proposed_at"),
    Index(None, "state", "ends_at"),
)

order_subjects = Table(
    "order_subjects",
    metadata,
    Column("order_id", String(10), primary_key=True),
    Column("subject_id", String(32), primary_key=True),  # sealed: the subject-links key
    Column("state", String(12), nullable=False),  # applies | lifted | lapsed
    Column("ended_at", BigInteger),
    Column("appeal_id", String(24)),
    Index(None, "subject_id"),
)

appeals = Table(
    "appeals",
    metadata,
    Column("appeal_id", String(24), primary_key=True),
    Column("subject_id", String(32), nullable=False),  # sealed: the subject-links key
    Column("target_kind", String(16), nullable=False),  # order | exposure | health_fact
    Column("target_id", String(24), nullable=False),
    Column("reason", Text, nullable=False),  # personal data; never logged; sealed
    Column("filed_by", String(16), nullable=False),  # resident | guardian
    Column("filed_at", BigInteger, nullable=False),
    Column("deadline", BigInteger, nullable=False),
    Column("state", String(12), nullable=False),
    Column("decided_by", String(24)),
    Column("decided_at", BigInteger),
    Index(None, "subject_id", "filed_at"),
    Index(None, "state", "deadline"),
)

# --- Retention and sunset (services/retention.py) ---------------------------------------------

# One row per purge or sunset run: the /health check reads the last purge, and a sunset row
# is the marker after which no new personal data is accepted. Counts only, never data.
maintenance_runs = Table(
    "maintenance_runs",
    metadata,
    Column("run_id", String(24), primary_key=True),
    Column("kind", String(16), nullable=False),  # purge | sunset
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=False),
    Column("outcome", String(8), nullable=False),  # ok | failed
    Column("counts", Text, nullable=False),  # JSON: table -> rows deleted
    Column("error", String(64)),  # the exception's type name only
    Index(None, "kind", "finished_at"),
)
