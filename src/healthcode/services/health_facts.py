"""Health facts a person or an officer records: reported symptoms, a completed quarantine, and
(only where the city enables it) vaccinations. Each is logged (kind only) and re-derives the
person's colour in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from healthcode.domain.audit import Actor, LogEntry, commitment
from healthcode.domain.checkins import DAY
from healthcode.domain.errors import InvalidInput, NotFound
from healthcode.domain.facts import (
    FactKind,
    RecordedFact,
    new_fact_id,
    quarantine_detail,
    symptoms_detail,
    vaccination_detail,
)
from healthcode.services.context import ServiceContext
from healthcode.services.emergency import require_emergency
from healthcode.services.status import Change, refresh

FACTS_BASIS = "infectious_disease_control"
MAX_PAST_DAYS = 30


@dataclass(frozen=True, slots=True)
class Recorded:
    fact: RecordedFact
    changes: list[Change]


def _when(ctx: ServiceContext, time: int, field: str) -> int:
    now = ctx.clock.now()
    if time > now + ctx.policy.clock_skew_seconds:
        raise InvalidInput("cannot be in the future", field=field, code="in_future")
    if time < now - MAX_PAST_DAYS * DAY:
        raise InvalidInput(
            "must be within the last %(max_past_days)s days",
            field=field,
            code="too_old",
            params={"max_past_days": MAX_PAST_DAYS},
        )
    return min(time, now)


def _record(
    ctx: ServiceContext,
    subject_id: str,
    kind: FactKind,
    time: int,
    detail: Callable[[], str],
    actor: Actor,
) -> Recorded:
    text = detail()  # checked before anything is opened
    now = ctx.clock.now()
    with ctx.uow() as uow:
        require_emergency(uow)
        subject = uow.subjects.get(subject_id)
        identity = uow.vault.get(subject_id)
        if subject is None or subject.erased_at is not None or identity is None:
            raise NotFound("no such resident", field="subject_id")
        fact = RecordedFact(new_fact_id(kind), subject_id, kind, time, text, now, actor.role)
        uow.health_facts.add(fact)
        uow.log.append(
            LogEntry(
                "health_fact.recorded",
                actor,
                "subject",
                commitment(identity.commit_key, subject_id),
                "colour_derivation",
                FACTS_BASIS,
                details={"kind": kind.value},
            ),
            now,
        )
        changes = refresh(ctx, uow, [subject_id], now, actor, kind.value)
        uow.commit()
    return Recorded(fact, changes)


def report_symptoms(
    ctx: ServiceContext, subject_id: str, symptoms: Sequence[str], onset: int, actor: Actor
) -> Recorded:
    when = _when(ctx, onset, "onset")
    return _record(
        ctx, subject_id, FactKind.SYMPTOMS, when, lambda: symptoms_detail(symptoms), actor
    )


def record_quarantine(
    ctx: ServiceContext, subject_id: str, completed_at: int, days: int, actor: Actor
) -> Recorded:
    when = _when(ctx, completed_at, "completed_at")
    return _record(
        ctx, subject_id, FactKind.QUARANTINE, when, lambda: quarantine_detail(days), actor
    )


def record_vaccination(
    ctx: ServiceContext, subject_id: str, dose: int, product: str, given_at: int, actor: Actor
) -> Recorded:
    if not ctx.policy.vaccination_facts:
        raise InvalidInput(
            "this city does not record vaccinations", field="kind", code="fact_not_recorded"
        )
    when = _when(ctx, given_at, "given_at")
    return _record(
        ctx,
        subject_id,
        FactKind.VACCINATION,
        when,
        lambda: vaccination_detail(dose, product),
        actor,
    )
