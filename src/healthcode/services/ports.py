"""Ports: what the use cases need from the outside world, as Protocols.

Adapters implement them (adapters/db for storage, adapters/crypto for keys); tests may pass fakes.
A unit of work is one database transaction: every state change and its transparency-log entry
are written through the same unit of work and commit together, or not at all (AUD-4).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from healthcode.domain.appeals import Appeal
from healthcode.domain.audit import Actor, LogEntry
from healthcode.domain.cases import Case, LabResult
from healthcode.domain.checkins import CheckIn, CheckInBatch
from healthcode.domain.duties import Appointment, StaffChange
from healthcode.domain.facts import RecordedFact
from healthcode.domain.identity import DocumentType
from healthcode.domain.keys import KeyUse, SigningKey
from healthcode.domain.labs import Lab, LabSample
from healthcode.domain.orders import ManualOrder, OrderSubject
from healthcode.domain.tracing import Overlapping, Visit
from healthcode.domain.venues import Poster, VenueDraft, VenueType


class Clock(Protocol):
    def now(self) -> int:
        """Current UTC time in epoch seconds."""


@dataclass(frozen=True, slots=True)
class Subject:
    subject_id: str
    kind: str  # resident | dependant
    created_at: int
    erased_at: int | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """A vault record: the only place where a subject's name and documents live."""

    subject_id: str
    name: str
    doc_type: DocumentType | None
    doc_number: str | None
    phone: str | None
    commit_key: bytes
    created_at: int


@dataclass(frozen=True, slots=True)
class Venue:
    venue_id: str
    draft: VenueDraft
    created_at: int


@dataclass(frozen=True, slots=True)
class StoredTrustList:
    city: str
    version: int
    document: str
    anchor_fingerprint: str
    source: str  # ours | imported
    stored_at: int


@dataclass(frozen=True, slots=True)
class Checkpoint:
    size: int
    time: int
    root: bytes
    note: str


class SubjectRepository(Protocol):
    def add(self, subject: Subject) -> None: ...
    def get(self, subject_id: str) -> Subject | None: ...
    def add_guardianship(
        self, guardian_id: str, dependant_id: str, relation: str, now: int
    ) -> None: ...
    def dependants_of(self, guardian_id: str) -> list[tuple[str, str]]: ...
    def is_guardian_of(self, guardian_id: str, dependant_id: str) -> bool: ...


class Vault(Protocol):
    def add(self, identity: Identity) -> None: ...
    def get(self, subject_id: str) -> Identity | None: ...
    def commit_keys(self, subject_ids: list[str]) -> dict[str, bytes]:
        """Each person's commitment key (the erased have none)."""

    def find_phone(self, phone: str) -> list[str]:
        """Subjects enrolled with this phone number, oldest first."""

    def find_document(self, doc_type: DocumentType, doc_number: str) -> str | None: ...
    def erase_all(self) -> int:
        """Delete every identity and its commitment key (sunset); return how many there were."""


class VenueRepository(Protocol):
    def add(self, venue: Venue) -> None: ...
    def get(self, venue_id: str, *, with_operator: bool = False) -> Venue | None:
        """The venue; its operator's name (sealed: it may name a person) is read only when
        asked for, and is "" otherwise."""

    def types(self, venue_ids: Collection[str]) -> dict[str, VenueType]:
        """The type of each of these venues that exists (one read for many venues)."""

    def add_poster(self, poster: Poster) -> None: ...
    def get_poster(self, venue_id: str, poster_id: str) -> Poster | None: ...
    def current_poster(self, venue_id: str) -> Poster | None: ...
    def supersede_poster(self, poster: Poster) -> None: ...


class KeyRepository(Protocol):
    def add(self, key: SigningKey) -> None: ...
    def save(self, key: SigningKey) -> None: ...
    def get(self, kid: str) -> SigningKey | None: ...
    def all(self) -> list[SigningKey]: ...


class TrustListRepository(Protocol):
    def add(self, stored: StoredTrustList) -> None: ...
    def latest(self, city: str) -> StoredTrustList | None: ...
    def latest_all(self) -> list[StoredTrustList]: ...
    def latest_versions(self) -> list[tuple[str, int, str]]:
        """(city, version, anchor fingerprint) of each city's newest list, documents left out."""


