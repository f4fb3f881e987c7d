"""Ports: what the use cases need from the outside world, as Protocols.

Adapters implement them (adapters/db for storage, adapters/crypto for keys); tests may pass fakes.
A unit of work is one database transaction: every state change and its transparency-log entry
are written through the same unit of work and commit together, or not at all (AUD-4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from healthcode.domain.audit import LogEntry
from healthcode.domain.cases import Case, LabResult
from healthcode.domain.checkins import CheckIn
from healthcode.domain.facts import RecordedFact
from healthcode.domain.identity import DocumentType
from healthcode.domain.keys import KeyUse, SigningKey
from healthcode.domain.venues import Poster, VenueDraft


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

    def find_document(self, doc_type: DocumentType, doc_number: str) -> str | None: ...


class VenueRepository(Protocol):
    def add(self, venue: Venue) -> None: ...
    def get(self, venue_id: str) -> Venue | None: ...
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
    def append(self, entry: LogEntry, now: int) -> int:
        """Append in the current transaction; return the entry's sequence number."""

    def append_many(self, entries: Sequence[LogEntry], now: int) -> list[int]:
        """Append in order in the current transaction; return the sequence numbers."""

    def size(self) -> int: ...
    def entries(self, start: int, end: int) -> list[tuple[int, str, bytes]]: ...
    def root(self, size: int) -> bytes: ...
    def inclusion_proof(self, index: int, size: int) -> list[bytes]: ...
    def consistency_proof(self, old: int, new: int) -> list[bytes]: ...
    def checkpoints(self, after: int = 0) -> list[Checkpoint]: ...
    def latest_checkpoint(self) -> Checkpoint | None: ...
    def checkpoint(self, now: int, *, force: bool = False) -> Checkpoint | None:
        """Sign and store a checkpoint if one is due (or forced and the tree grew)."""


class CheckInRepository(Protocol):
    def add(self, checkin: CheckIn) -> None: ...
    def add_many(self, checkins: list[CheckIn], *, dry_run: bool = False) -> set[str]: ...
    def get(self, venue_id: str, checkin_id: str) -> CheckIn | None: ...
    def set_time_out(self, checkin: CheckIn, time_out: int) -> None: ...
    def client_ids(self, venue_id: str, client_ids: list[str]) -> set[str]: ...
    def count_since(self, subject_id: str, since: int) -> int: ...
    def of_subject(self, subject_id: str, since: int) -> list[CheckIn]: ...
    def at_venue_between(self, venue_id: str, first: int, last: int) -> list[CheckIn]: ...
    def of_subject_between(self, subject_id: str, first: int, last: int) -> list[CheckIn]: ...


class CaseRepository(Protocol):
    def add_results(self, results: list[LabResult]) -> None: ...
    def known_tests(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]: ...
    def add_case(self, case: Case) -> None: ...
    def open_case_of(self, subject_id: str) -> Case | None: ...
    def get_case(self, case_id: str) -> Case | None: ...
    def open_cases(self) -> list[Case]: ...
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


class ExposureRepository(Protocol):
    def add_new(self, found: list[StoredExposure]) -> list[StoredExposure]:
        """Store the exposures not stored before (same case, person and visits); return them."""

    def of_subject(self, subject_id: str) -> list[StoredExposure]: ...
    def of_subjects(self, subject_ids: list[str]) -> dict[str, list[StoredExposure]]: ...
    def of_case(self, case_id: str) -> list[StoredExposure]: ...


class HealthFactRepository(Protocol):
    def add(self, fact: RecordedFact) -> None: ...
    def of_subject(self, subject_id: str) -> list[RecordedFact]: ...
    def of_subjects(self, subject_ids: list[str]) -> dict[str, list[RecordedFact]]: ...


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
    """The last colour derived for a person, kept to notice changes and expiries. It is never
    the source of a colour: every code and every answer derives the colour afresh."""

    subject_id: str
    colour: str
    rule_ref: str
    evidence: str  # fact ids, comma-separated
    since: int | None
    until: int | None
    changed_at: int


class StatusRepository(Protocol):
    def get(self, subject_id: str) -> StoredStatus | None: ...
    def get_many(self, subject_ids: list[str]) -> dict[str, StoredStatus]: ...
    def put(self, status: StoredStatus) -> None: ...
    def put_many(self, found: list[StoredStatus]) -> None: ...
    def expiring(self, now: int, limit: int) -> list[str]:
        """People whose stored colour ends at or before `now`."""

    def not_green(self) -> list[str]: ...
    def with_facts(self) -> list[str]:
        """Everyone with at least one health fact (a test, a case, an exposure, a record)."""

    def counts(self) -> dict[str, int]: ...


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
    notices: NoticeRepository

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A new transaction. `read_only=True` for reads: it cannot commit, and on SQLite it
        does not take the write lock."""


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
