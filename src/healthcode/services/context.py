"""What every use case is given: storage, time, keys and the city's policy (built in bootstrap)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from healthcode.domain.anomalies import Thresholds
from healthcode.domain.duties import DutyPolicy
from healthcode.domain.orders import LegalBasis
from healthcode.services.admission import Admission
from healthcode.services.ports import (
    CheckInStream,
    Clock,
    CodeSender,
    ContactArchive,
    Credentials,
    KeyRing,
    PublicReads,
    RuleEngine,
    StatusView,
    UnitOfWorkFactory,
)


@dataclass(frozen=True, slots=True)
class CityPolicy:
    city: str
    city_name_zh: str
    city_name_en: str
    code_algorithm: str
    code_lifetime_seconds: int
    max_code_lifetime_seconds: int
    code_key_lifetime_seconds: int
    place_key_lifetime_seconds: int
    poster_grace_seconds: int
    masked_name_on_code: bool
    clock_skew_seconds: int
    infectious_days_before: int = 2
    trace_min_overlap_seconds: int = 900
    trace_extension_seconds: int = 1800
    vaccination_facts: bool = False
    timezone: str = "UTC"  # the city's calendar: its days in the report and on every page
    rule_concentration_people: int = 10  # a rule set's new colours on one venue, district or
    rule_concentration_percent: int = 50  # ... hour (this many, this share) need an auditor


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    staff_idle_seconds: int = 15 * 60
    staff_absolute_seconds: int = 8 * 3600
    resident_idle_seconds: int = 7 * 86400
    resident_absolute_seconds: int = 30 * 86400
    otp_seconds: int = 300
    otp_attempts: int = 5
    otp_resend_seconds: int = 60


@dataclass(frozen=True, slots=True)
class OrderPolicy:
    """Manual health orders and appeals (domain/orders.py, domain/appeals.py)."""

    max_days: int = 14
    freeze_threshold: int = 50  # more residents than this: frozen until an auditor releases it
    orders_per_officer_day: int = 10  # proposals per officer in any 24 hours ...
    subjects_per_officer_day: int = 100  # ... and residents named in them
    orders_per_city_day: int = 100  # proposals by all officers in any 24 hours ...
    subjects_per_city_day: int = 1000  # ... and residents named in them
    freeze_per_officer_day: int = 50  # residents in one proposer's orders in force in 24 h ...
    freeze_per_city_day: int = 200  # ... and city-wide, above which approvals freeze
    appeal_decision_seconds: int = 48 * 3600
    legal_bases: tuple[LegalBasis, ...] = ()  # the published list; none: no order is possible


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long personal data lives (services/retention.py)."""

    days: int = 14  # check-ins, exposures, notices; at most config.RETENTION_MAX_DAYS
    partition_days_ahead: int = 2  # PostgreSQL: daily check-in partitions made ahead of time


# The anomaly watch's sliding window and thresholds, with their defaults (domain/anomalies.py;
# settings `anomaly_*` in config.py).
AnomalyPolicy = Thresholds


T = TypeVar("T")


class Remembered:
    """What one process keeps in memory between requests, each thing with the generation it
    was read at: a number that the request reads anyway, in its own transaction, and that
    changes whenever the thing does (for the signing keys: the version of the city's trust
    list, which every key change publishes). A changed generation reloads the thing, so
    memory is never older than the database the request sees, in any process."""

    def __init__(self) -> None:
        self._things: dict[str, tuple[object, Any]] = {}
        self._lock = threading.Lock()

    def get(self, name: str, generation: object, load: Callable[[], T]) -> T:
        held = self._things.get(name)
        if held is not None and held[0] == generation:
            value: T = held[1]
            return value
        fresh = load()
        with self._lock:
            self._things[name] = (generation, fresh)
        return fresh


class Touches:
    """Sessions seen since their `last_seen` was last written, written together at most once
    a second (services/auth.py: flush_touches) instead of one write per request. Until then a
    session's `last_seen` is the later of the stored one and the one held here: idle timeouts
    of minutes or days do not notice the second."""

    EVERY = 1.0  # seconds between two writes of the held touches

    def __init__(self) -> None:
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()
        self._written = time.monotonic()

    def last_seen(self, session_id: str, stored: int) -> int:
        return max(stored, self._held.get(session_id, stored))

    def hold(self, session_id: str, now: int) -> None:
        with self._lock:
            self._held[session_id] = max(now, self._held.get(session_id, now))

    def take_due(self) -> dict[str, int]:
        """The held touches, if it is time to write them (and they are then no longer held)."""
        if not self._held or time.monotonic() - self._written < self.EVERY:
            return {}
        with self._lock:
            taken, self._held = self._held, {}
            self._written = time.monotonic()
        return taken


@dataclass(frozen=True, slots=True)
class ServiceContext:
    uow: UnitOfWorkFactory
    clock: Clock
    keys: KeyRing
    policy: CityPolicy
    rules: RuleEngine
    credentials: Credentials
    sender: CodeSender
    access: AccessPolicy
    orders: OrderPolicy = OrderPolicy()
    retention: RetentionPolicy = RetentionPolicy()
    anomalies: AnomalyPolicy = field(default_factory=AnomalyPolicy)
    duties: DutyPolicy = field(default_factory=DutyPolicy)
    memory: Remembered = field(default_factory=Remembered)
    touches: Touches = field(default_factory=Touches)
    # Closed days of check-ins as files for batch tracing (off in the embedded default).
    archive: ContactArchive | None = None
    # Where public reads may come from: a replica within its staleness bound (the cluster).
    replica: PublicReads | None = None
    # The statuses as code display reads them, in Redis, written through (the cluster).
    status_view: StatusView | None = None
    # Check-ins acknowledged once a durable stream holds them (the cluster's ingest buffer).
    ingest: CheckInStream | None = None
    # How many code displays at once may read the primary (the cluster: admission.py).
    primary_reads: Admission | None = None