class AuditLog(Protocol):
    def append(self, entry: LogEntry, now: int) -> None:
        """Queue in the current transaction (no lock); the sequencer numbers it after commit."""

    def append_many(self, entries: Iterable[LogEntry], now: int) -> None:
        """Queue in order in the current transaction (no lock); `entries` may be made as they
        are stored (a generator)."""

    def append_sequenced(self, entry: LogEntry, now: int) -> int:
        """Append with its sequence number now: the queue is sequenced first, and the log's
        lock is held until the transaction ends. For the entries whose number is an answer."""

    def append_many_sequenced(self, entries: Sequence[LogEntry], now: int) -> list[int]: ...
    def integrate(self, now: int, limit: int | None = None) -> int:
        """The sequencer's step: number and write up to `limit` queued entries (all if None)
        under the log's lock; how many."""

    def pending(self) -> tuple[int, int | None]:
        """How many entries wait in the queue, and when the oldest was appended."""

    def pending_about(self, subject_ref: str, limit: int) -> list[tuple[int, str]]:
        """Queued entries about one person, newest first: (time appended, entry text)."""

    def size(self) -> int: ...
    def entries(self, start: int, end: int) -> list[tuple[int, str, bytes]]: ...
    def about(self, subject_ref: str, limit: int) -> list[tuple[int, str]]:
        """The newest entries about one person (by commitment), newest first."""

    def first_at(self, time: int) -> int:
        """The first sequence number whose entry time is at or after `time` (the size if none)."""

    def lock(self) -> None:
        """Serialise with appends until the transaction ends."""

    def root(self, size: int) -> bytes: ...
    def inclusion_proof(self, index: int, size: int) -> list[bytes]: ...
    def consistency_proof(self, old: int, new: int) -> list[bytes]: ...
    def checkpoints(self, after: int = 0) -> list[Checkpoint]: ...
    def latest_checkpoint(self) -> Checkpoint | None: ...
    def checkpoint(self, now: int, *, force: bool = False) -> Checkpoint | None:
        """Sign and store a checkpoint if one is due (or forced and the tree grew)."""


