"""Request and response bodies. Responses carry only the fields their audience may see."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RowErrorOut(BaseModel):
    line: int
    field: str
    message: str


class ErrorDetail(BaseModel):
    code: str
    field: str | None
    message: str
    rows: list[RowErrorOut] | None = None  # every bad row of a refused import


class ErrorOut(BaseModel):
    """Every error: a stable code, the field at fault (if any) and a sentence for people."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "The request body cannot be parsed"},
    404: {"model": ErrorOut, "description": "No such object"},
    409: {"model": ErrorOut, "description": "Conflicts with stored state"},
    422: {"model": ErrorOut, "description": "Bad input: the field and the reason"},
    503: {"model": ErrorOut, "description": "A key or the database is unavailable (fail closed)"},
}
LIMITED_RESPONSES: dict[int | str, dict[str, object]] = {
    429: {"model": ErrorOut, "description": "Too many requests: wait Retry-After seconds"},
}
AUTH_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "Not signed in, or the session has ended"},
    403: {"model": ErrorOut, "description": "This role may not do this"},
}


class LogAboutOut(BaseModel):
    """One log entry about the resident: who (role and pseudonym), what, why, when, outcome.
    `seq` is null and `pending` true for an entry still in the log's queue (it is sequenced
    within a second)."""

    seq: int | None
    pending: bool = False
    time: int
    action: str
    actor_role: str
    actor: str
    purpose: str
    basis: str
    outcome: str
    details: dict[str, str | int]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnrolResidentIn(Strict):
    name: str = Field(max_length=200)
    doc_type: str = Field(max_length=40, examples=["prc_id"])
    doc_number: str = Field(max_length=40)
    phone: str = Field(max_length=40, examples=["13812345678"])


class AddDependantIn(Strict):
    name: str = Field(max_length=200)
    relation: str = Field(max_length=16, examples=["child"])
    doc_type: str | None = Field(None, max_length=40)
    doc_number: str | None = Field(None, max_length=40)


class EnrolledOut(BaseModel):
    subject_id: str
    commitment: str


class DependantOut(BaseModel):
    subject_id: str
    relation: str


class PurgeOut(BaseModel):
    status: str
    last_run_at: int | None
    last_ok_at: int | None
    error: str | None


class LogQueueOut(BaseModel):
    """Entries committed but not yet sequenced into the log (published bound: `bound_seconds`
    between a commit and its entry's place in the log)."""

    pending: int
    oldest_seconds: int
    bound_seconds: int


class ColourQueueOut(BaseModel):
    """Contacts a trace found whose colours are not derived again yet (published bound:
    `bound_seconds` between a trace's answer and its colour work; a contact asking for their
    code meanwhile has their colour derived first)."""

    pending: int
    oldest_seconds: int
    bound_seconds: int


class PublicReadsOut(BaseModel):
    """Where the public reads come from (a cluster with a replica): `replica` while it holds
    everything the primary had committed `bound_seconds` ago, else `primary`."""

    serving: str
    replica_lag_seconds: float | None
    bound_seconds: float


class HealthOut(BaseModel):
    status: str
    city: str
    log_size: int
    log_queue: LogQueueOut
    colour_queue: ColourQueueOut
    jobs_leader: bool = False  # this process runs the city's background work now (one does)
    purge: PurgeOut
    public_reads: PublicReadsOut | None = None  # only when the city has a replica


class CodeOut(BaseModel):
    """A fresh health code. The app draws it as a QR code (error correction M, alphanumeric
    mode; ES256 codes fit version 10): drawing is the client's work, not the server's."""

    code: str
    colour: str
    issued_at: int
    expires_at: int
    rule_ref: str


class RegisterVenueIn(Strict):
    name_zh: str | None = Field(None, max_length=200)
    name_en: str | None = Field(None, max_length=200)
    address: str = Field(max_length=400)
    district: str = Field(max_length=100)
    venue_type: str = Field(max_length=40, examples=["restaurant"])
    operator: str = Field(max_length=200)


class VenueOut(BaseModel):
    venue_id: str
    name_zh: str | None
    name_en: str | None
    address: str
    district: str
    venue_type: str
    poster_id: str
    place_code: str


class PlaceCodeIn(Strict):
    place_code: str = Field(max_length=2048)


class PlaceCheckOut(BaseModel):
    ok: bool
    problem: str | None
    detail: str | None
    venue_id: str | None
    venue_name: str | None = Field(description="In Chinese where the venue has a Chinese name")
    venue_name_en: str | None = Field(None, description="In English where it has one")
    district: str | None = None


