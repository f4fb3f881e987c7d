"""Composition root: builds the services with real adapters from validated settings."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from importlib import resources

from sqlalchemy import Engine

from healthcode.adapters.certlogic import CertLogicEngine
from healthcode.adapters.clock import SystemClock
from healthcode.adapters.contact_archive import DuckArchive
from healthcode.adapters.crypto.keyring import KeyRing
from healthcode.adapters.crypto.keystore import KeyStore
from healthcode.adapters.crypto.passwords import StaffCredentials
from healthcode.adapters.db.engine import make_engine
from healthcode.adapters.db.log_store import CheckpointPolicy
from healthcode.adapters.db.migrate import upgrade
from healthcode.adapters.db.replica import ReplicaReads
from healthcode.adapters.db.sealing import Seals
from healthcode.adapters.db.uow import SqlUnitOfWorkFactory
from healthcode.adapters.ingest_stream import NatsCheckInStream
from healthcode.adapters.otp_sender import ConsoleSender, SmtpSender
from healthcode.adapters.status_view import RedisStatusView
from healthcode.config import Settings
from healthcode.domain.duties import DutyPolicy
from healthcode.domain.orders import parse_legal_bases
from healthcode.services import retention, status
from healthcode.services.admission import Admission
from healthcode.services.context import (
    AccessPolicy,
    AnomalyPolicy,
    CityPolicy,
    OrderPolicy,
    RetentionPolicy,
    ServiceContext,
)
from healthcode.services.keys import ensure_keys
from healthcode.services.ports import Clock, CodeSender
from healthcode.services.rules import ensure_default_ruleset

DAY = 86400


@dataclass(frozen=True)
class App:
    settings: Settings
    engine: Engine
    keyring: KeyRing
    ctx: ServiceContext

    def close(self) -> None:
        self.ctx.uow.close()  # type: ignore[attr-defined]
        self.engine.dispose()
        if self.ctx.replica is not None:
            self.ctx.replica.close()
        if isinstance(self.ctx.status_view, RedisStatusView):
            self.ctx.status_view.close()
        if isinstance(self.ctx.ingest, NatsCheckInStream):
            self.ctx.ingest.close()


def city_policy(settings: Settings) -> CityPolicy:
    return CityPolicy(
        city=settings.city,
        city_name_zh=settings.city_name_zh,
        city_name_en=settings.city_name_en,
        timezone=settings.display_timezone,
        code_algorithm=settings.code_algorithm,
        code_lifetime_seconds=settings.code_lifetime_seconds,
        max_code_lifetime_seconds=settings.max_code_lifetime_seconds,
        code_key_lifetime_seconds=settings.code_key_lifetime_days * DAY,
        place_key_lifetime_seconds=settings.place_key_lifetime_days * DAY,
        poster_grace_seconds=settings.poster_grace_seconds,
        masked_name_on_code=settings.masked_name_on_code,
        clock_skew_seconds=settings.clock_skew_seconds,
        infectious_days_before=settings.infectious_days_before,
        trace_min_overlap_seconds=settings.trace_min_overlap_seconds,
        trace_extension_seconds=settings.trace_extension_seconds,
        vaccination_facts=settings.vaccination_facts,
        rule_concentration_people=settings.rule_concentration_people,
        rule_concentration_percent=settings.rule_concentration_percent,
    )


def access_policy(settings: Settings) -> AccessPolicy:
    return AccessPolicy(
        staff_idle_seconds=settings.staff_idle_minutes * 60,
        staff_absolute_seconds=settings.staff_absolute_hours * 3600,
        resident_idle_seconds=settings.resident_idle_days * DAY,
        resident_absolute_seconds=settings.resident_absolute_days * DAY,
        otp_seconds=settings.otp_seconds,
        otp_attempts=settings.otp_attempts,
        otp_resend_seconds=settings.otp_resend_seconds,
    )


def order_policy(settings: Settings) -> OrderPolicy:
    published = resources.files("healthcode.rulesets").joinpath("legal_bases.json")
    return OrderPolicy(
        max_days=settings.order_max_days,
        freeze_threshold=settings.order_freeze_threshold,
        orders_per_officer_day=settings.order_quota_per_officer_day,
        subjects_per_officer_day=settings.order_subjects_per_officer_day,
        orders_per_city_day=settings.order_quota_per_city_day,
        subjects_per_city_day=settings.order_subjects_per_city_day,
        freeze_per_officer_day=settings.order_freeze_per_officer_day,
        freeze_per_city_day=settings.order_freeze_per_city_day,
        appeal_decision_seconds=settings.appeal_decision_hours * 3600,
        legal_bases=parse_legal_bases(json.loads(published.read_text("utf-8"))),
    )


def anomaly_policy(settings: Settings) -> AnomalyPolicy:
    return AnomalyPolicy(
        window_seconds=settings.anomaly_window_minutes * 60,
        officer_orders=settings.anomaly_officer_orders,
        officer_residents=settings.anomaly_officer_residents,
        city_orders=settings.anomaly_order_burst_orders,
        city_residents=settings.anomaly_order_burst,
        order_residents=settings.anomaly_order_size,
        cluster_min_people=settings.anomaly_cluster_min_people,
        cluster_share_percent=settings.anomaly_cluster_share_percent,
        cluster_absolute_people=settings.anomaly_cluster_absolute_people,
        rule_wave_people=settings.anomaly_rule_wave_people,
        lab_positives=settings.anomaly_lab_positives,
        lab_unrequested=settings.anomaly_lab_unrequested,
        lab_unlinked=settings.anomaly_lab_unlinked,
    )


def code_sender(settings: Settings) -> CodeSender:
    if settings.code_sender == "smtp":
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            settings.smtp_to_template,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=password,
        )
    return ConsoleSender()


def log_origin(settings: Settings) -> str:
    return f"healthcode/{settings.city}/log"


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate: bool = True,
    engine: Engine | None = None,
) -> App:
    """Wire everything. `migrate` applies the schema; keys are created by `initialise`."""
    engine = engine or make_engine(settings.sqlalchemy_url)
    keyring = KeyRing(
        KeyStore(
            settings.keys_dir,
            settings.key_passphrase.get_secret_value(),
            settings.key_store_scrypt_log2_n,
        ),
        log_origin(settings),
    )
    seals = Seals(keyring.checkin_keys, keyring.links, keyring.vault_keys)
    if migrate:
        upgrade(engine, seals)  # 0008 and 0011 seal the personal data already stored
    policy = CheckpointPolicy(settings.checkpoint_every_entries, settings.checkpoint_every_seconds)
    clock = clock or SystemClock()
    uow = SqlUnitOfWorkFactory(engine, keyring.sign_checkpoint, policy, seals, clock)
    uow.sequence_after_commit = settings.log_sequence_after_commit
    ctx = ServiceContext(
        uow,
        clock,
        keyring,
        city_policy(settings),
        CertLogicEngine(),
        StaffCredentials(
            f"healthcode {settings.city}",
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
        ),
        code_sender(settings),
        access_policy(settings),
        order_policy(settings),
        RetentionPolicy(days=settings.retention_days),
        anomalies=anomaly_policy(settings),
        duties=DutyPolicy(
            cooling_off_seconds=settings.staff_cooling_off_hours * 3600,
            independence_seconds=settings.staff_independence_days * DAY,
        ),
        archive=DuckArchive(settings.archive_dir, keyring.checkin_keys)
        if settings.contact_archive
        else None,
    )
    if settings.replica_url:  # public reads from the replica, within the staleness bound
        replica_engine = make_engine(settings.replica_url, connect_args={"connect_timeout": 2})
        replica = SqlUnitOfWorkFactory(
            replica_engine, keyring.sign_checkpoint, policy, seals, clock
        )
        ctx = replace(ctx, replica=ReplicaReads(replica, uow, settings.replica_max_lag_seconds))
    if settings.redis_url:  # code display reads statuses from Redis, written through
        view = RedisStatusView(
            settings.redis_url,
            settings.city,
            lambda: keyring.shared_secret("status-view"),
            replicas=settings.redis_replica_urls.split(",") if settings.redis_replica_urls else (),
        )
        uow.view = view
        ctx = replace(ctx, status_view=view, primary_reads=Admission(settings.primary_code_reads))
    if settings.ingest_nats_urls:  # check-ins through the ingest buffer
        stream = NatsCheckInStream(
            settings.ingest_nats_urls.split(","),
            settings.city,
            seals.days,
            replicas=settings.ingest_replicas,
            max_age_seconds=settings.retention_days * DAY,
            clock=clock.now,
        )
        ctx = replace(ctx, ingest=stream)
    return App(settings, engine, keyring, ctx)


def initialise(app: App) -> list[str]:
    """Create the key store and the keys, publish the first trust list, load and activate the
    shipped default rule set if no rule set is active yet, and make the coming days' check-in
    partitions (PostgreSQL); derive every stored status again once, in a database from before
    statuses carried their review instant. Idempotent."""
    app.keyring.ensure()
    created = ensure_keys(app.ctx)
    ensure_default_ruleset(app.ctx, default_ruleset_text())
    retention.prepare(app.ctx)
    status.rebuild(app.ctx)
    return created


def default_ruleset_text() -> str:
    return resources.files("healthcode.rulesets").joinpath("default.json").read_text("utf-8")
