"""Manual health orders: proposed by one officer, approved by a second officer of another role,
frozen above a size threshold until an auditor releases them, limited by daily quotas, shown to
the people they name with their legal basis, reason and end, and open to appeal
(domain/orders.py).

Every step is a log entry in the same transaction: staff by `staff:<id>`, the legal basis token,
colour, days and counts. The reason and the people's names or ids never go on the log; a person
appears there only in `status.changed` entries, by commitment, with the order as the rule. A
refused attempt (the two-person rule, a quota) is logged too, in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.domain.audit import SYSTEM, Actor, LogEntry, commitment
from healthcode.domain.duties import REFUSALS as DUTY_REFUSALS
from healthcode.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, TooMany
from healthcode.domain.orders import (
    APPROVERS,
    DAY,
    PROPOSERS,
    REFUSALS,
    RELEASERS,
    REVOKERS,
    LegalBasis,
    ManualOrder,
    OrderState,
    SubjectState,
    approval_refusal,
    check_order,
    new_order_id,
)
from healthcode.services.auth import actor_of
from healthcode.services.context import ServiceContext
from healthcode.services.emergency import require_emergency
from healthcode.services.ports import UnitOfWork
from healthcode.services.staff import check_independent
from healthcode.services.status import Change, refresh

PURPOSE = "manual_order"


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as the person it names sees it."""

    order_id: str
    colour: str
    legal_basis: LegalBasis
    reason: str
    state: str  # active, frozen, expired, revoked, rejected, or for them: lifted, lapsed
    starts_at: int | None  # None while frozen
    ends_at: int | None
    appeal_id: str | None  # their pending appeal about it, if any
    appealable: bool  # may they file an appeal about it now?


def legal_bases(ctx: ServiceContext) -> tuple[LegalBasis, ...]:
    """The published list an order must cite from."""
    return ctx.orders.legal_bases


def _bases(ctx: ServiceContext) -> dict[str, LegalBasis]:
    return {b.basis_id: b for b in ctx.orders.legal_bases}


def subject_commitment(uow: UnitOfWork, subject_id: str) -> str:
    """How the log names a person: their keyed commitment (or 'erased')."""
    key = uow.vault.commit_keys([subject_id]).get(subject_id)
    return commitment(key, subject_id) if key else "erased"


def _staff(principal: Principal, roles: frozenset[Role], what: str) -> None:
    if principal.kind != PrincipalKind.STAFF or principal.role not in roles:
        names = ", ".join(sorted(r.value for r in roles))
        raise Forbidden(
            "only a %(names)s may %(what)s a manual order", params={"names": names, "what": what}
        )


def _log(
    uow: UnitOfWork,
    action: str,
    actor: Actor,
    order: ManualOrder,
    now: int,
    outcome: str = "ok",
    **details: str | int,
) -> None:
    uow.log.append(
        LogEntry(
            action,
            actor,
            "order",
            order.order_id,
            PURPOSE,
            order.legal_basis,
            outcome=outcome,
            details=details,
        ),
        now,
    )


def _log_refusal(
    ctx: ServiceContext, principal: Principal, action: str, ref: str, basis: str, outcome: str
) -> None:
    """A refused attempt, on the log in its own transaction (the refused one stored nothing)."""
    with ctx.uow() as uow:
        uow.log.append(
            LogEntry(
                action, actor_of(uow, principal), "order", ref, PURPOSE, basis, outcome=outcome
            ),
            ctx.clock.now(),
        )
        uow.commit()


def _get(uow: UnitOfWork, order_id: str) -> ManualOrder:
    order = uow.orders.get(order_id) if isinstance(order_id, str) else None
    if order is None:
        raise NotFound("no such order", field="order_id")
    return order


def _applying(uow: UnitOfWork, order_id: str) -> list[str]:
    return [
        s.subject_id
        for s in uow.orders.subjects_of(order_id)
        if s.state == SubjectState.APPLIES.value
    ]