class VerifyIn(Strict):
    code: str = Field(max_length=4096)


class GuardVerdictOut(BaseModel):
    """Minimum disclosure (AUTHZ-4): a guard sees this and nothing else."""

    decision: str
    reason: str
    message: str
    valid_until: int | None
    masked_name: str | None


class TrustImportIn(Strict):
    document: str = Field(max_length=1_000_000)
    fingerprint: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


class TrustListDocument(BaseModel):
    city: str
    version: int
    anchor_fingerprint: str
    document: str  # the signed list, as published


class TrustListSummary(BaseModel):
    city: str
    version: int
    source: str
    anchor_fingerprint: str


class KeyOut(BaseModel):
    kid: str
    use: str
    alg: str
    state: str
    not_before: int
    not_after: int


class WithdrawIn(Strict):
    reason: str = Field(pattern=r"^[a-z0-9_]{3,40}$", examples=["key_compromise"])


class CheckpointOut(BaseModel):
    size: int
    time: int
    root: str
    note: str


class CheckpointsOut(BaseModel):
    vkey: str
    checkpoints: list[str]


class EntryOut(BaseModel):
    seq: int
    entry: str
    leaf_hash: str


class ProofOut(BaseModel):
    proof: list[str]
    root: str


class CheckInIn(Strict):
    place_code: str = Field(max_length=2048)
    dependants: list[str] = Field(default_factory=list, max_length=10)


class CheckInOut(BaseModel):
    venue_id: str
    checkin_id: str
    subject_id: str
    time_in: int
    time_out: int | None
    closes_at: int
    source: str


class ScanOut(GuardVerdictOut):
    """The guard's answer, plus whether a check-in was recorded (nothing about the person)."""

    recorded: bool


class UploadItemIn(Strict):
    client_id: str = Field(max_length=64)
    code: str = Field(max_length=4096)
    scanned_at: int = Field(ge=0, le=2**40)


class UploadIn(Strict):
    items: list[UploadItemIn] = Field(max_length=1000)


class RejectedOut(BaseModel):
    client_id: str
    reason: str


class UploadOut(BaseModel):
    accepted: list[str]
    duplicates: list[str]
    rejected: list[RejectedOut]


class LabRowIn(Strict):
    test_id: str = Field(max_length=64)
    doc_type: str = Field(max_length=40)
    doc_number: str = Field(max_length=40)
    sample_time: str = Field(max_length=40, examples=["2026-11-20T08:30:00+08:00"])
    result: str = Field(
        max_length=16,
        examples=["positive"],
        description="positive, negative, inconclusive, "
        "or registered (a sample received: the test request a later result answers)",
    )
    lab: str = Field("", max_length=64, description="the lab's code, if given: its own only")


class LabImportIn(Strict):
    rows: list[LabRowIn] = Field(min_length=1, max_length=10_000)


class LabImportOut(BaseModel):
    imported: int
    duplicates: int
    registered: int = Field(description="samples registered, their results still to come")
    positives: int
    cases_opened: list[str]


class LabIn(Strict):
    code: str = Field(max_length=40, examples=["GZLAB1"], description="on every result it sends")
    name: str = Field(max_length=120, examples=["广州市第一检测中心"])
    public_key: str = Field(
        max_length=1000, description="base64 of the lab's own ES256 public key (SPKI, DER)"
    )


class LabOut(BaseModel):
    lab_id: str
    code: str
    name: str
    public_key: str = Field(description="base64 SubjectPublicKeyInfo (DER)")
    kid: str
    state: str = Field(description="pending (waits for a second admin), active or revoked")
    requested_by: str
    requested_at: int
    approved_by: str | None
    approved_at: int | None
    revoked_at: int | None


class CaseOut(BaseModel):
    case_id: str
    window_start: int
    window_end: int
    opened_at: int


class ExposureOut(BaseModel):
    """Evidence: where and when the contact overlapped the source visit, and for how long."""

    venue_id: str
    start: int
    end: int
    seconds: int
    contact_checkin: str
    source_checkin: str


class ContactOut(BaseModel):
    subject_id: str
    via: str | None
    exposures: list[ExposureOut]


class TraceOut(BaseModel):
    case_id: str
    close: list[ContactOut]
    secondary: list[ContactOut]
    colours_queued: int = Field(
        description="contacts whose colours are derived again right after this answer"
    )


class OutbreakIn(Strict):
    case_ids: list[str] | None = Field(None, max_length=10_000)


class OutbreakOut(BaseModel):
    cases: int
    close: int
    secondary: int
    new_exposures: int
    colour_changes: int