class CheckInRepository(Protocol):
    def add(self, checkin: CheckIn) -> None: ...
    def add_all(self, made: Sequence[CheckIn]) -> None:
        """`add` for each, in one round trip to the database."""

    def add_new(self, found: Sequence[CheckIn]) -> int: ...
    def add_batch(
        self,
        batch: CheckInBatch,
        *,
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> set[str]:
        """The subject ids of the batch that are not live residents (unknown or erased),
        checked once in this transaction and held so until it ends: nobody checked live here
        can be erased before the check-ins are committed. Unless there are any, or this is a
        dry run, the check-ins are added, in the transaction, and `progress(n)` is called as
        each n of them are written."""

    def stored_client_ids(self, pairs: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (venue_id, client_id) pairs are already stored."""

    def get(self, venue_id: str, checkin_id: str) -> CheckIn | None: ...
    def set_time_out(self, checkin: CheckIn, time_out: int) -> None: ...
    def client_ids(self, venue_id: str, client_ids: list[str]) -> set[str]: ...
    def count_since(self, subject_id: str, since: int) -> int: ...
    def of_subject(self, subject_id: str, since: int) -> list[CheckIn]: ...
    def of_subject_between(self, subject_id: str, first: int, last: int) -> list[CheckIn]: ...
    def overlapping(self, ask: Overlapping) -> list[CheckIn]:
        """Visits at the venue within the bounds, only those decrypted."""

    def day_counts(self, days: Sequence[int]) -> dict[int, int]:
        """How many check-ins began on each of these UTC days (day = its first second)."""

    def day_rows(self, day: int) -> DayRows:
        """Every check-in that began on this UTC day, as stored (the subject sealed under the
        day's key): what the contact archive exports."""


@dataclass(frozen=True, slots=True)
class DayRows:
    """One day's check-ins, column by column, subjects as stored (day-key ciphertext)."""

    venue_ids: list[str]
    checkin_ids: list[str]
    sealed_subjects: list[str]
    times_in: list[int]
    ends_at: list[int]  # the time out if recorded, else the auto-close


VisitAsk = tuple[str, int, int]  # (subject or venue id, first, last): visits begun in [first, last]


class VisitReader(Protocol):
    """The two reads of a contact search, many at a time (services/trace_search.py): a
    person's visits in a span, and the visits that overlap a source visit enough (only those
    decrypted). Each answer lists the visits (a check-in's venue, id, subject, time in and
    end) in order of (time in, venue, check-in id)."""

    def of_subjects_between(self, asks: Sequence[VisitAsk]) -> list[list[Visit]]: ...
    def overlapping(self, asks: Sequence[Overlapping]) -> list[list[Visit]]: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ArchiveExport:
    days: int  # days written (new or replaced)
    rows: int
    kept: int  # days whose file was still current


class ContactArchive(Protocol):
    """Closed days of check-ins as files for outbreak-scale contact search
    (adapters/contact_archive.py: DuckDB over daily Parquet)."""

    def export(self, uow: UnitOfWork, now: int, keep_days: int) -> ArchiveExport:
        """Write each closed day of the last `keep_days` whose file is missing or out of date."""

    def reader(self, uow: UnitOfWork) -> VisitReader:
        """Reads from the files of days whose file is current, from `uow` for the others."""

    def forget_before(self, instant: int) -> int:
        """Delete the files of days that ended by `instant` (retention); how many."""

    def forget_all(self) -> int:
        """Delete every file (the sunset); how many."""


class CaseRepository(Protocol):
    def add_results(self, results: list[LabResult]) -> None: ...
    def known_tests(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]: ...
    def add_case(self, case: Case) -> None: ...
    def open_case_of(self, subject_id: str) -> Case | None: ...
    def get_case(self, case_id: str) -> Case | None: ...
    def open_cases(self) -> list[Case]: ...
    def opened_since(self, since: int) -> list[Case]: ...
    def results_of(self, subject_ids: list[str]) -> dict[str, list[LabResult]]: ...
    def cases_of(self, subject_ids: list[str]) -> dict[str, list[Case]]: ...


@dataclass(frozen=True, slots=True)
class StoredExposure:
    """An exposure found by tracing: the fact a contact's colour may rest on, with its evidence."""

    exposure_id: str
    subject_id: str
    case_id: str
    level: str  # close | secondary
    venue_id: str
    start: int
    end: int
    contact_checkin_id: str
    source_checkin_id: str
    via_subject: str | None  # for a secondary contact: the close contact they met
    found_at: int
    withdrawn_at: int | None = None  # an appeal against it was granted: no colour rests on it
    withdrawn_by_appeal: str | None = None


@dataclass(frozen=True, slots=True)
class ExposureQuery:
    """Which of cases' live exposures to read: all of them, or those of one level, one venue,
    or starting in [start_from, start_before)."""

    level: str = ""  # close | secondary | "" (both)
    venue_id: str = ""
    start_from: int | None = None
    start_before: int | None = None


EVERY_EXPOSURE = ExposureQuery()


@dataclass(frozen=True, slots=True)
class PersonExposures:
    """One person as a case's live exposures name them: the exposure that names them best
    (close before secondary, then the longest, then the earliest) and how many there are."""

    best: StoredExposure
    count: int


def best_first(e: StoredExposure) -> tuple[bool, int, int]:
    """The order of PersonExposures.best: sort by it and take the first."""
    return (e.level != "close", e.start - e.end, e.start)


class ExposureRepository(Protocol):
    def add_new(self, found: list[StoredExposure]) -> list[StoredExposure]:
        """Store the exposures not stored before (same case, person and visits); return them."""

    def of_subject(self, subject_id: str) -> list[StoredExposure]: ...
    def of_subjects(self, subject_ids: list[str]) -> dict[str, list[StoredExposure]]: ...
    def of_case(self, case_id: str) -> list[StoredExposure]: ...
    def people_of_cases(
        self, case_ids: Sequence[str], query: ExposureQuery = EVERY_EXPOSURE
    ) -> dict[str, list[PersonExposures]]:
        """Each person the cases' live exposures matching `query` name, once per case, read
        without opening every exposure (a case of 2,000 contacts has some 20,000)."""

    def venue_times(self, case_id: str) -> set[tuple[str, int]]:
        """Each venue of the case's live exposures with the quarter hours (epoch seconds, a
        multiple of 900: every time zone's offset is one) their visits started in."""

    def cases_of(self, exposure_ids: Sequence[str]) -> dict[str, str]:
        """The case of each of these exposures that is still stored (and its day key kept)."""

    def withdraw(self, exposure_id: str, appeal_id: str, now: int) -> None:
        """Mark it withdrawn by a granted appeal: kept as a record, never evidence again."""


class HealthFactRepository(Protocol):
    def add(self, fact: RecordedFact) -> None: ...
    def of_subject(self, subject_id: str) -> list[RecordedFact]: ...
    def of_subjects(self, subject_ids: list[str]) -> dict[str, list[RecordedFact]]: ...
    def withdraw(self, fact_id: str, appeal_id: str, now: int) -> None:
        """Mark it withdrawn by a granted appeal: kept as a record, never evidence again."""


@dataclass(frozen=True, slots=True)
class StoredRuleSet:
    set_id: str
    version: int
    document: str  # the published JSON, as loaded
    digest: str  # SHA-256 of the document
    loaded_at: int
    activated_at: int | None = None


class RuleSetRepository(Protocol):
    def add(self, stored: StoredRuleSet) -> None: ...
    def get(self, set_id: str, version: int) -> StoredRuleSet | None: ...
    def all(self) -> list[StoredRuleSet]: ...
    def active(self) -> StoredRuleSet | None:
        """The most recently activated rule set."""

    def activate(self, set_id: str, version: int, now: int) -> None: ...


@dataclass(frozen=True, slots=True)
class StoredStatus:
    """The colour last derived for a person, with `until`: the instant at which the derivation
    may next answer otherwise (the sweep re-derives it then; a changed fact re-derives it at
    once). Code display reads it; it is written only by re-deriving (services/status.py)."""

    subject_id: str
    colour: str
    rule_ref: str
    evidence: str  # fact ids, comma-separated
    since: int | None
    until: int | None
    changed_at: int


class CheckInStream(Protocol):
    """The ingest buffer of a cluster (adapters/ingest_stream.py): a check-in is acknowledged
    once a durable stream holds it, and consumers write it to the database."""

    def submit(self, found: Sequence[CheckIn]) -> Future[None]: ...
    def publish(self, found: Sequence[CheckIn]) -> None: ...


@dataclass(frozen=True, slots=True)
class ShownStatus:
    """What showing a code needs of a stored status: its colour, its rule, and the instant
    after which it must be derived again first."""

    colour: str
    rule_ref: str
    until: int | None
    changed_at: int = 0  # when it was derived: a copy older than the database's is behind

    def behind(self, stored: ShownStatus | None) -> bool:
        """Whether this copy is older than `stored`, what a database holds now (a replica may
        hold less than the copy: then it is not behind)."""
        if stored is None:
            return False
        if stored.changed_at != self.changed_at:
            return stored.changed_at > self.changed_at
        return (stored.colour, stored.rule_ref, stored.until) != (
            self.colour, self.rule_ref, self.until)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Viewed:
    """A status read model's answer: `status` None is "no stored status" (green under the
    active rule set)."""

    status: ShownStatus | None


class StatusView(Protocol):
    """The statuses as code display reads them in a cluster (adapters/status_view.py): written
    through by every unit of work that changes a status or queues colour work, before that
    change is acknowledged. `get` answers None whenever the database must answer instead (not
    held, a change under way, colour work queued, the view unreachable), with the generation it
    saw: a reader that then reads the database may `fill` what it read only while that
    generation stands."""

    def get(self, subject_id: str) -> tuple[Viewed | None, int]: ...
    def fill(self, subject_id: str, status: ShownStatus | None, seen: int) -> None: ...
    def drop(self, subject_id: str, seen: int) -> None: ...
    def forget_all(self) -> int: ...


@dataclass(frozen=True, slots=True)
class CodeSight:
    """Everything showing a code needs, read in one statement: the session behind the token,
    whether the person exists and is not erased, their stored status, their name (for the
    masked name), the active rule set and the generation of the city's keys (the version of
    its own trust list, which every key change publishes)."""

    session: StoredSession | None
    subject_alive: bool
    status: StoredStatus | None
    name: str | None
    ruleset: tuple[str, int] | None  # (set id, version) of the active rule set
    keys_version: int
    queued: bool = False  # colour work is queued for them: the stored status may be behind


@dataclass(frozen=True, slots=True)
class CheckInSight:
    """Everything a resident's check-in reads, in one statement: the session behind the
    token, whether the person exists and is not erased, the poster's venue and the poster, and
    how many check-ins the person has made in the last 24 hours."""

    session: StoredSession | None
    subject_alive: bool
    venue: Venue | None
    poster: Poster | None
    recent: int


@dataclass(frozen=True, slots=True)
class SightAsk:
    """What one check-in's read is about: the session (its token's hash), the person, the
    venue and poster of the place code, and the start of the daily cap's 24 hours."""

    session_id: str
    subject_id: str
    venue_id: str
    poster_id: str
    since: int


class CheckInSightReader(Protocol):
    def read_many(self, asks: Sequence[SightAsk]) -> list[CheckInSight | None]:
        """What each check-in reads, in order, in one round trip to the database; None for one
        whose 24 hours touch more keyed days than one statement counts (the caller then reads
        the usual way)."""


class CodeSightReader(Protocol):
    def read(self, session_id: str, subject_id: str, city: str) -> CodeSight: ...


class StatusRepository(Protocol):
    def hold(self, subject_ids: list[str]) -> None:
        """Make concurrent re-derivations of these people take turns until this transaction
        ends (a row lock on PostgreSQL; SQLite has one writer at a time anyway)."""

    def get(self, subject_id: str) -> StoredStatus | None: ...
    def get_many(self, subject_ids: list[str]) -> dict[str, StoredStatus]: ...
    def put(self, status: StoredStatus) -> None: ...
    def put_many(self, found: list[StoredStatus]) -> None: ...
    def expiring(self, now: int, limit: int) -> list[str]:
        """People whose stored status is due to be derived again at or before `now`."""

    def not_green(self) -> list[str]: ...
    def with_facts(self) -> list[str]:
        """Everyone with at least one health fact (a test, a case, an exposure, a record)."""

    def counts(self) -> dict[str, int]: ...


@dataclass(frozen=True, slots=True)
class QueuedColour:
    """Colour work a trace left for after its answer: derive this person's colour again (their
    new exposures from this case, found at `found_at`, are facts already), store and log it as
    done by `actor` for `reason`, and send the exposure notices."""

    subject_id: str
    case_id: str
    found_at: int
    actor: Actor
    reason: str


class StatusQueue(Protocol):
    def add(self, items: list[QueuedColour]) -> None:
        """Queue this work (work already queued stays as it is)."""

    def take(self, limit: int, subject_ids: list[str] | None = None) -> list[QueuedColour]:
        """The oldest queued work (only these people's, if given), held by this transaction:
        on PostgreSQL a concurrent taker of anyone's work skips it, and a taker of these
        people's work waits for this transaction to end; SQLite has one writer at a time."""

    def done(self, items: list[QueuedColour]) -> None:
        """Remove this work from the queue."""

    def waiting(self) -> tuple[int, int | None]:
        """How much work is queued, and when the oldest was found."""

    def has(self, subject_id: str) -> bool:
        """Is colour work queued for this person?"""


@dataclass(frozen=True, slots=True)
class Notice:
    notice_id: str
    subject_id: str
    kind: str  # exposure
    venue_id: str
    day: int  # start of the UTC day of the exposure
    rule_ref: str  # the rule the exposure falls under ("...#none" if it changes no colour)
    exposure_id: str
    created_at: int


class NoticeRepository(Protocol):
    def add(self, notices: list[Notice]) -> None: ...
    def of_subject(self, subject_id: str) -> list[Notice]: ...
    def on_days(self, subjects_by_day: Mapping[int, Collection[str]]) -> list[Notice]:
        """The notices of these people on these UTC days (day start -> subject ids)."""
        ...

    def raise_to(self, notice: Notice) -> None:
        """The notice (same id, person and day) now names a stricter rule and exposure."""
        ...

    def sent_since(self, since: int) -> list[tuple[int, str]]:
        """(when sent, exposure id) of every notice sent since then whose day key remains."""
        ...


@dataclass(frozen=True, slots=True)
class PurgedCheckIns:
    rows: int
    partitions: int  # whole-day partitions dropped (PostgreSQL; always 0 on SQLite)


class RetentionStore(Protocol):
    """Deleting personal data past its retention, and all of it at sunset (services/retention)."""

    def ensure_checkin_days(self, days: Iterable[int], *, lock_wait_ms: int | None = None) -> int:
        """PostgreSQL: a check-in partition for each of these UTC days (day starts, epoch
        seconds), waiting at most `lock_wait_ms` for any lock if given (else Unavailable);
        return how many were made. SQLite: nothing to do, 0."""

    def purge_checkins(self, before: int) -> PurgedCheckIns:
        """Delete check-ins with time_in < before (dropping whole-day partitions on PG)."""

    def purge_exposures(self, before: int) -> int:
        """Delete exposures that started before `before`."""

    def purge_health_facts(self, before: int, kinds: Sequence[str]) -> int:
        """Delete recorded facts of these kinds dated before `before`."""

    def purge_notices(self, before: int) -> int:
        """Delete notices about a day wholly before `before`, or whose exposure is gone."""

    def purge_sessions(self, before: int, idle_seconds: int, absolute_seconds: int) -> int:
        """Delete sessions that ended, went idle or ran out before `before`."""

    def erase_personal(self, now: int) -> dict[str, int]:
        """Sunset: delete every row that is about a person (the vault apart), mark every
        subject erased, blank the reasons of manual orders; rows affected per table."""

    def reclaim(self) -> None:
        """After commit: flush deleted pages out of the write-ahead log (SQLite
        `wal_checkpoint(TRUNCATE)`), so deleted data survives in no database file."""


@dataclass(frozen=True, slots=True)
class MaintenanceRun:
    run_id: str
    kind: str  # purge | sunset
    started_at: int
    finished_at: int
    outcome: str  # ok | failed
    counts: str  # JSON object: table -> rows deleted (counts only)
    error: str | None = None  # the exception's type name, never its message (no data leaks)


class MaintenanceLog(Protocol):
    def record(self, run: MaintenanceRun) -> None: ...
    def last(self, kind: str, outcome: str | None = None) -> MaintenanceRun | None: ...
    def sunset_at(self) -> int | None:
        """When the emergency ended, or None. On PostgreSQL it also holds a shared lock until
        the transaction ends, so a sunset in progress waits for this writer (and vice versa)."""

    def hold_for_sunset(self) -> None:
        """Take the exclusive side of that lock: no writer of personal data runs meanwhile."""


class UnitOfWork(Protocol):
    subjects: SubjectRepository
    vault: Vault
    venues: VenueRepository
    keys: KeyRepository
    trust_lists: TrustListRepository
    log: AuditLog
    checkins: CheckInRepository
    cases: CaseRepository
    exposures: ExposureRepository
    health_facts: HealthFactRepository
    rulesets: RuleSetRepository
    statuses: StatusRepository
    status_queue: StatusQueue
    code_sight: CodeSightReader
    checkin_sight: CheckInSightReader
    notices: NoticeRepository
    staff: StaffRepository
    staff_changes: StaffChangeRepository
    labs: LabRepository
    sessions: SessionRepository
    otp: OtpRepository
    devices: DeviceRepository
    assignments: AssignmentRepository
    orders: OrderRepository
    appeals: AppealRepository
    retention: RetentionStore
    maintenance: MaintenanceLog

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...


class PublicReads(Protocol):
    """Read-only units of work for the public reads: from a replica while it is within the
    published staleness bound, from the primary otherwise (adapters/db/replica.py)."""

    bound: float

    def lag(self) -> float: ...
    def serving(self) -> str: ...
    def failed(self) -> None: ...
    def close(self) -> None: ...
    def __call__(self, *, read_only: bool = False, one_statement: bool = False) -> UnitOfWork: ...


class UnitOfWorkFactory(Protocol):
    writers: int  # write transactions that can usefully run side by side (SQLite: 1)

    def sequence(self) -> int:
        """Sequence every entry waiting in the log's queue, now; how many."""

    def __call__(
        self, *, read_only: bool = False, one_statement: bool = False, sequence_soon: bool = False
    ) -> UnitOfWork:
        """A new transaction. `read_only=True` for reads: it cannot commit, and on SQLite it
        does not take the write lock. `one_statement=True` (with read_only) for a use case
        that reads with a single statement, which is consistent by itself: SQLite then skips
        BEGIN and ROLLBACK around it. `sequence_soon=True` for a use case that answers someone
        waiting: where the log's entries are queued (PostgreSQL), it returns after its commit,
        and the process's sequencer thread sequences them within the published bound, instead
        of before it returns."""


class RuleEngine(Protocol):
    """Evaluates a CertLogic expression over JSON data (adapters/certlogic.py)."""

    def apply(self, logic: object, data: object) -> object: ...


class KeyRing(Protocol):
    """Private-key operations. Private keys stay inside the implementation (SIG-7)."""

    def create_signing_key(self, use: KeyUse, alg: str) -> tuple[str, bytes]:
        """Generate and store a key; return (kid hex, SubjectPublicKeyInfo DER)."""

    def destroy_signing_key(self, kid: str) -> None: ...
    def sign_cose(self, kid: str, payload: bytes) -> bytes: ...
    def sign_trust_list(self, body: dict[str, object]) -> str: ...
    def anchor_public_key(self) -> bytes: ...
    def log_vkey(self) -> str: ...
    def seal_subject(self, subject_id: str) -> bytes: ...
    def open_subject(self, sealed: bytes) -> str | None: ...
    def phone_tag(self, phone: str) -> str:
        """A keyed, irreversible tag of a phone number."""

    def destroy_checkin_keys(self, before: int | None) -> int:
        """Destroy the per-day check-in keys of every UTC day that ends at or before `before`
        (None: of every day), so that no copy of those days' check-ins can be tied to a person
        again; return how many keys were destroyed."""

    def destroy_sunset_keys(self) -> dict[str, int]:
        """Sunset: destroy every key that seals personal data (the day keys, the subject-links
        key, the vault key, the phone-tag key and the key of subject references in codes), so
        that no copy of the database taken before names anyone; return how many of each."""


# --- Accounts and access ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaffAccount:
    staff_id: str
    username: str
    role: str
    venue_id: str | None
    password_hash: str
    totp_secret: str
    totp_last_step: int
    created_at: int
    disabled_at: int | None = None
    activated_at: int | None = None  # None: its creation still waits for a second person

    @property
    def is_active(self) -> bool:
        return self.activated_at is not None and self.disabled_at is None

    @property
    def state(self) -> str:
        if self.disabled_at is not None:
            return "disabled"
        return "active" if self.activated_at is not None else "pending"


@dataclass(frozen=True, slots=True)
class StoredSession:
    session_id: str  # SHA-256 of the token
    kind: str
    ref: str
    role: str
    venue_id: str | None
    created_at: int
    last_seen: int
    ended_at: int | None = None


@dataclass(frozen=True, slots=True)
class OtpChallenge:
    phone_tag: str
    code_hash: str
    created_at: int
    expires_at: int
    attempts: int


@dataclass(frozen=True, slots=True)
class DeviceToken:
    device_id: str
    venue_id: str
    label: str
    token_hash: str
    created_at: int
    revoked_at: int | None = None


class StaffRepository(Protocol):
    def add(self, account: StaffAccount) -> None: ...
    def get(self, staff_id: str) -> StaffAccount | None: ...
    def by_username(self, username: str) -> StaffAccount | None: ...
    def all(self) -> list[StaffAccount]: ...
    def set_totp_step(self, staff_id: str, step: int) -> None: ...
    def set_password(self, staff_id: str, password_hash: str) -> None: ...
    def disable(self, staff_id: str, now: int) -> None: ...
    def enable(self, staff_id: str) -> None: ...
    def activate(self, staff_id: str, now: int) -> None: ...
    def set_role(self, staff_id: str, role: str) -> None: ...


class LabRepository(Protocol):
    """Registered labs (domain/labs.py) and the samples they registered before a result."""

    def add(self, lab: Lab) -> None: ...
    def get(self, lab_id: str) -> Lab | None: ...
    def by_code(self, code: str) -> Lab | None: ...
    def all(self) -> list[Lab]: ...
    def save(self, lab: Lab) -> None:
        """Store its approval or revocation."""

    def register_samples(self, samples: list[LabSample]) -> int:
        """Store the samples not registered before; return how many were new."""

    def registered(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (lab code, test id) were registered as samples."""

    def purge_samples(self, before: int) -> int:
        """Delete samples taken before `before`."""


class StaffChangeRepository(Protocol):
    """Requests to create, re-role, re-enable (or, for auditors, disable) a staff account, and
    their decisions: the appointments that separation of duties reads (domain/duties.py)."""

    def add(self, change: StaffChange) -> None: ...
    def get(self, change_id: str) -> StaffChange | None: ...
    def decide(self, change: StaffChange) -> None:
        """Store the decision (state, decided_by, decided_at) of a pending request."""

    def pending(self) -> list[StaffChange]: ...
    def appointments(self, staff_ids: list[str]) -> dict[str, list[Appointment]]:
        """Each account's approved creations, role changes and re-enablings, oldest first."""


class SessionRepository(Protocol):
    def add(self, session: StoredSession) -> None: ...
    def get(self, session_id: str) -> StoredSession | None: ...
    def touch(self, session_id: str, now: int) -> None: ...
    def touch_many(self, seen: dict[str, int]) -> None: ...
    def end(self, session_id: str, now: int) -> None: ...
    def end_all(self, kind: str, ref: str, now: int) -> int: ...
    def promote(self, session_id: str, kind: str, ref: str, role: str) -> None:
        """An applicant's session becomes the resident's they have just enrolled as."""


class OtpRepository(Protocol):
    def put(self, challenge: OtpChallenge) -> None: ...
    def get(self, phone_tag: str) -> OtpChallenge | None: ...
    def attempt(self, phone_tag: str) -> None: ...
    def delete(self, phone_tag: str) -> None: ...
    def delete_expired(self, now: int) -> int: ...


class DeviceRepository(Protocol):
    def add(self, device: DeviceToken) -> None: ...
    def get(self, device_id: str) -> DeviceToken | None: ...
    def by_token(self, token_hash: str) -> DeviceToken | None: ...
    def of_venue(self, venue_id: str) -> list[DeviceToken]: ...
    def revoke(self, device_id: str, now: int) -> None: ...


class AssignmentRepository(Protocol):
    def add(self, case_id: str, staff_id: str, assigned_by: str, now: int) -> None: ...
    def staff_of(self, case_id: str) -> list[str]: ...
    def cases_of(self, staff_id: str) -> list[str]: ...
    def is_assigned(self, case_id: str, staff_id: str) -> bool: ...


class CodeSender(Protocol):
    """Delivers a one-time sign-in code to a phone (adapters/otp_sender.py)."""

    def send(self, phone: str, code: str, minutes: int) -> None: ...


class Credentials(Protocol):
    """Staff passwords (Argon2id) and second factors (TOTP): adapters/crypto/passwords.py."""

    def hash_password(self, password: str) -> str: ...
    def verify_password(self, stored: str | None, password: str) -> bool:
        """With `stored` None, do the same work and refuse (equal-time refusals)."""

    def new_totp_secret(self) -> str: ...
    def totp_uri(self, secret: str, username: str) -> str: ...
    def totp_step(self, secret: str, code: str, now: int) -> int | None:
        """The time step `code` is valid for (within the drift window), or None."""


# --- Manual orders and appeals ----------------------------------------------------------------


class OrderRepository(Protocol):
    def add(self, order: ManualOrder, subject_ids: Sequence[str]) -> None: ...
    def get(self, order_id: str) -> ManualOrder | None: ...
    def save(self, order: ManualOrder) -> None:
        """Store the order's state, decisions and period (its people are stored apart)."""

    def subjects_of(self, order_id: str) -> list[OrderSubject]: ...
    def subject(self, order_id: str, subject_id: str) -> OrderSubject | None: ...
    def end_for_subject(
        self, order_id: str, subject_id: str, state: str, appeal_id: str, now: int
    ) -> None:
        """The order stops applying to this person (appeal granted, or lapsed)."""

    def of_subject(self, subject_id: str) -> list[tuple[ManualOrder, OrderSubject]]: ...
    def in_force_for(self, subject_ids: list[str]) -> dict[str, list[ManualOrder]]:
        """The active orders that still apply to each person (time is checked by derive)."""

    def proposed_by_since(self, staff_id: str, since: int) -> list[tuple[int, int]]:
        """(proposed_at, number of people) of each order this officer proposed since then."""

    def proposed_since(self, since: int) -> list[tuple[int, int]]:
        """(proposed_at, number of people) of each order anybody proposed since then."""

    def started_since(self, since: int) -> list[tuple[str, int]]:
        """(proposer, number of people) of each order that took effect since then."""

    def with_states(self, states: Sequence[str]) -> list[ManualOrder]: ...
    def due_to_expire(self, now: int) -> list[ManualOrder]:
        """Active orders whose end has passed, not yet marked expired."""


class AppealRepository(Protocol):
    def add(self, appeal: Appeal) -> None: ...
    def get(self, appeal_id: str) -> Appeal | None: ...
    def of_subject(self, subject_id: str) -> list[Appeal]: ...
    def pending_about(self, subject_id: str, target_id: str) -> Appeal | None: ...
    def pending(self, limit: int) -> list[Appeal]:
        """The open queue, soonest deadline first."""

    def overdue(self, target_kind: str, now: int, limit: int) -> list[Appeal]:
        """Pending appeals of this kind whose deadline is at or before `now`."""

    def close(self, appeal_id: str, state: str, decided_by: str | None, now: int) -> None: ...