# -- proposing ------------------------------------------------------------------------------------


def _wait(recent: list[tuple[int, int]], count: int, orders: int, people: int, now: int
          ) -> tuple[str, int] | None:  # fmt: skip
    """(what, seconds to wait) if `count` more people in one more order would exceed `orders`
    orders or `people` residents among `recent` (proposed_at, residents), oldest first."""
    if len(recent) + 1 > orders:
        oldest = recent[len(recent) - orders][0]
        return f"{orders} orders", oldest + DAY - now
    named = sum(n for _, n in recent)
    if named + count > people:
        for proposed_at, n in recent:  # oldest first: wait until enough have left the window
            named -= n
            if named + count <= people:
                return f"{people} residents", proposed_at + DAY - now
    return None


def _quota_wait(
    ctx: ServiceContext, uow: UnitOfWork, principal: Principal, count: int, now: int
) -> tuple[str, int] | None:
    """(what, seconds to wait) if proposing `count` more people now would exceed the officer's
    quotas, or the city's: splitting one mass order over many accounts meets the second."""
    policy = ctx.orders
    mine = uow.orders.proposed_by_since(principal.ref, now - DAY)
    wait = _wait(mine, count, policy.orders_per_officer_day, policy.subjects_per_officer_day, now)
    if wait is not None:
        return f"an officer may propose at most {wait[0]}", wait[1]
    city = uow.orders.proposed_since(now - DAY)
    wait = _wait(city, count, policy.orders_per_city_day, policy.subjects_per_city_day, now)
    if wait is not None:
        return f"all officers together may propose at most {wait[0]}", wait[1]
    return None


def propose_order(
    ctx: ServiceContext,
    principal: Principal,
    subject_ids: Sequence[str],
    colour: str,
    legal_basis: str,
    reason: str,
    days: int,
) -> ManualOrder:
    """A tracer or a health officer proposes; nothing changes colour until a second officer of
    another role approves. Refused with TooMany beyond the officer's quotas for 24 hours."""
    _staff(principal, PROPOSERS, "propose")
    policy = ctx.orders
    draft = check_order(
        subject_ids,
        colour,
        legal_basis,
        reason,
        days,
        bases=_bases(ctx),
        max_days=policy.max_days,
    )
    if len(draft.subject_ids) > policy.subjects_per_officer_day:
        _log_refusal(ctx, principal, "order.proposed", "none", legal_basis,
                     "refused:too_many_subjects")  # fmt: skip
        raise InvalidInput(
            "an officer may name at most %(subjects_per_officer_day)s residents a day: no "
            "order may be larger",
            field="subject_ids",
            code="too_many_subjects",
            params={"subjects_per_officer_day": policy.subjects_per_officer_day},
        )
    now = ctx.clock.now()
    with ctx.uow() as uow:
        require_emergency(uow)
        for subject_id in draft.subject_ids:
            subject = uow.subjects.get(subject_id)
            if subject is None or subject.erased_at is not None:
                raise NotFound("no such resident among subject_ids", field="subject_ids")
        wait = _quota_wait(ctx, uow, principal, len(draft.subject_ids), now)
        if wait is None:
            order = ManualOrder(
                new_order_id(),
                draft.colour,
                draft.legal_basis,
                draft.reason,
                draft.days,
                len(draft.subject_ids),
                OrderState.PROPOSED.value,
                principal.ref,
                principal.role.value,
                now,
            )
            uow.orders.add(order, draft.subject_ids)
            actor = actor_of(uow, principal)
            count, days = order.subject_count, order.days
            _log(uow, "order.proposed", actor, order, now, colour=draft.colour, days=days,
                 subjects=count)  # fmt: skip
            uow.commit()
            return order
    what, seconds = wait
    _log_refusal(ctx, principal, "order.proposed", "none", legal_basis, "refused:quota")
    raise TooMany(
        "quota reached: %(what)s in 24 hours, so that nobody can colour many people quickly; "
        "try again in %(seconds)s s",
        retry_after=seconds,
        field="subject_ids",
        params={"what": what, "seconds": seconds},
    )


