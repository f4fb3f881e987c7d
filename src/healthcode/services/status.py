"""A person's colour: derived from their health facts and the active rule set, with its
provenance, and stored as the read model that code display reads.

Nothing here writes a colour as a decision. `refresh` re-derives and stores the result with the
instant at which the derivation may next answer otherwise (domain/status.py: next_review), and
logs a change of colour or rule with the person's commitment, the rule (or the manual order) and
the number of facts behind it, in the caller's transaction. Every use case that changes a fact
calls it in its own transaction, so the stored status is the derivation: the change and the new
colour commit together, and a red is stored before the change is acknowledged. `sweep` re-derives
the statuses whose review instant has come (a colour returning to green is logged too); it first
settles manual orders (expired ones, and contested ones whose appeal deadline passed). A person
with no stored status is green under the active rule set: nothing has ever applied to them.

Evidence withdrawn by a granted appeal is no fact any more; a manual order in force for a person
is one (of its own kind, which no rule reads).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from healthcode.domain.audit import SYSTEM, Actor, LogEntry, commitment
from healthcode.domain.cases import LabResult
from healthcode.domain.errors import NotFound
from healthcode.domain.facts import Fact, FactKind, iso
from healthcode.domain.orders import order_fact
from healthcode.domain.rulesets import Rule, RuleSet
from healthcode.domain.status import Status, derive, next_review
from healthcode.services.context import ServiceContext
from healthcode.services.ports import MaintenanceRun, StoredExposure, StoredStatus, UnitOfWork
from healthcode.services.rulebook import active_ruleset

STATUS_BASIS = "published_rules"
SWEEP_BATCH = 500


@dataclass(frozen=True, slots=True)
class Change:
    subject_id: str
    before: str
    after: str
    rule_ref: str
    evidence: int = 0  # how many facts are behind the new colour


@dataclass(frozen=True, slots=True)
class Evidence:
    """One fact behind a colour, as its owner may read it (never who the case is)."""

    fact_id: str
    kind: str
    time: int
    summary: dict[str, str | int]


@dataclass(frozen=True, slots=True)
class StatusView:
    subject_id: str
    status: Status
    ruleset: RuleSet
    rule: Rule | None  # None when green: no rule applies
    evidence: list[Evidence]


def test_fact_id(result: LabResult) -> str:
    """An opaque id for a lab result (the lab's own test id stays out of logs and codes)."""
    return "t" + hashlib.sha256(f"{result.lab}/{result.test_id}".encode()).hexdigest()[:16]


def exposure_fact(e: StoredExposure) -> Fact:
    return Fact(
        e.exposure_id,
        FactKind.EXPOSURE,
        e.start,
        {"level": e.level, "minutes": (e.end - e.start) // 60},
    )


def facts_of(uow: UnitOfWork, subject_id: str) -> list[Fact]:
    return facts_by_subject(uow, [subject_id])[subject_id]


def facts_by_subject(
    uow: UnitOfWork,
    subject_ids: list[str],
    exposures: dict[str, list[StoredExposure]] | None = None,
) -> dict[str, list[Fact]]:
    """Everyone's facts at once: one query per fact table (per 500 people), not per person.
    Their exposures, if the caller has read them already, are taken as given."""
    facts: dict[str, list[Fact]] = {s: [] for s in subject_ids}
    for subject_id, results in uow.cases.results_of(subject_ids).items():
        facts[subject_id] += [
            Fact(test_fact_id(r), FactKind.TEST, r.sample_time, {"result": r.result.value})
            for r in results
        ]
    for subject_id, found in uow.cases.cases_of(subject_ids).items():
        facts[subject_id] += [
            Fact(
                c.case_id,
                FactKind.CASE,
                c.opened_at,
                {
                    "window_start": iso(c.window_start),
                    "window_end": iso(c.window_end),
                    "closed": c.closed_at is not None,
                },
            )
            for c in found
        ]
    if exposures is None:
        exposures = uow.exposures.of_subjects(subject_ids)
    for subject_id, theirs in exposures.items():
        if subject_id in facts:
            facts[subject_id] += [exposure_fact(e) for e in theirs if e.withdrawn_at is None]
    for subject_id, recorded in uow.health_facts.of_subjects(subject_ids).items():
        facts[subject_id] += [f.as_fact() for f in recorded if f.withdrawn_at is None]
    for subject_id, orders in uow.orders.in_force_for(subject_ids).items():
        facts[subject_id] += [order_fact(o) for o in orders]
    return facts


def _stored(subject_id: str, status: Status, review: int | None, now: int) -> StoredStatus:
    return StoredStatus(
        subject_id,
        status.colour,
        status.rule_ref,
        ",".join(status.evidence),
        status.since,
        review,
        now,
    )


def differs(before: StoredStatus | None, after: StoredStatus) -> bool:
    """Does the newly derived status differ from the one stored? (Green with nothing to look
    at again is not stored: it is what no stored status means.)"""
    if before is None:
        return after.colour != "green" or after.until is not None
    return (before.colour, before.rule_ref, before.evidence, before.until) != (
        after.colour,
        after.rule_ref,
        after.evidence,
        after.until,
    )


def refresh(
    ctx: ServiceContext,
    uow: UnitOfWork,
    subject_ids: Iterable[str],
    now: int,
    actor: Actor,
    reason: str,
    derived: dict[str, Status] | None = None,
    exposures: dict[str, list[StoredExposure]] | None = None,
) -> list[Change]:
    """Re-derive these people's colours in the caller's transaction; log each change. Each
    derived status is also put in `derived`, if given; their exposures, if the caller has read
    them already (`exposures`), are not read again."""
    ruleset = active_ruleset(uow)
    changes: list[Change] = []
    to_store: list[StoredStatus] = []
    everyone = sorted(set(subject_ids))
    uow.statuses.hold(everyone)  # concurrent refreshes of a person take turns (PostgreSQL)
    all_facts = facts_by_subject(uow, everyone, exposures)
    remembered = uow.statuses.get_many(everyone)
    for subject_id in everyone:
        facts = all_facts[subject_id]
        status = derive(ruleset, facts, now, ctx.rules.apply)
        if derived is not None:
            derived[subject_id] = status
        before = remembered.get(subject_id)
        after = _stored(subject_id, status, next_review(ruleset, facts, now), now)
        if not differs(before, after):
            continue
        to_store.append(after)
        old = before.colour if before else "green"
        old_ref = before.rule_ref if before else ruleset.ref()
        if (old, old_ref) != (status.colour, status.rule_ref):
            changes.append(
                Change(subject_id, old, status.colour, status.rule_ref, len(status.evidence))
            )
        # else: same colour under the same rule, with more or less evidence: stored, not logged
    uow.statuses.put_many(to_store)
    _log_changes(uow, changes, actor, reason, now)
    return changes


def _log_changes(
    uow: UnitOfWork,
    changes: list[Change],
    actor: Actor,
    reason: str,
    now: int,
) -> None:
    """One `status.changed` entry per change, appended together."""
    keys = uow.vault.commit_keys([c.subject_id for c in changes])
    uow.log.append_many(
        [
            LogEntry(
                "status.changed",
                actor,
                "subject",
                commitment(keys[c.subject_id], c.subject_id) if c.subject_id in keys else "erased",
                "colour_derivation",
                STATUS_BASIS,
                details={
                    "from": c.before,
                    "to": c.after,
                    "rule": c.rule_ref,
                    "evidence": c.evidence,
                    "reason": reason,
                },
            )
            for c in changes
        ],
        now,
    )


def _require_subject(uow: UnitOfWork, subject_id: str) -> None:
    subject = uow.subjects.get(subject_id)
    if subject is None or subject.erased_at is not None:
        raise NotFound("no such resident", field="subject_id")


def _plain(value: str | int | bool | Sequence[str]) -> str | int:
    if isinstance(value, str | int):
        return value  # bool is an int
    return ",".join(value)


def _evidence(facts: Sequence[Fact], ids: Iterable[str]) -> list[Evidence]:
    wanted = set(ids)
    return [
        Evidence(
            fact.fact_id,
            fact.kind.value,
            fact.time,
            {k: _plain(v) for k, v in fact.attrs.items()},
        )
        for fact in facts
        if fact.fact_id in wanted
    ]


def view(
    uow: UnitOfWork, subject_id: str, ruleset: RuleSet, status: Status, facts: Sequence[Fact]
) -> StatusView:
    rule = None
    if status.colour != "green":
        rule = ruleset.rule(status.rule_ref.rpartition("#")[2])
    evidence = _evidence(facts, status.evidence)
    venues: dict[str, str] = {}
    if any(item.kind == FactKind.EXPOSURE.value for item in evidence):  # their venues, by name
        venues = {e.exposure_id: e.venue_id for e in uow.exposures.of_subject(subject_id)}
    for item in evidence:
        venue_id = venues.get(item.fact_id)
        if venue_id is not None:
            venue = uow.venues.get(venue_id)
            item.summary["venue_id"] = venue_id
            if venue is not None:
                item.summary["venue"] = venue.draft.name_zh or venue.draft.name_en or venue_id
    return StatusView(subject_id, status, ruleset, rule, evidence)


def status_of(ctx: ServiceContext, subject_id: str) -> StatusView:
    """The colour now, why, and until when: derived afresh, read-only."""
    now = ctx.clock.now()
    with ctx.uow(read_only=True) as uow:
        _require_subject(uow, subject_id)
        ruleset = active_ruleset(uow)
        facts = facts_of(uow, subject_id)
        status = derive(ruleset, facts, now, ctx.rules.apply)
        return view(uow, subject_id, ruleset, status, facts)


def what_if(
    ctx: ServiceContext, subject_id: str, extra: Sequence[Fact], at: int | None = None
) -> StatusView:
    """What the colour would be with these hypothetical facts, at `at` (default now). Nothing
    is stored or logged: it is the person asking about themselves."""
    now = ctx.clock.now() if at is None else at
    with ctx.uow(read_only=True) as uow:
        _require_subject(uow, subject_id)
        ruleset = active_ruleset(uow)
        facts = [*facts_of(uow, subject_id), *extra]
        status = derive(ruleset, facts, now, ctx.rules.apply)
        return view(uow, subject_id, ruleset, status, facts)


def sweep(ctx: ServiceContext) -> list[Change]:
    """Re-derive the colours whose time has run out (they return to green, or fall back to a
    milder rule); each change is logged. Run periodically by the server and by `status sweep`.
    Manual orders are settled first: contested ones whose appeal deadline passed lapse for that
    person, and those whose days ran out are marked expired."""
    from healthcode.services.appeals import lapse_overdue  # here: both build on this module
    from healthcode.services.orders import expire_due

    changes = lapse_overdue(ctx) + expire_due(ctx)
    now = ctx.clock.now()
    seen: set[str] = set()
    while True:
        with ctx.uow() as uow:
            due = uow.statuses.expiring(now, SWEEP_BATCH)
            if not due or seen.issuperset(due):
                return changes
            seen.update(due)
            changes += refresh(ctx, uow, due, now, SYSTEM, "expired")
            uow.commit()


REVIEW_MODEL = "status_review"  # the maintenance run that made every stored status current


def rebuild(ctx: ServiceContext) -> int:
    """Once per database (at start-up): derive again everyone with a fact or a stored colour,
    so that every stored status carries its review instant (databases from before statuses
    were the read model stored only the end of the colour). Recorded as a maintenance run;
    changes are logged as any other. Returns how many people were derived again."""
    with ctx.uow(read_only=True) as uow:
        if uow.maintenance.last(REVIEW_MODEL, "ok") is not None:
            return 0
        everyone = sorted(set(uow.statuses.with_facts()) | set(uow.statuses.not_green()))
    started = ctx.clock.now()
    for start in range(0, len(everyone), SWEEP_BATCH):
        with ctx.uow() as uow:
            refresh(ctx, uow, everyone[start : start + SWEEP_BATCH], started, SYSTEM, "rebuilt")
            uow.commit()
    with ctx.uow() as uow:
        if uow.maintenance.last(REVIEW_MODEL, "ok") is None:
            uow.maintenance.record(
                MaintenanceRun(
                    "m" + secrets.token_hex(8), REVIEW_MODEL, started, ctx.clock.now(), "ok",
                    json.dumps({"statuses": len(everyone)}),
                )
            )  # fmt: skip
            uow.commit()
    return len(everyone)
