"""Reading the transparency log: entries, proofs, checkpoints and a verifiable export.

Writing happens only through `uow.log.append` inside the use case that changes state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from healthcode.domain.audit import commitment
from healthcode.domain.errors import InvalidInput
from healthcode.services.context import ServiceContext
from healthcode.services.ports import Checkpoint
from healthcode.services.public import public_read
from healthcode.services.venues import names_within

PAGE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class LogEntryView:
    seq: int
    entry: str
    leaf_hash: str


@dataclass(frozen=True, slots=True)
class AboutEntry:
    """One log entry about a person, as they see it: who (role and pseudonym), did what, why,
    when and with what outcome — for "who read my record, in which role, why, when" (PRIV-4)."""

    seq: int | None  # None: pending, in the log's queue, not yet sequenced (within a second)
    time: int
    action: str
    actor_role: str
    actor_ref: str
    purpose: str
    basis: str
    outcome: str
    details: dict[str, str | int]
    object_ref: str = ""  # what it was about: a case, an order, the person themselves

    @property
    def pending(self) -> bool:
        return self.seq is None


ABOUT_LIMIT = 500


@dataclass(frozen=True, slots=True)
class ReadVisit:
    """A visit of mine a trace read and found: where and when (what my own record may say)."""

    venue_id: str
    venue_name: str
    start: int


def visits_found_by_case(ctx: ServiceContext, subject_id: str) -> dict[str, list[ReadVisit]]:
    """Case id -> the visits of this person that its traces found (their exposures), for their
    own record ("your visit to X on D was read in tracing case K"). The caller has passed the
    person's own access gate; nothing here is on the public log."""
    with ctx.uow(read_only=True) as uow:
        found = uow.exposures.of_subject(subject_id)
        names = names_within(uow, {e.venue_id for e in found}, True)
    out: dict[str, list[ReadVisit]] = {}
    for e in sorted(found, key=lambda x: x.start):
        out.setdefault(e.case_id, []).append(
            ReadVisit(e.venue_id, names.get(e.venue_id, e.venue_id), e.start)
        )
    return out


def about_subject(
    ctx: ServiceContext, subject_id: str, limit: int = ABOUT_LIMIT
) -> list[AboutEntry]:
    """Every entry about this person (newest first, at most `limit`), found by their commitment.
    The caller has passed the access gate: only the person (or their guardian) asks this."""
    with ctx.uow(read_only=True) as uow:
        identity = uow.vault.get(subject_id)
        if identity is None:
            return []
        ref = commitment(identity.commit_key, subject_id)
        wanted = min(limit, ABOUT_LIMIT)
        queued = uow.log.pending_about(ref, wanted)
        found: list[tuple[int | None, str]] = [(None, text) for _, text in queued]
        found += list(uow.log.about(ref, wanted - len(found)))
    out = []
    for seq, text in found:
        e = json.loads(text)
        out.append(
            AboutEntry(
                seq,
                e["time"],
                e["action"],
                e["actor"]["role"],
                e["actor"]["ref"],
                e["purpose"],
                e["basis"],
                e["outcome"],
                e["details"],
                e["object"]["ref"],
            )
        )
    return out


def sequence(ctx: ServiceContext) -> int:
    """Sequence whatever waits in the log's queue (the server does it every second, for the
    entries of a process that died between its commit and its sequencing)."""
    return ctx.uow.sequence()


@dataclass(frozen=True, slots=True)
class LogQueue:
    pending: int
    oldest_seconds: int  # how long the oldest queued entry has waited (0: none waits)


def log_queue(ctx: ServiceContext) -> LogQueue:
    with ctx.uow(read_only=True) as uow:
        count, oldest = uow.log.pending()
    waited = 0 if oldest is None else max(0, ctx.clock.now() - oldest)
    return LogQueue(count, waited)


def log_size(ctx: ServiceContext) -> int:
    with ctx.uow(read_only=True) as uow:
        return uow.log.size()


def read_entries(ctx: ServiceContext, start: int, end: int) -> list[LogEntryView]:
    if start < 0 or end < start:
        raise InvalidInput("need 0 ≤ start ≤ end", field="start", code="range")
    end = min(end, start + PAGE_LIMIT)
    with ctx.uow(read_only=True) as uow:
        return [
            LogEntryView(seq, text, leaf.hex()) for seq, text, leaf in uow.log.entries(start, end)
        ]


def export_lines(ctx: ServiceContext, batch: int = 5000) -> Iterator[str]:
    """The log in the export format that `healthcode audit verify` checks (JSON Lines)."""
    with ctx.uow(read_only=True) as uow:
        size = uow.log.size()
        for start in range(0, size, batch):
            for seq, text, leaf in uow.log.entries(start, min(size, start + batch)):
                yield json.dumps(
                    {"seq": seq, "entry": text, "leaf_hash": leaf.hex()}, ensure_ascii=False
                )


def checkpoints(ctx: ServiceContext, after: int = 0) -> list[Checkpoint]:
    with public_read(ctx) as uow:
        return uow.log.checkpoints(after)


def latest_checkpoint(ctx: ServiceContext, *, primary: bool = False) -> Checkpoint | None:
    """The newest signed checkpoint: a public read (a replica's, within its bound), or with
    `primary` the primary's, for a caller that must see its own last commit."""
    with ctx.uow(read_only=True) if primary else public_read(ctx) as uow:
        return uow.log.latest_checkpoint()


def checkpoint_now(ctx: ServiceContext, *, force: bool = False) -> Checkpoint | None:
    """The T-seconds half of the checkpoint rule; appends handle the N-entries half."""
    with ctx.uow() as uow:
        uow.log.integrate(ctx.clock.now())  # what waits in the queue is covered too
        made = uow.log.checkpoint(ctx.clock.now(), force=force)
        uow.commit()
        return made


def _check_size(size: int, tree_size: int, field: str) -> None:
    if not 0 < size <= tree_size:
        raise InvalidInput(
            "%(field)s must be between 1 and the log size %(tree_size)s",
            field=field,
            code="range",
            params={"field": field, "tree_size": tree_size},
        )


def root(ctx: ServiceContext, size: int) -> bytes:
    with public_read(ctx, size) as uow:
        _check_size(size, uow.log.size(), "size")
        return uow.log.root(size)


def inclusion_proof(ctx: ServiceContext, index: int, size: int) -> list[bytes]:
    with public_read(ctx, size) as uow:
        _check_size(size, uow.log.size(), "size")
        if not 0 <= index < size:
            raise InvalidInput("index must be below size", field="index", code="range")
        return uow.log.inclusion_proof(index, size)


def consistency_proof(ctx: ServiceContext, old: int, new: int) -> list[bytes]:
    with public_read(ctx, new) as uow:
        _check_size(new, uow.log.size(), "new")
        if not 0 < old <= new:
            raise InvalidInput("old must be between 1 and new", field="old", code="range")
        return uow.log.consistency_proof(old, new)
