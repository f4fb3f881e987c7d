"""Tracing a case: close contacts (shared a venue with the case inside its infectious window)
and secondary contacts (shared a venue with a close contact after that exposure), each with the
evidence. A trace needs a case (its purpose), assigned by a second person to the officer who runs
it, and is logged; there is no other way to ask where a person has been.

Every person whose visits a trace read is told (AUTHZ-9): the case's subject by the
`case.traced` entry, and everyone else whose check-ins it decrypted by a `case.visits_read`
entry about them naming the case and how many of their visits it read. A trace decrypts only
what it needs (services/trace_search.py): the case's visits, the check-ins that overlapped
them enough (the close contacts'), and at depth 2 the close contacts' later visits and the
check-ins that overlapped those; anyone else at the same venues is judged by venue and times
alone and is not read. These entries carry no venue and no time: which visits they were, a
person sees on their own record (their exposures name the venue and day), and nobody else can
tell.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from healthcode.domain.audit import Actor, LogEntry, commitment
from healthcode.domain.cases import Case
from healthcode.domain.errors import InvalidInput, NotFound
from healthcode.domain.facts import FactKind, new_fact_ids
from healthcode.domain.tracing import TraceRules
from healthcode.services import status_queue
from healthcode.services.context import ServiceContext
from healthcode.services.ports import (
    ArchiveExport,
    ContactArchive,
    QueuedColour,
    StoredExposure,
    UnitOfWork,
)
from healthcode.services.trace_search import Contact, Found, Reads, SqlVisits, search

__all__ = ["Contact", "TraceResult", "archive_days", "trace_case", "trace_outbreak"]

TRACE_BASIS = "infectious_disease_control"


@dataclass(frozen=True, slots=True)
class TraceResult:
    case_id: str
    close: list[Contact]
    secondary: list[Contact]
    new_exposures: int = 0
    colour_changes: int = 0
    colours_queued: int = 0  # people whose colour work is queued (trace_case without settle)


def rules_of(ctx: ServiceContext) -> TraceRules:
    return TraceRules(ctx.policy.trace_min_overlap_seconds, ctx.policy.trace_extension_seconds)


def _depth(depth: int) -> None:
    if depth not in (1, 2):
        raise InvalidInput("depth is 1 (close contacts) or 2 (and secondary)", field="depth")


def trace_case(
    ctx: ServiceContext, case_id: str, actor: Actor, depth: int = 2, *, settle: bool = True
) -> TraceResult:
    """Trace a case: its contacts, stored as exposures with their evidence, and their colour
    work queued, in one transaction. With `settle`, the colour work is done before returning
    (colour_changes counts it); without, the caller answers first and settles after (or leaves
    it to the server's job): colours_queued counts the people waiting for it. The tracer is
    answered once the trace is committed: its log entries, committed with it, are sequenced
    right after by the process's sequencer thread (where entries are queued: PostgreSQL),
    except with `settle`, whose caller gets everything done before it returns."""
    _depth(depth)
    now = ctx.clock.now()
    with ctx.uow(sequence_soon=not settle) as uow:
        case = uow.cases.get_case(case_id)
        if case is None:
            raise NotFound("no such case", field="case_id")
        (found,) = search(SqlVisits(uow.checkins), [case], rules_of(ctx), now, depth)
        result, queued = _record(uow, case, found, actor, now, depth)
        uow.commit()
    if not settle:
        return result
    changes = status_queue.settle(ctx, [q.subject_id for q in queued])
    return replace(result, colour_changes=len(changes), colours_queued=0)


def _record(
    uow: UnitOfWork, case: Case, found: Found, actor: Actor, now: int, depth: int
) -> tuple[TraceResult, list[QueuedColour]]:
    """What a search found for a case, stored: the log entries of its reads, the exposures,
    their contacts' colour work queued."""
    close, secondary = found.close, found.secondary
    _log_trace(uow, case, actor, found.reads, now,
               {"close": len(close), "secondary": len(secondary), "depth": depth})  # fmt: skip
    fresh = uow.exposures.add_new(
        [
            *stored_exposures(case.case_id, "close", close.values(), now),
            *stored_exposures(case.case_id, "secondary", secondary.values(), now),
        ]
    )
    queued = status_queue.enqueue(uow, fresh, actor, "exposure", now)
    result = TraceResult(
        case.case_id,
        sorted(close.values(), key=lambda c: c.subject_id),
        sorted(secondary.values(), key=lambda c: c.subject_id),
        len(fresh),
        0,
        len(queued),
    )
    return result, queued


def _log_trace(
    uow: UnitOfWork,
    case: Case,
    actor: Actor,
    reads: Reads,
    now: int,
    details: dict[str, str | int],
) -> None:
    """The trace, in the record of the case's subject, and in the record of everyone whose
    visits it read (a count and the case; never a venue or a time)."""
    people = sorted(reads.keys() | {case.subject_id})
    keys = uow.vault.commit_keys(people)

    def ref(subject_id: str) -> str:
        key = keys.get(subject_id)
        return commitment(key, subject_id) if key else "erased"

    own = len(reads.get(case.subject_id, ()))
    traced = LogEntry(
        "case.traced",
        actor,
        "case",
        case.case_id,
        "contact_tracing",
        TRACE_BASIS,
        details={**details, "subject": ref(case.subject_id), "visits": own},
    )
    # Made as they are stored: on PostgreSQL the database stores the first while the next
    # are made (adapters/db/bulk.py).
    each_read = (
        LogEntry(
            "case.visits_read",
            actor,
            "subject",
            ref(who),
            "contact_tracing",
            TRACE_BASIS,
            details={"case": case.case_id, "visits": len(visits)},
        )
        for who, visits in sorted(reads.items())
        if who != case.subject_id
    )
    uow.log.append_many(itertools.chain([traced], each_read), now)


def stored_exposures(
    case_id: str, level: str, contacts: Iterable[Contact], now: int
) -> list[StoredExposure]:
    hits = [(contact, hit) for contact in contacts for hit in contact.exposures]
    return [
        StoredExposure(
            exposure_id,
            contact.subject_id,
            case_id,
            level,
            hit.source.venue_id,
            hit.start,
            hit.end,
            hit.contact.checkin_id,
            hit.source.checkin_id,
            contact.via,
            now,
        )
        for exposure_id, (contact, hit) in zip(
            new_fact_ids(FactKind.EXPOSURE, len(hits)), hits, strict=True
        )
    ]


@dataclass
class OutbreakReport:
    cases: int = 0
    close: int = 0
    secondary: int = 0
    new_exposures: int = 0
    colour_changes: int = 0
    colours_queued: int = 0
    traced: list[TraceResult] = field(default_factory=list)
    searched: str = "database"  # or "archive": closed days from the contact archive

    def add(self, result: TraceResult, progress: Callable[[int], None] | None) -> None:
        self.cases += 1
        self.close += len(result.close)
        self.secondary += len(result.secondary)
        self.new_exposures += result.new_exposures
        self.colours_queued += result.colours_queued
        self.traced.append(result)
        if progress is not None:
            progress(1)


MAX_BATCH_CASES = 10_000
ARCHIVE_ROUND_CASES = 1_000  # cases searched together: one DuckDB join per round of reads


def _trace_from_archive(
    ctx: ServiceContext,
    archive: ContactArchive,
    case_ids: list[str],
    actor: Actor,
    depth: int,
    report: OutbreakReport,
    progress: Callable[[int], None] | None,
) -> None:
    """A batch searched together, ARCHIVE_ROUND_CASES at a time, from the contact archive
    (closed days from its files, the other days from the database), then each case stored in
    its own transaction, as trace_case stores one: the same contacts, exposures and log
    entries."""
    _depth(depth)
    now = ctx.clock.now()
    rules = rules_of(ctx)
    report.searched = "archive"
    for at in range(0, len(case_ids), ARCHIVE_ROUND_CASES):
        chunk = case_ids[at : at + ARCHIVE_ROUND_CASES]
        with ctx.uow(read_only=True) as uow:
            cases = [uow.cases.get_case(case_id) for case_id in chunk]
            present = [case for case in cases if case is not None]
            if len(present) != len(cases):
                raise NotFound("no such case", field="case_ids")
            reader = archive.reader(uow)
            try:
                found = search(reader, present, rules, now, depth)
            finally:
                reader.close()
        for case, what in zip(present, found, strict=True):
            with ctx.uow(sequence_soon=True) as uow:
                result, _ = _record(uow, case, what, actor, now, depth)
                uow.commit()
            report.add(result, progress)


def trace_outbreak(
    ctx: ServiceContext,
    case_ids: Sequence[str] | None,
    actor: Actor,
    depth: int = 2,
    progress: Callable[[int], None] | None = None,
    assigned_to: str | None = None,
    *,
    settle: bool = True,
) -> OutbreakReport:
    """Trace many cases in one batch (default: every open case; for an officer,
    `assigned_to`, every open case assigned to them, and only those). Each case is its own
    transaction and its own log entries, with the case as its purpose; an unknown id (or one
    not assigned to the officer) refuses the batch before anything is traced. The colour work
    of the whole batch is done after the last case (with `settle`, which also returns with
    the batch's log entries sequenced), or left queued."""
    mine: set[str] | None = None
    if assigned_to is not None:
        with ctx.uow(read_only=True) as uow:
            mine = set(uow.assignments.cases_of(assigned_to))
    if case_ids is None:
        wanted = [c.case_id for c in open_cases_of(ctx) if mine is None or c.case_id in mine]
    else:
        wanted = list(dict.fromkeys(case_ids))
        if len(wanted) > MAX_BATCH_CASES:
            raise InvalidInput(
                "at most %(max_batch_cases)s cases per batch",
                field="case_ids",
                params={"max_batch_cases": MAX_BATCH_CASES},
            )
        with ctx.uow(read_only=True) as uow:
            for i, case_id in enumerate(wanted):
                missing = uow.cases.get_case(case_id) is None
                if missing or (mine is not None and case_id not in mine):
                    raise NotFound("no such case", field=f"case_ids[{i}]")
    report = OutbreakReport()
    if ctx.archive is not None and len(wanted) > 1:
        _trace_from_archive(ctx, ctx.archive, wanted, actor, depth, report, progress)
    for case_id in wanted[report.cases :]:
        report.add(trace_case(ctx, case_id, actor, depth, settle=False), progress)
    if settle:
        # One pass over the batch's colour work: a contact of several cases is derived once.
        # By name: what another settler holds is waited for.
        contacts = sorted({c.subject_id for r in report.traced for c in (*r.close, *r.secondary)})
        report.colour_changes = len(status_queue.settle(ctx, contacts))
        report.colours_queued = 0
        # Each case answered first (its entries left to the sequencer thread); the batch
        # returns with all of them sequenced, as a single trace with `settle` does.
        ctx.uow.sequence()
    return report


def archive_days(ctx: ServiceContext) -> ArchiveExport | None:
    """Write the closed days of check-ins within retention that the contact archive lacks or
    holds out of date (None: the city keeps no archive)."""
    if ctx.archive is None:
        return None
    with ctx.uow(read_only=True) as uow:
        return ctx.archive.export(uow, ctx.clock.now(), ctx.retention.days)


def open_cases_of(ctx: ServiceContext) -> list[Case]:
    with ctx.uow(read_only=True) as uow:
        return uow.cases.open_cases()
