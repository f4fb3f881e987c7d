"""The history of the published rule sets, as the public reads it: every version, when it was
published and last activated and by whom according to the log, and what changed from the
version before it.

Who did it comes from the log entries `ruleset.loaded` and `ruleset.activated` (services/rules.py
writes them in the same transaction as the step), not from a table anyone could edit: the page
shows the entry's sequence number so a reader can check it against the log export. They are
found by time, which costs a binary search and a few entries each: a load is logged at exactly
its `loaded_at`; an activation at or a little before its `activated_at` (the store steps past an
earlier activation in the same second).
"""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.domain.rulesets import Rule, RuleSet
from healthcode.services.anomalies import read_since
from healthcode.services.context import ServiceContext
from healthcode.services.ports import UnitOfWork
from healthcode.services.rules import RuleSetInfo, list_rulesets

ACTIVATION_SLACK = 120  # seconds before `activated_at` in which its log entry is looked for


@dataclass(frozen=True, slots=True)
class LoggedStep:
    """A step of a rule set's life as the log records it."""

    seq: int
    time: int
    actor_role: str
    actor_ref: str


@dataclass(frozen=True, slots=True)
class RuleChange:
    """How one rule differs between two versions: added, removed, or changed in `fields`."""

    rule_id: str
    kind: str  # added | removed | changed
    fields: tuple[str, ...] = ()  # colour, fact, lasts_days, logic, description, advice


@dataclass(frozen=True, slots=True)
class VersionHistory:
    info: RuleSetInfo
    loaded: LoggedStep | None
    activated: LoggedStep | None  # the latest activation, if it was ever active
    previous: int | None  # the version it is compared with (same rule set), if any
    changes: tuple[RuleChange, ...]
    gate_changed: bool  # the colours gates refuse differ from the previous version


RULE_FIELDS = ("colour", "fact", "lasts_days", "logic", "description", "advice")


def _differs(old: Rule, new: Rule) -> tuple[str, ...]:
    return tuple(f for f in RULE_FIELDS if getattr(old, f) != getattr(new, f))


def changes_between(old: RuleSet, new: RuleSet) -> tuple[RuleChange, ...]:
    """What `new` changes in `old`'s rules, in `new`'s order, then the removed ones."""
    out: list[RuleChange] = []
    for rule in new.rules:
        before = old.rule(rule.rule_id)
        if before is None:
            out.append(RuleChange(rule.rule_id, "added"))
        elif fields := _differs(before, rule):
            out.append(RuleChange(rule.rule_id, "changed", fields))
    kept = {r.rule_id for r in new.rules}
    out += [RuleChange(r.rule_id, "removed") for r in old.rules if r.rule_id not in kept]
    return tuple(out)


def _step(uow: UnitOfWork, action: str, ref: str, start: int, end: int) -> LoggedStep | None:
    """The latest entry of `action` on rule set `ref` logged in [start, end)."""
    found = [
        e
        for e in read_since(uow, start, end)
        if e.action == action and e.object_kind == "ruleset" and e.object_ref == ref and e.ok
    ]
    if not found:
        return None
    e = found[-1]
    return LoggedStep(e.seq, e.time, e.actor_role, e.actor_ref)


def history(ctx: ServiceContext) -> list[VersionHistory]:
    """Every published version (by rule set, newest version first), with its logged steps and
    its changes from the version before it."""
    infos = sorted(list_rulesets(ctx), key=lambda i: (i.ruleset.set_id, -i.ruleset.version))
    out: list[VersionHistory] = []
    with ctx.uow(read_only=True) as uow:
        for i, info in enumerate(infos):
            rs, stored = info.ruleset, info.stored
            ref = f"{rs.set_id}@{rs.version}"
            loaded = _step(uow, "ruleset.loaded", ref, stored.loaded_at, stored.loaded_at + 1)
            activated = None
            if stored.activated_at is not None:
                at = stored.activated_at
                activated = _step(uow, "ruleset.activated", ref, at - ACTIVATION_SLACK, at + 1)
            older = infos[i + 1].ruleset if i + 1 < len(infos) else None
            if older is not None and older.set_id != rs.set_id:
                older = None
            out.append(
                VersionHistory(
                    info,
                    loaded,
                    activated,
                    older.version if older else None,
                    changes_between(older, rs) if older else (),
                    older is not None and older.refuse_at_gate != rs.refuse_at_gate,
                )
            )
    return out