# -- the second officer ---------------------------------------------------------------------------


def _independence(
    ctx: ServiceContext, uow: UnitOfWork, principal: Principal, others: list[str | None], now: int
) -> str | None:
    """Why this person is not independent of every one of `others` (domain/duties.py)."""
    for other in others:
        if other is not None:
            why = check_independent(ctx, uow, principal.ref, other, now)
            if why is not None:
                return why
    return None


def _second_officer(
    ctx: ServiceContext, principal: Principal, order_id: str, action: str
) -> ManualOrder:
    """The order, if this officer may decide on it: another role than the proposer's, and truly
    independent of the proposer (AUTHZ-7); refusals of the two-person rule are logged."""
    _staff(principal, APPROVERS, "approve or reject")
    now = ctx.clock.now()
    with ctx.uow(read_only=True) as uow:
        order = _get(uow, order_id)
        refusal = approval_refusal(order, principal.ref, principal.role)
        message = REFUSALS.get(refusal or "", "")
        if refusal is None:
            refusal = _independence(ctx, uow, principal, [order.proposed_by], now)
            message = DUTY_REFUSALS.get(refusal or "", "")
    if refusal is not None:
        _log_refusal(
            ctx, principal, action, order.order_id, order.legal_basis, f"refused:{refusal}"
        )
        raise Forbidden(message, code="two_person_rule")
    return order


def _pending(uow: UnitOfWork, order_id: str, wanted: OrderState) -> ManualOrder:
    order = _get(uow, order_id)
    if order.state != wanted.value:
        raise Conflict(
            "the order is %(state)s: only a %(value)s order can take this step",
            field="order_id",
            params={"state": order.state, "value": wanted.value},
        )
    return order


def _activate(
    ctx: ServiceContext, uow: UnitOfWork, order: ManualOrder, actor: Actor, now: int, why: str
) -> ManualOrder:
    """The order applies from now for its days; its people's colours are derived again."""
    active = replace(
        order, state=OrderState.ACTIVE.value, starts_at=now, ends_at=now + order.days * DAY
    )
    uow.orders.save(active)
    refresh(ctx, uow, _applying(uow, order.order_id), now, actor, why)
    return active


def _freeze(
    ctx: ServiceContext, uow: UnitOfWork, order: ManualOrder, now: int
) -> tuple[str, int] | None:
    """(why, the threshold) if this order must wait for an auditor: it names more people than
    one order may, or it would take the proposer's, or the whole city's, orders in force of the
    last 24 hours past their limit (so a mass order split into small ones still freezes)."""
    policy = ctx.orders
    if order.subject_count > policy.freeze_threshold:
        return "order_size", policy.freeze_threshold
    started = uow.orders.started_since(now - DAY)
    mine = sum(n for who, n in started if who == order.proposed_by)
    if mine + order.subject_count > policy.freeze_per_officer_day:
        return "officer_day", policy.freeze_per_officer_day
    if sum(n for _, n in started) + order.subject_count > policy.freeze_per_city_day:
        return "city_day", policy.freeze_per_city_day
    return None


def approve_order(ctx: ServiceContext, principal: Principal, order_id: str) -> ManualOrder:
    """Approval by a second officer of a different role. An order naming more people than the
    freeze threshold is frozen instead, with no effect on any colour, until an auditor releases
    it."""
    _second_officer(ctx, principal, order_id, "order.approved")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        order = _pending(uow, order_id, OrderState.PROPOSED)
        decided = replace(
            order, decided_by=principal.ref, decided_role=principal.role.value, decided_at=now
        )
        actor = actor_of(uow, principal)
        frozen = _freeze(ctx, uow, order, now)
        state = OrderState.FROZEN if frozen else OrderState.ACTIVE
        _log(uow, "order.approved", actor, order, now, state=state.value)
        if frozen is not None:
            why, threshold = frozen
            decided = replace(decided, state=OrderState.FROZEN.value)
            uow.orders.save(decided)
            count = order.subject_count
            _log(uow, "order.frozen", SYSTEM, order, now, subjects=count, threshold=threshold,
                 why=why)  # fmt: skip
        else:
            decided = _activate(ctx, uow, decided, actor, now, "order_active")
        uow.commit()
        return decided


