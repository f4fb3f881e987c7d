"""Appeals: a resident (or their guardian) contests a manual order naming them, or a piece of
evidence behind their colour; a health officer decides before the deadline (domain/appeals.py).

A granted appeal stops the order applying to that person, or withdraws the evidence; the colour
is derived again in the same transaction. A contested order not upheld before the deadline lapses
for that person by itself (`lapse_overdue`, run by the status sweep). Filing, deciding and
lapsing are log entries naming the person by commitment, with the outcome as a token; the reason
is stored for the deciding officer and never logged.
"""

from __future__ import annotations

from dataclasses import replace

from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.domain.appeals import (
    DECIDERS,
    Appeal,
    AppealState,
    Target,
    check_reason,
    new_appeal_id,
    parse_outcome,
)
from healthcode.domain.audit import SYSTEM, Actor, LogEntry
from healthcode.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from healthcode.domain.facts import FactKind
from healthcode.domain.orders import OrderState, SubjectState
from healthcode.domain.status import derive
from healthcode.services.auth import actor_of
from healthcode.services.context import ServiceContext
from healthcode.services.emergency import require_emergency
from healthcode.services.orders import subject_commitment
from healthcode.services.ports import UnitOfWork
from healthcode.services.rulebook import active_ruleset
from healthcode.services.status import Change, facts_of, refresh

PURPOSE = "appeal"
BASIS = "right_of_appeal"
BATCH = 500
RECORDED = frozenset({FactKind.SYMPTOMS, FactKind.QUARANTINE, FactKind.VACCINATION})
NOT_CONTESTABLE = "neither a manual order naming this resident nor evidence behind their colour"


def _log(
    uow: UnitOfWork, action: str, actor: Actor, appeal: Appeal, now: int, **details: str | int
) -> None:
    details = {
        "target": appeal.target_kind,
        "subject": subject_commitment(uow, appeal.subject_id),
        **details,
    }
    if appeal.target_kind == Target.ORDER:
        details["order"] = appeal.target_id  # orders are public objects of the log
    uow.log.append(
        LogEntry(action, actor, "appeal", appeal.appeal_id, PURPOSE, BASIS, details=details), now
    )


def _target(ctx: ServiceContext, uow: UnitOfWork, subject_id: str, target_id: str) -> Target:
    """What `target_id` is for this person: an order that still applies to them, or a fact
    behind a rule that colours them now."""
    mine = uow.orders.subject(target_id, subject_id)
    if mine is not None:
        order = uow.orders.get(target_id)
        live = order is not None and order.effective_state(ctx.clock.now()) in (
            OrderState.ACTIVE,
            OrderState.FROZEN,
        )
        if not live or mine.state != SubjectState.APPLIES.value:
            raise Conflict("this order no longer applies to you", field="target_id")
        return Target.ORDER
    facts = facts_of(uow, subject_id)
    status = derive(active_ruleset(uow), facts, ctx.clock.now(), ctx.rules.apply)
    behind = {f.fact.fact_id: f.fact.kind for f in status.findings}
    kind = behind.get(target_id)
    if kind is None:
        raise InvalidInput(
            "%(target_id)s is %(not_contestable)s",
            field="target_id",
            params={"target_id": repr(target_id[:24]), "not_contestable": NOT_CONTESTABLE},
        )
    if kind is FactKind.EXPOSURE:
        return Target.EXPOSURE
    if kind in RECORDED:
        return Target.HEALTH_FACT
    raise InvalidInput(
        "a lab result (or the case it opened) is corrected by the lab that reported it, "
        "not by appeal: ask a health officer",
        field="target_id",
    )


def file_appeal(
    ctx: ServiceContext, principal: Principal, subject_id: str, target_id: str, reason: str
) -> Appeal:
    """Contest `target_id` (a manual order id, or an exposure or recorded fact id from the
    status evidence) for `subject_id`: the caller has passed the access gate for that person."""
    text = check_reason(reason)
    if principal.kind != PrincipalKind.RESIDENT:
        raise Forbidden("appeals are filed by the resident or their guardian")
    if not isinstance(target_id, str) or not 1 <= len(target_id) <= 24:
        raise InvalidInput("name the order or the evidence you contest", field="target_id")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        require_emergency(uow)
        subject = uow.subjects.get(subject_id)
        own = principal.ref == subject_id
        if (
            subject is None
            or subject.erased_at is not None
            or not (own or uow.subjects.is_guardian_of(principal.ref, subject_id))
        ):
            raise NotFound("no such resident", field="subject_id")
        kind = _target(ctx, uow, subject_id, target_id)
        if uow.appeals.pending_about(subject_id, target_id) is not None:
            raise Conflict(
                "an appeal about this is already waiting for a decision", field="target_id"
            )
        appeal = Appeal(
            new_appeal_id(),
            subject_id,
            kind.value,
            target_id,
            text,
            "resident" if own else "guardian",
            now,
            now + ctx.orders.appeal_decision_seconds,
            AppealState.PENDING.value,
        )
        uow.appeals.add(appeal)
        hours = ctx.orders.appeal_decision_seconds // 3600
        _log(uow, "appeal.filed", actor_of(uow, principal), appeal, now, hours=hours)
        uow.commit()
        return appeal


