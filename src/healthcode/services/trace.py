"""Tracing a case: close contacts (shared a venue with the case inside its infectious window)
and secondary contacts (shared a venue with a close contact after that exposure), each with the
evidence. A trace needs a case (its purpose), assigned by a second person to the officer who runs
it, and is logged; there is no other way to ask where a person has been.

Every person whose visits a trace read is told (AUTHZ-9): the case's subject by the
`case.traced` entry, and everyone else whose check-ins it decrypted, contact or not, by a
`case.visits_read` entry about them naming the case and how many of their visits it read. These
entries carry no venue and no time: which visits they were, a person sees on their own record
(their exposures name the venue and day), and nobody else can tell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from healthcode.domain.audit import Actor, LogEntry, commitment
from healthcode.domain.cases import Case
from healthcode.domain.checkins import DAY, LONGEST_DWELL, CheckIn
from healthcode.domain.errors import InvalidInput, NotFound
from healthcode.domain.facts import FactKind, new_fact_id
from healthcode.domain.tracing import Exposure, TraceRules, Visit, clip, exposures, search_range
from healthcode.services import status_queue
from healthcode.services.context import ServiceContext
from healthcode.services.ports import StoredExposure, UnitOfWork

TRACE_BASIS = "infectious_disease_control"
SECONDARY_DAYS = 14  # how long after an exposure a close contact's own visits are followed


@dataclass
class Contact:
    subject_id: str
    exposures: list[Exposure] = field(default_factory=list)
    via: str | None = None  # for a secondary contact: the close contact they met


@dataclass(frozen=True, slots=True)
class TraceResult:
    case_id: str
    close: list[Contact]
    secondary: list[Contact]
    new_exposures: int = 0
    colour_changes: int = 0
    colours_queued: int = 0  # people whose colour work is queued (trace_case without settle)


def visit(c: CheckIn) -> Visit:
    return Visit(c.venue_id, c.checkin_id, c.subject_id, c.time_in, c.ends_at)


def rules_of(ctx: ServiceContext) -> TraceRules:
    return TraceRules(ctx.policy.trace_min_overlap_seconds, ctx.policy.trace_extension_seconds)


Reads = dict[str, set[str]]  # subject id -> the check-ins of theirs a trace read


def visits_in(
    uow: UnitOfWork, subject_id: str, start: int, end: int, reads: Reads | None = None
) -> list[Visit]:
    """A person's visits clipped to [start, end]."""
    found = uow.checkins.of_subject_between(subject_id, start - LONGEST_DWELL, end)
    if reads is not None and found:
        reads.setdefault(subject_id, set()).update(c.checkin_id for c in found)
    return [v for v in (clip(visit(c), start, end) for c in found) if v is not None]


def met(
    uow: UnitOfWork, sources: Iterable[Visit], rules: TraceRules, reads: Reads | None = None
) -> list[Exposure]:
    hits: list[Exposure] = []
    for source in sources:
        first, last = search_range(source, rules, LONGEST_DWELL)
        found = uow.checkins.at_venue_between(source.venue_id, first, last)
        others = [visit(c) for c in found]
        if reads is not None:
            for c in found:
                if c.subject_id != source.subject_id:
                    reads.setdefault(c.subject_id, set()).add(c.checkin_id)
        hits += exposures([source], others, rules)
    return hits


def group(
    hits: Iterable[Exposure], exclude: set[str], via: str | None = None
) -> dict[str, Contact]:
    contacts: dict[str, Contact] = {}
    for hit in hits:
        who = hit.contact.subject_id
        if who not in exclude:
            contacts.setdefault(who, Contact(who, via=via)).exposures.append(hit)
    return contacts