def reject_order(ctx: ServiceContext, principal: Principal, order_id: str) -> ManualOrder:
    """The second officer says no: the order never applies."""
    _second_officer(ctx, principal, order_id, "order.rejected")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        order = _pending(uow, order_id, OrderState.PROPOSED)
        rejected = replace(
            order,
            state=OrderState.REJECTED.value,
            decided_by=principal.ref,
            decided_role=principal.role.value,
            decided_at=now,
            ended_at=now,
        )
        uow.orders.save(rejected)
        _log(uow, "order.rejected", actor_of(uow, principal), order, now)
        uow.commit()
        return rejected


def revoke_order(ctx: ServiceContext, principal: Principal, order_id: str) -> ManualOrder:
    """Any officer (the proposer included) or an authority admin ends a proposed, frozen or
    active order at once; the colours it held are derived again."""
    _staff(principal, REVOKERS, "revoke")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        order = _get(uow, order_id)
        state = order.effective_state(now)
        if state not in (OrderState.PROPOSED, OrderState.FROZEN, OrderState.ACTIVE):
            raise Conflict(
                "the order is %(value)s: nothing to revoke",
                field="order_id",
                params={"value": state.value},
            )
        revoked = replace(
            order, state=OrderState.REVOKED.value, ended_by=principal.ref, ended_at=now
        )
        uow.orders.save(revoked)
        actor = actor_of(uow, principal)
        _log(uow, "order.revoked", actor, order, now, was=state.value)
        if state is OrderState.ACTIVE:
            refresh(ctx, uow, _applying(uow, order_id), now, actor, "order_revoked")
        uow.commit()
        return revoked


# -- the auditor ----------------------------------------------------------------------------------


def _auditor(ctx: ServiceContext, principal: Principal, order_id: str, action: str) -> None:
    """An auditor who decides on a frozen order is independent of both officers behind it."""
    _staff(principal, RELEASERS, "release or refuse")
    now = ctx.clock.now()
    with ctx.uow(read_only=True) as uow:
        order = _get(uow, order_id)
        why = _independence(ctx, uow, principal, [order.proposed_by, order.decided_by], now)
    if why is not None:
        _log_refusal(ctx, principal, action, order.order_id, order.legal_basis, f"refused:{why}")
        raise Forbidden(DUTY_REFUSALS.get(why, why), code="two_person_rule")


def release_order(ctx: ServiceContext, principal: Principal, order_id: str) -> ManualOrder:
    """An auditor lets a frozen order take effect: it applies from now for its days."""
    _auditor(ctx, principal, order_id, "order.released")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        order = _pending(uow, order_id, OrderState.FROZEN)
        released = replace(order, released_by=principal.ref, released_at=now)
        actor = actor_of(uow, principal)
        _log(uow, "order.released", actor, order, now, subjects=order.subject_count)
        released = _activate(ctx, uow, released, actor, now, "order_released")
        uow.commit()
        return released


def refuse_release(ctx: ServiceContext, principal: Principal, order_id: str) -> ManualOrder:
    """An auditor refuses a frozen order: it never applies."""
    _auditor(ctx, principal, order_id, "order.release_refused")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        order = _pending(uow, order_id, OrderState.FROZEN)
        refused = replace(
            order,
            state=OrderState.REJECTED.value,
            released_by=principal.ref,
            released_at=now,
            ended_at=now,
        )
        uow.orders.save(refused)
        _log(uow, "order.release_refused", actor_of(uow, principal), order, now)
        uow.commit()
        return refused