def _grant(uow: UnitOfWork, appeal: Appeal, state: SubjectState, now: int) -> None:
    """What a granted (or, for an order, lapsed) appeal changes."""
    if appeal.target_kind == Target.ORDER:
        uow.orders.end_for_subject(
            appeal.target_id, appeal.subject_id, state.value, appeal.appeal_id, now
        )
    elif appeal.target_kind == Target.EXPOSURE:
        uow.exposures.withdraw(appeal.target_id, appeal.appeal_id, now)
    else:
        uow.health_facts.withdraw(appeal.target_id, appeal.appeal_id, now)


def _lapse(ctx: ServiceContext, uow: UnitOfWork, appeal: Appeal, now: int) -> list[Change]:
    uow.appeals.close(appeal.appeal_id, AppealState.LAPSED.value, None, now)
    _grant(uow, appeal, SubjectState.LAPSED, now)
    _log(uow, "appeal.lapsed", SYSTEM, appeal, now, outcome=AppealState.LAPSED.value)
    return refresh(ctx, uow, [appeal.subject_id], now, SYSTEM, "appeal_lapsed")


def decide_appeal(
    ctx: ServiceContext, principal: Principal, appeal_id: str, outcome: str
) -> Appeal:
    """A health officer decides: 'upheld' (it stays) or 'granted' (the order stops applying to
    this person, or the evidence is withdrawn, and the colour is derived again). An officer who
    proposed, approved or released the contested order may not decide."""
    if principal.kind != PrincipalKind.STAFF or principal.role not in DECIDERS:
        raise Forbidden("only a health officer decides appeals")
    decision = parse_outcome(outcome)
    now = ctx.clock.now()
    lapsed = False
    with ctx.uow() as uow:
        appeal = uow.appeals.get(appeal_id) if isinstance(appeal_id, str) else None
        if appeal is None:
            raise NotFound("no such appeal", field="appeal_id")
        if appeal.state != AppealState.PENDING.value:
            raise Conflict(
                "the appeal was already %(state)s",
                field="appeal_id",
                params={"state": appeal.state},
            )
        if appeal.target_kind == Target.ORDER:
            order = uow.orders.get(appeal.target_id)
            involved = {order.proposed_by, order.decided_by, order.released_by} if order else set()
            if principal.ref in involved:
                raise Forbidden(
                    "an officer who proposed, approved or released an order cannot decide an "
                    "appeal against it",
                    code="conflict_of_interest",
                )
            lapsed = appeal.deadline <= now
        if lapsed:  # too late to decide: the order no longer applies to them (as the sweep does)
            _lapse(ctx, uow, appeal, now)
        else:
            uow.appeals.close(appeal.appeal_id, decision.value, principal.ref, now)
            actor = actor_of(uow, principal)
            _log(uow, "appeal.decided", actor, appeal, now, outcome=decision.value)
            if decision is AppealState.GRANTED:
                _grant(uow, appeal, SubjectState.LIFTED, now)
                refresh(ctx, uow, [appeal.subject_id], now, actor, "appeal_granted")
        uow.commit()
    if lapsed:
        raise Conflict(
            "the deadline passed before a decision: the order has lapsed for this resident",
            field="appeal_id",
        )
    return replace(appeal, state=decision.value, decided_by=principal.ref, decided_at=now)


def lapse_overdue(ctx: ServiceContext) -> list[Change]:
    """Contested orders whose appeal was not decided by its deadline stop applying to that
    person; each lapse and each colour change is logged. Run by the status sweep."""
    now = ctx.clock.now()
    changes: list[Change] = []
    while True:
        with ctx.uow() as uow:
            due = uow.appeals.overdue(Target.ORDER.value, now, BATCH)
            if not due:
                return changes
            for appeal in due:
                changes += _lapse(ctx, uow, appeal, now)
            uow.commit()


def appeals_of(ctx: ServiceContext, subject_id: str) -> list[Appeal]:
    """This person's appeals, with state and deadline (the caller has passed the access gate)."""
    with ctx.uow(read_only=True) as uow:
        return uow.appeals.of_subject(subject_id)


def queue(ctx: ServiceContext, principal: Principal, limit: int = 100) -> list[Appeal]:
    """The open appeals, soonest deadline first, for a health officer. The reasons are personal
    data: the read is logged (with the count only)."""
    if principal.kind != PrincipalKind.STAFF or principal.role not in DECIDERS:
        raise Forbidden("only a health officer reviews appeals")
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit is 1 to 1000", field="limit")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        waiting = uow.appeals.pending(limit)
        uow.log.append(
            LogEntry(
                "personal_data.read",
                actor_of(uow, principal),
                "appeals",
                "queue",
                "appeal_review",
                BASIS,
                details={"action": "appeal.queue", "count": len(waiting)},
            ),
            now,
        )
        uow.commit()
        return waiting