def trace_case(
    ctx: ServiceContext, case_id: str, actor: Actor, depth: int = 2, *, settle: bool = True
) -> TraceResult:
    """Trace a case: its contacts, stored as exposures with their evidence, and their colour
    work queued, in one transaction. With `settle`, the colour work is done before returning
    (colour_changes counts it); without, the caller answers first and settles after (or leaves
    it to the server's job): colours_queued counts the people waiting for it."""
    if depth not in (1, 2):
        raise InvalidInput("depth is 1 (close contacts) or 2 (and secondary)", field="depth")
    rules = rules_of(ctx)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        case = uow.cases.get_case(case_id)
        if case is None:
            raise NotFound("no such case", field="case_id")
        reads: Reads = {}
        own = visits_in(uow, case.subject_id, case.window_start, case.window_end, reads)
        close = group(met(uow, own, rules, reads), {case.subject_id})
        secondary: dict[str, Contact] = {}
        if depth == 2:
            known = {case.subject_id, *close}
            for contact in close.values():
                since = min(e.start for e in contact.exposures)
                later = visits_in(
                    uow, contact.subject_id, since, min(now, since + SECONDARY_DAYS * DAY), reads
                )
                found = group(met(uow, later, rules, reads), known, contact.subject_id)
                for who, contact_found in found.items():
                    secondary.setdefault(who, contact_found)
        _log_trace(uow, case, actor, reads, now,
                   {"close": len(close), "secondary": len(secondary), "depth": depth})  # fmt: skip
        fresh = uow.exposures.add_new(
            [
                *stored_exposures(case_id, "close", close.values(), now),
                *stored_exposures(case_id, "secondary", secondary.values(), now),
            ]
        )
        queued = status_queue.enqueue(uow, fresh, actor, "exposure", now)
        uow.commit()
    changes = status_queue.settle(ctx, [q.subject_id for q in queued]) if settle else []
    return TraceResult(
        case_id,
        sorted(close.values(), key=lambda c: c.subject_id),
        sorted(secondary.values(), key=lambda c: c.subject_id),
        len(fresh),
        len(changes),
        0 if settle else len(queued),
    )


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
    entries = [
        LogEntry(
            "case.traced",
            actor,
            "case",
            case.case_id,
            "contact_tracing",
            TRACE_BASIS,
            details={**details, "subject": ref(case.subject_id), "visits": own},
        )
    ]
    entries += [
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
    ]
    uow.log.append_many(entries, now)


def stored_exposures(
    case_id: str, level: str, contacts: Iterable[Contact], now: int
) -> list[StoredExposure]:
    return [
        StoredExposure(
            new_fact_id(FactKind.EXPOSURE),
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
        for contact in contacts
        for hit in contact.exposures
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


MAX_BATCH_CASES = 10_000


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
    of the whole batch is done after the last case (with `settle`), or left queued."""
    mine: set[str] | None = None
    if assigned_to is not None:
        with ctx.uow(read_only=True) as uow:
            mine = set(uow.assignments.cases_of(assigned_to))
    if case_ids is None:
        wanted = [c.case_id for c in open_cases_of(ctx) if mine is None or c.case_id in mine]
    else:
        wanted = list(dict.fromkeys(case_ids))
        if len(wanted) > MAX_BATCH_CASES:
            raise InvalidInput(f"at most {MAX_BATCH_CASES} cases per batch", field="case_ids")
        with ctx.uow(read_only=True) as uow:
            for i, case_id in enumerate(wanted):
                missing = uow.cases.get_case(case_id) is None
                if missing or (mine is not None and case_id not in mine):
                    raise NotFound("no such case", field=f"case_ids[{i}]")
    report = OutbreakReport()
    for case_id in wanted:
        result = trace_case(ctx, case_id, actor, depth, settle=False)
        report.cases += 1
        report.close += len(result.close)
        report.secondary += len(result.secondary)
        report.new_exposures += result.new_exposures
        report.colours_queued += result.colours_queued
        report.traced.append(result)
        if progress is not None:
            progress(1)
    if settle:
        # One pass over the batch's colour work: a contact of several cases is derived once.
        # By name: what another settler holds is waited for.
        contacts = sorted({c.subject_id for r in report.traced for c in (*r.close, *r.secondary)})
        report.colour_changes = len(status_queue.settle(ctx, contacts))
        report.colours_queued = 0
    return report


def open_cases_of(ctx: ServiceContext) -> list[Case]:
    with ctx.uow(read_only=True) as uow:
        return uow.cases.open_cases()