def expire_due(ctx: ServiceContext) -> list[Change]:
    """Mark the active orders whose days ran out as expired (logged), and derive their people's
    colours again. Derivation already ignores them after their end; this is the record of it."""
    now = ctx.clock.now()
    changes: list[Change] = []
    with ctx.uow() as uow:
        due = uow.orders.due_to_expire(now)
        for order in due:
            uow.orders.save(replace(order, state=OrderState.EXPIRED.value, ended_at=order.ends_at))
            _log(uow, "order.expired", SYSTEM, order, now, subjects=order.subject_count)
            people = _applying(uow, order.order_id)
            changes += refresh(ctx, uow, people, now, SYSTEM, "order_expired")
        if due:
            uow.commit()
    return changes


# -- reading --------------------------------------------------------------------------------------


def get_order(ctx: ServiceContext, principal: Principal, order_id: str) -> ManualOrder:
    """An order, for the officers, admins and auditors who decide on orders."""
    _staff(principal, APPROVERS | RELEASERS, "read")
    with ctx.uow(read_only=True) as uow:
        return _get(uow, order_id)


def awaiting(ctx: ServiceContext, principal: Principal) -> list[ManualOrder]:
    """What waits for this principal: proposals for officers and admins, frozen orders for
    auditors (oldest first)."""
    _staff(principal, APPROVERS | RELEASERS, "review")
    wanted = OrderState.FROZEN if principal.role in RELEASERS else OrderState.PROPOSED
    with ctx.uow(read_only=True) as uow:
        return uow.orders.with_states([wanted.value])


def open_orders(ctx: ServiceContext, principal: Principal) -> list[ManualOrder]:
    """The orders the officers and admins who decide on orders still act on: proposed, frozen
    (waiting for an auditor) and in force, newest first."""
    _staff(principal, APPROVERS, "review")
    now = ctx.clock.now()
    states = [OrderState.PROPOSED.value, OrderState.FROZEN.value, OrderState.ACTIVE.value]
    with ctx.uow(read_only=True) as uow:
        found = uow.orders.with_states(states)
    live = [o for o in found if o.effective_state(now) is not OrderState.EXPIRED]
    return sorted(live, key=lambda o: (-o.proposed_at, o.order_id))


def _shown(order: ManualOrder) -> bool:
    """Was it ever approved? A proposal that no second officer approved never named anyone."""
    if order.state == OrderState.PROPOSED.value:
        return False
    if order.state == OrderState.REJECTED.value:
        return order.released_by is not None  # frozen, then refused by an auditor
    if order.state == OrderState.REVOKED.value:
        return order.decided_by is not None
    return True


def orders_of(ctx: ServiceContext, subject_id: str) -> list[OrderView]:
    """Every approved order naming this person, with its legal basis in words, its reason, its
    period, its state for them and their appeal. The caller has passed the access gate."""
    now = ctx.clock.now()
    bases = _bases(ctx)
    views: list[OrderView] = []
    with ctx.uow(read_only=True) as uow:
        for order, mine in uow.orders.of_subject(subject_id):
            if not _shown(order):
                continue
            state = order.effective_state(now).value
            if mine.state != SubjectState.APPLIES.value:
                state = mine.state
            pending = uow.appeals.pending_about(subject_id, order.order_id)
            basis = bases.get(order.legal_basis) or LegalBasis(
                order.legal_basis, order.legal_basis, order.legal_basis
            )
            views.append(
                OrderView(
                    order.order_id,
                    order.colour,
                    basis,
                    order.reason,
                    state,
                    order.starts_at,
                    order.ends_at,
                    pending.appeal_id if pending else None,
                    pending is None and state in (OrderState.ACTIVE, OrderState.FROZEN),
                )
            )
    return views
