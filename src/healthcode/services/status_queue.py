"""Colour work after a trace: the tracer gets the contacts first, the colours follow at once.

A trace stores its contacts' exposures (the facts their colours rest on) and queues, in the same
transaction, one piece of colour work per contact (`enqueue`). `settle` does it: re-derive the
colours (services/status.py: refresh), store and log each change as done by the tracer for the
trace's reason, and send the exposure notices, in transactions of its own, 500 people at a time.
Whoever gets there first settles: the tracer's own request once its answer is sent, the server's
job every second (the published bound), the command line before it prints, or the contact
asking for their code (services/codes.py: a person with queued work is never shown their stored
colour; their colour is derived first).

A process that dies between a trace's commit and its settling leaves the work queued, and the
next settle does it: nothing is lost, and nothing is done twice (work leaves the queue in the
transaction that does it; on PostgreSQL two settlers skip each other's rows).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from healthcode.domain.audit import Actor
from healthcode.domain.status import Status
from healthcode.services.context import ServiceContext
from healthcode.services.notices import notify_exposures
from healthcode.services.ports import QueuedColour, StoredExposure, UnitOfWork
from healthcode.services.status import SWEEP_BATCH, Change, refresh

QUEUE_BOUND_SECONDS = 1  # the server settles queued colour work at least this often
log = logging.getLogger("healthcode.status_queue")


@dataclass(frozen=True, slots=True)
class QueueState:
    pending: int
    oldest_seconds: int  # how long the oldest work has waited (0: none waits)


def enqueue(
    uow: UnitOfWork, fresh: Iterable[StoredExposure], actor: Actor, reason: str, now: int
) -> list[QueuedColour]:
    """Queue the colour work of these newly stored exposures, in the caller's transaction."""
    work = {
        (e.subject_id, e.case_id): QueuedColour(e.subject_id, e.case_id, now, actor, reason)
        for e in fresh
    }
    items = list(work.values())
    uow.status_queue.add(items)
    return items


def settle(
    ctx: ServiceContext,
    subject_ids: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[Change]:
    """Do the queued colour work (only these people's, if given, 500 at a time); the colour
    changes made. `stop`, asked after each batch, ends the work early (a worker stopping)."""
    if subject_ids is None:
        return _settle(ctx, None, progress, stop)
    changes: list[Change] = []
    for start in range(0, len(subject_ids), SWEEP_BATCH):
        changes += _settle(ctx, subject_ids[start : start + SWEEP_BATCH], progress)
    return changes


def _settle(
    ctx: ServiceContext,
    subject_ids: list[str] | None,
    progress: Callable[[int], None] | None,
    stop: Callable[[], bool] | None = None,
) -> list[Change]:
    changes: list[Change] = []
    failed: set[str] = set()
    while True:
        items: list[QueuedColour] = []
        try:
            with ctx.uow() as uow:
                items = uow.status_queue.take(SWEEP_BATCH, subject_ids)
                if not items:
                    return changes
                changes += _work(ctx, uow, items)
                uow.status_queue.done(items)
                uow.commit()
        except Exception:
            if subject_ids is not None and len(subject_ids) == 1:
                raise  # one person's work: their caller answers for it
            # One person's work that fails must not hold up everyone queued behind it: the
            # batch again, one person at a time; who still fails stays queued, and is logged.
            log.exception("colour work failed for a batch; settling one person at a time")
            people = sorted({i.subject_id for i in items} - failed)
            if not people:  # the queue itself could not be read: the next run tries again
                return changes
            for who in people:
                try:
                    changes += _settle(ctx, [who], None)
                except Exception:
                    failed.add(who)
                    log.exception("colour work failed for one person; it stays queued")
            if subject_ids is None and failed >= {i.subject_id for i in items}:
                return changes  # nothing but failures at the head of the queue
            continue
        if progress is not None:
            progress(len(items))
        if stop is not None and stop():
            return changes


def settle_quietly(ctx: ServiceContext, subject_ids: list[str]) -> None:
    """`settle` after an answer was sent: a failure is logged (the server's job, or the
    person's own code request, does the work later), never raised into the web server."""
    try:
        settle(ctx, subject_ids)
    except Exception:
        log.exception("colour work after an answer failed; it stays queued")


def _work(ctx: ServiceContext, uow: UnitOfWork, items: list[QueuedColour]) -> list[Change]:
    now = ctx.clock.now()
    everyone = sorted({i.subject_id for i in items})
    found = {(i.subject_id, i.case_id, i.found_at) for i in items}
    exposures = uow.exposures.of_subjects(everyone)  # read once: for the colours and notices
    fresh = [
        e
        for theirs in exposures.values()
        for e in theirs
        if (e.subject_id, e.case_id, e.found_at) in found and e.withdrawn_at is None
    ]
    changes: list[Change] = []
    derived: dict[str, Status] = {}
    uow.statuses.hold(everyone)  # everyone at once, in order: settlers never lock crosswise
    by_cause: dict[tuple[Actor, str], set[str]] = {}
    for item in items:
        by_cause.setdefault((item.actor, item.reason), set()).add(item.subject_id)
    for (actor, reason), people in sorted(
        by_cause.items(), key=lambda kv: (kv[0][0].role, kv[0][0].ref, kv[0][1])
    ):
        changes += refresh(
            ctx, uow, people - derived.keys(), now, actor, reason, derived, exposures
        )
    notify_exposures(uow, fresh, derived, now, exposures)
    return changes


def state(ctx: ServiceContext) -> QueueState:
    """The queue's length and the age of its oldest work (for /health)."""
    with ctx.uow(read_only=True) as uow:
        pending, oldest = uow.status_queue.waiting()
    now = ctx.clock.now()
    return QueueState(pending, 0 if oldest is None else max(0, now - oldest))
