"""Settings: typed, documented where they are defined, validated at start.

This is the only module that reads the environment (variables prefixed HEALTHCODE_, or a .env
file). In the `production` profile the app refuses to start with a missing or placeholder secret;
the `dev` profile substitutes a development secret and warns loudly.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_PASSPHRASE = "dev-only-passphrase-never-use-in-production"  # noqa: S105 - dev profile only
# No setting may keep check-ins and exposures longer than this (RET-1): a city can shorten
# retention, but lengthening it past four weeks is a code change, reviewed in public.
RETENTION_MAX_DAYS = 28
PLACEHOLDERS = {
    "",
    "changeme",
    "change-me",
    "changethis",
    "secret",
    "password",
    "placeholder",
    "example",
    "todo",
    "xxx",
    "test",
}


class InsecureSettings(ValueError):
    """A secret is missing or is a placeholder outside the dev profile."""


class SettingsWarning(UserWarning):
    """Something about the settings the operator should see (a development secret in use).
    Its own category, so whoever shows settings warnings shows these and nothing else."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEALTHCODE_", env_file=".env", extra="ignore")

    profile: Literal["production", "dev"] = Field(
        "production",
        description="`dev` allows development secrets (with a warning); never deploy it.",
    )
    data_dir: Path = Field(Path("var"), description="Key store and the embedded SQLite database.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL. Unset: SQLite at <data_dir>/healthcode.db (WAL mode). "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db",
    )
    contact_archive: bool = Field(
        False,
        description="Keep closed days of check-ins as Parquet files in <data_dir>/archive "
        "(subjects sealed as in the database, deleted with the day) and search batches of "
        "cases there with DuckDB: for outbreaks of thousands of cases.",
    )
    replica_url: str | None = Field(
        None,
        description="A PostgreSQL streaming replica of the database, for the public reads "
        "(checkpoints, proofs, the transparency report, trust lists) while it is within "
        "replica_max_lag_seconds of the primary; unset: the primary answers them.",
    )
    replica_max_lag_seconds: float = Field(
        2.0,
        ge=0.1,
        le=60,
        description="The published staleness bound of public reads served by the replica.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis for what every process of a cluster shares: the rate limits, and "
        "the status read model that code display reads (written through by every change of a "
        "status), e.g. redis://127.0.0.1:6379/0. Unset: each process keeps its limits in "
        "memory and reads statuses from the database (one process, the embedded default).",
    )
    redis_replica_urls: str | None = Field(
        None,
        description="Replicas of redis_url (run with replica-serve-stale-data no), "
        "comma-separated: code display reads statuses from them, and a status change waits "
        "until every one of them holds its mark (a replica that does not answer refuses "
        "changes until it is back or removed from this list). Unset: reads from redis_url.",
    )
    primary_code_reads: int = Field(
        16,
        ge=1,
        le=1024,
        description="With the status read model (a cluster): code displays that may read the "
        "primary at once in this process (a miss in the read model, Redis or the replica not "
        "answering); one more is answered 503 with Retry-After rather than queued, so that an "
        "overload is shed here and not passed on to the primary.",
    )
    ingest_nats_urls: str | None = Field(
        None,
        description="The cluster's ingest buffer: NATS servers with JetStream, comma-separated "
        "(nats://127.0.0.1:4222,...). Set: a resident's check-in is acknowledged once the "
        "stream holds it, and `healthcode ingest` consumers write it to the database. Unset: "
        "check-ins are written by the API process itself (the embedded default).",
    )
    ingest_replicas: int = Field(
        3,
        ge=1,
        le=5,
        description="Servers that hold each message of the ingest stream (acknowledged once a "
        "majority has it).",
    )
    key_passphrase: SecretStr = Field(
        SecretStr(""),
        description="Encrypts every private key at rest (scrypt + AES-256-GCM). "
        "At least 16 characters; not a placeholder.",
    )

    city: str = Field(
        "CN-DEMO",
        pattern=r"^[A-Z]{2}-[A-Z0-9]{1,8}$",
        description="Issuer id of this city on codes and trust lists (ISO 3166-2 style).",
    )
    city_name_zh: str = Field("示范市", description="City name in Chinese, on the trust list.")
    city_name_en: str = Field("Demo City", description="City name in English, on the trust list.")
    authority_name_zh: str = Field(
        "示范市卫生健康委员会", description="The health authority, in Chinese: on posters."
    )
    authority_name_en: str = Field(
        "Demo City Health Commission", description="The health authority, in English: on posters."
    )
    public_url: str | None = Field(
        None,
        description="The city's public web address (https://host[/path]): the link a poster's QR "
        "code opens. Unset: the address the poster was asked for at (the web app), or "
        "http://127.0.0.1:<port> (the command line).",
    )
    display_timezone: str = Field(
        "Asia/Shanghai",
        description="IANA time zone in which the web app shows times (storage is always UTC).",
    )

    code_algorithm: Literal["ES256", "PS256"] = Field(
        "ES256", description="Signature algorithm of new code-signing keys."
    )
    code_lifetime_seconds: int = Field(
        300,
        ge=30,
        description="How long a health code is valid: short, so a screenshot soon stops "
        "working. Never beyond max_code_lifetime_seconds or the signing key's validity.",
    )
    max_code_lifetime_seconds: int = Field(
        3600, ge=60, le=86400, description="Upper bound on any code's lifetime (SIG-3)."
    )
    code_key_lifetime_days: int = Field(
        90, ge=1, le=730, description="Validity of a new code-signing key (then rotate)."
    )
    place_key_lifetime_days: int = Field(
        1095, ge=30, le=3650, description="Validity of a place-code key: posters live as long."
    )
    poster_grace_seconds: int = Field(
        72 * 3600,
        ge=0,
        le=30 * 86400,
        description="After a poster is rotated, the old one still works this long (to reprint).",
    )
    masked_name_on_code: bool = Field(
        True, description="Put a masked name (张*) on codes so guards can match code and person."
    )
    infectious_days_before: int = Field(
        2,
        ge=0,
        le=14,
        description="A case's infectious window starts this many days before the "
        "sample (or symptom onset) and runs until isolation.",
    )
    trace_min_overlap_seconds: int = Field(
        900, ge=1, le=86400, description="Shared presence at a venue that makes a close contact."
    )
    trace_extension_seconds: int = Field(
        1800,
        ge=0,
        le=86400,
        description="Airborne spread: a case's visit counts as lasting "
        "this much longer after they left.",
    )
    rate_checkins_per_minute: int = Field(
        20,
        ge=1,
        le=100_000,
        description="Check-ins and symptom reports one resident may send per minute (a burst of "
        "as many, then refilled evenly); more get 429 with Retry-After.",
    )
    rate_device_per_minute: int = Field(
        600,
        ge=1,
        le=1_000_000,
        description="Scans and uploads one venue's devices may send per minute; more get 429.",
    )
    rate_logins_per_minute: int = Field(
        10,
        ge=1,
        le=10_000,
        description="Sign-in attempts per username or phone number per minute; more get 429.",
    )
    rate_codes_per_minute: int = Field(
        3, ge=1, le=1000, description="One-time codes asked for one phone number per minute."
    )
    rate_verify_per_minute: int = Field(
        120, ge=1, le=1_000_000, description="Code verifications per client address per minute."
    )
    vaccination_facts: bool = Field(
        False,
        description="Record vaccinations as health facts that colour rules may read "
        "(off unless the city decides to use them).",
    )
    retention_days: int = Field(
        14,
        ge=1,
        le=RETENTION_MAX_DAYS,
        description="Check-ins, exposures and exposure notices older than this many days are "
        "purged (every hour in the server, or `healthcode retention purge`); at most "
        "RETENTION_MAX_DAYS (28), fixed in code.",
    )
    clock_skew_seconds: int = Field(300, ge=0, le=3600, description="Tolerated clock difference.")

    checkpoint_every_entries: int = Field(
        64, ge=1, description="A signed checkpoint at least every N log entries ..."
    )
    checkpoint_every_seconds: int = Field(
        60, ge=1, description="... or every T seconds while entries are waiting."
    )
    log_sequence_after_commit: bool = Field(
        True,
        description="PostgreSQL: a state change's log entries are sequenced right after it "
        "commits (else only by the sequencer job, every second; for the crash drill).",
    )

    staff_idle_minutes: int = Field(
        15, ge=1, le=24 * 60, description="A staff session ends after this long without use ..."
    )
    staff_absolute_hours: int = Field(
        8, ge=1, le=24, description="... and this long after sign-in, used or not."
    )
    resident_idle_days: int = Field(
        7, ge=1, le=30, description="A resident's session ends after this long without use ..."
    )
    resident_absolute_days: int = Field(
        30, ge=1, le=90, description="... and this long after sign-in, used or not."
    )
    otp_seconds: int = Field(
        300, ge=60, le=900, description="How long a one-time sign-in code works."
    )
    otp_attempts: int = Field(
        5, ge=1, le=10, description="Wrong guesses allowed per one-time code before it is void."
    )
    otp_resend_seconds: int = Field(
        60, ge=10, le=600, description="A new one-time code for the same phone at most this often."
    )
    key_store_scrypt_log2_n: int = Field(
        15,
        ge=10,
        le=22,
        description="scrypt cost (N = 2^n, r = 8, p = 1) of the passphrase that encrypts the "
        "key store, for a store created with it (each store records its own).",
    )
    argon2_memory_kib: int = Field(
        65536,
        ge=8,
        le=4 * 1024 * 1024,
        description="Argon2id memory per password hash (RFC 9106 low-memory profile: 64 MiB).",
    )
    argon2_time_cost: int = Field(3, ge=1, le=20, description="Argon2id passes.")
    code_sender: Literal["console", "smtp"] = Field(
        "console",
        description="How one-time sign-in codes reach phones: `console` prints them "
        "(dev profile only), `smtp` mails an SMS gateway.",
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server of the SMS gateway.")
    smtp_port: int = Field(587, ge=1, le=65535, description="Its port.")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str | None = Field(None, description="SMTP user name, if it needs one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password, if it needs one.")
    smtp_from: str = Field("healthcode@localhost", description="Sender address.")
    smtp_to_template: str = Field(
        "{phone}@sms.invalid",
        description="Gateway address for a number; `{phone}` becomes the E.164 number.",
    )

    order_max_days: int = Field(
        14, ge=1, le=60, description="The longest a manual health order may last, in days."
    )
    order_freeze_threshold: int = Field(
        50,
        ge=1,
        le=100_000,
        description="An approved manual order naming more residents than this is frozen, with "
        "no effect on any colour, until an auditor releases it.",
    )
    order_quota_per_officer_day: int = Field(
        10, ge=1, le=1000, description="Manual orders one officer may propose in 24 hours ..."
    )
    order_subjects_per_officer_day: int = Field(
        100, ge=1, le=100_000, description="... and the residents they may name in them."
    )
    order_quota_per_city_day: int = Field(
        100,
        ge=1,
        le=100_000,
        description="Manual orders all officers together may propose in 24 hours: splitting a "
        "mass order over many (puppet) accounts meets this limit ...",
    )
    order_subjects_per_city_day: int = Field(
        1000, ge=1, le=1_000_000, description="... and the residents named in them."
    )
    order_freeze_per_officer_day: int = Field(
        50,
        ge=1,
        le=100_000,
        description="An approval is frozen for an auditor when the proposer's orders that took "
        "effect in the last 24 hours would then name more residents than this ...",
    )
    order_freeze_per_city_day: int = Field(
        200,
        ge=1,
        le=1_000_000,
        description="... or all orders that took effect city-wide in the last 24 hours would.",
    )
    rule_concentration_people: int = Field(
        10,
        ge=1,
        le=1_000_000,
        description="A rule set whose activation would turn at least this many people yellow "
        "or red ...",
    )
    rule_concentration_percent: int = Field(
        50,
        ge=1,
        le=100,
        description="... this share of them on one venue, one district or one hour, looks "
        "written against an event, not the epidemic: an auditor must approve its activation.",
    )
    rate_enrolments_per_hour: int = Field(
        5,
        ge=1,
        le=10_000,
        description="An applicant's enrolments per phone and per ID document, per hour ...",
    )
    rate_enrolments_per_address_hour: int = Field(
        30, ge=1, le=100_000, description="... and per client address, per hour."
    )
    staff_cooling_off_hours: int = Field(
        72,
        ge=0,
        le=30 * 24,
        description="A new, re-roled or re-enabled staff account approves nothing (orders, rule "
        "activations, releases, labs, staff changes) for this long (AUTHZ-7).",
    )
    staff_independence_days: int = Field(
        30,
        ge=0,
        le=365,
        description="Two accounts appointed at the request of the same admin within this many "
        "days are not independent of each other: one may not approve what the other asks.",
    )
    appeal_decision_hours: int = Field(
        48,
        ge=1,
        le=30 * 24,
        description="An appeal is decided within this many hours; a contested manual order "
        "not upheld by then lapses for that resident.",
    )

    # The anomaly watch (domain/anomalies.py, services/anomalies.py; docs/SECURITY.md).
    anomaly_window_minutes: int = Field(
        60, ge=1, le=7 * 24 * 60, description="The anomaly watch's sliding window, in minutes."
    )
    anomaly_officer_orders: int = Field(
        3,
        ge=1,
        le=10_000,
        description="order_burst: one officer's orders (proposed, or "
        "approved) in a window above this are flagged ...",
    )
    anomaly_officer_residents: int = Field(
        50, ge=1, le=1_000_000, description="... as are more residents named in them."
    )
    anomaly_order_burst_orders: int = Field(
        10,
        ge=1,
        le=100_000,
        description="order_burst: city-wide orders (proposed, or approved) "
        "in a window above this are flagged ...",
    )
    anomaly_order_burst: int = Field(
        100, ge=1, le=10_000_000, description="... as are more residents named in them."
    )
    anomaly_order_size: int = Field(
        50,
        ge=1,
        le=100_000,
        description="order_burst: one order naming more residents than "
        "this is flagged (frozen or not).",
    )
    anomaly_cluster_min_people: int = Field(
        20,
        ge=1,
        le=10_000_000,
        description="non_health_cluster: at least this many yellow or "
        "red changes resting on manual orders, on one officer, minute or district, ...",
    )
    anomaly_cluster_share_percent: int = Field(
        50,
        ge=1,
        le=100,
        description="... making up at least this share of all yellow and red "
        "changes in the window, are flagged ...",
    )
    anomaly_cluster_absolute_people: int = Field(
        100,
        ge=1,
        le=10_000_000,
        description="... and so are this many, whatever their share (a wave of rule-based "
        "changes must not hide mass orders timed inside it).",
    )
    anomaly_rule_wave_people: int = Field(
        500,
        ge=1,
        le=100_000_000,
        description="rule_cluster: a rule activation turning more people than this yellow or "
        "red at once is flagged (as is every activation an auditor let through concentrated).",
    )
    anomaly_lab_positives: int = Field(
        200, ge=1, le=10_000_000,
        description="lab_surge: one lab's positives in the window, above this, ...",
    )  # fmt: skip
    anomaly_lab_unrequested: int = Field(
        20, ge=0, le=10_000_000,
        description="... or its positives answering no sample it registered, above this, ...",
    )  # fmt: skip
    anomaly_lab_unlinked: int = Field(
        100, ge=0, le=10_000_000,
        description="... or its positives for people with no exposure and no symptoms in the "
        "14 days before, above this, are flagged.",
    )  # fmt: skip

    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the API listens on.")

    @field_validator("smtp_to_template")
    @classmethod
    def _gateway(cls, value: str) -> str:
        if "{phone}" not in value or "@" not in value:
            raise ValueError("the gateway address needs {phone} and an @domain")
        return value

    @field_validator("display_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("ingest_nats_urls")
    @classmethod
    def _nats(cls, value: str | None) -> str | None:
        if not value:
            return None
        urls = [u.strip() for u in value.split(",") if u.strip()]
        if not urls or not all(u.startswith(("nats://", "tls://")) for u in urls):
            raise ValueError("expected nats:// or tls:// URLs, comma-separated")
        return ",".join(urls)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("expected http(s)://host[/path]")
        if parts.query or parts.fragment:
            raise ValueError("expected no query or fragment")
        return value.strip().rstrip("/")

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("redis_replica_urls")
    @classmethod
    def _redis_replicas(cls, value: str | None) -> str | None:
        if not value:
            return None
        urls = [u.strip() for u in value.split(",") if u.strip()]
        if not urls or not all(u.startswith(("redis://", "rediss://", "unix://")) for u in urls):
            raise ValueError("expected redis://, rediss:// or unix:// URLs, comma-separated")
        return ",".join(urls)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _secrets(self) -> Settings:
        for name, dev_value in (("key_passphrase", DEV_PASSPHRASE),):
            secret = getattr(self, name).get_secret_value()
            if secret.strip().lower() not in PLACEHOLDERS and len(secret) >= 16:
                continue
            if self.profile != "dev":
                raise InsecureSettings(
                    f"HEALTHCODE_{name.upper()} is missing or a placeholder (needs ≥ 16 "
                    "characters). Set a real secret, or choose HEALTHCODE_PROFILE=dev for "
                    "development only."
                )
            warnings.warn(
                f"dev profile: using a development {name}; never deploy this",
                SettingsWarning,
                stacklevel=2,
            )
            setattr(self, name, SecretStr(dev_value))
        if self.code_lifetime_seconds > self.max_code_lifetime_seconds:
            raise ValueError("code_lifetime_seconds exceeds max_code_lifetime_seconds")
        if self.redis_replica_urls and not self.redis_url:
            raise ValueError("redis_replica_urls are replicas of redis_url, which is not set")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'healthcode.db'}"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "archive"
