"""A city-wide dry run of a published rule set: how many colours would change if it were
activated now, and why, without changing anything.

Everyone the rules may concern (anyone with a health fact, or not green) is derived twice at the
same instant, from the same facts: under the active rule set and under the candidate. Only
colour changes are counted, grouped by (from, to, rule): the candidate's rule that gives the new
colour, or, for a return to green, the active rule that stops applying. Nothing is stored.

The run is logged (`ruleset.dry_run`: the candidate, its digest, how many people were considered
and how many would change colour; never a person). It reads every person's health facts, and
although it answers with counts only, a candidate crafted to match one fact on one day could
single somebody out through a count of 1. Every privileged read goes on the public log, so this
one does too: anyone can see who dry-ran what, and how often. The facts are read in a read-only
transaction (no writer waits for a city-wide derivation); the entry is appended afterwards, and
if it cannot be, no result is given (fail closed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from healthcode.domain.audit import Actor, LogEntry
from healthcode.domain.errors import NotFound
from healthcode.domain.status import derive
from healthcode.services.context import ServiceContext
from healthcode.services.rulebook import active_ruleset, parsed
from healthcode.services.rules import RULES_BASIS
from healthcode.services.status import facts_by_subject

BATCH = 500


@dataclass(frozen=True, slots=True)
class Shift:
    """`people` would go from `before` to `after` because of `rule_ref`."""

    before: str
    after: str
    rule_ref: str
    people: int


@dataclass(frozen=True, slots=True)
class DryRun:
    candidate: str  # "set@version"
    active: str
    at: int
    people: int  # everyone considered
    changed: int  # of whom this many would change colour
    shifts: tuple[Shift, ...]  # the largest first
    problems: tuple[tuple[str, int], ...]  # candidate rules that failed to evaluate, per person


def dry_run_ruleset(ctx: ServiceContext, set_id: str, version: int, actor: Actor) -> DryRun:
    now = ctx.clock.now()
    shifts: Counter[tuple[str, str, str]] = Counter()
    problems: Counter[str] = Counter()
    with ctx.uow(read_only=True) as uow:
        stored = uow.rulesets.get(set_id, version)
        if stored is None:
            raise NotFound("no such rule set version", field="version")
        candidate, active = parsed(stored), active_ruleset(uow)
        concerned = sorted(set(uow.statuses.with_facts()) | set(uow.statuses.not_green()))
        for start in range(0, len(concerned), BATCH):
            batch = concerned[start : start + BATCH]
            facts = facts_by_subject(uow, batch)
            for subject_id in batch:
                before = derive(active, facts[subject_id], now, ctx.rules.apply)
                after = derive(candidate, facts[subject_id], now, ctx.rules.apply)
                problems.update(after.problems)
                if before.colour != after.colour:
                    why = after.rule_ref if after.colour != "green" else before.rule_ref
                    shifts[(before.colour, after.colour, why)] += 1
    changed = sum(shifts.values())
    ref = f"{set_id}@{version}"
    with ctx.uow() as uow:
        uow.log.append(
            LogEntry(
                "ruleset.dry_run",
                actor,
                "ruleset",
                ref,
                "rule_publication",
                RULES_BASIS,
                details={"digest": stored.digest, "people": len(concerned), "changed": changed},
            ),
            now,
        )
        uow.commit()
    return DryRun(
        ref,
        f"{active.set_id}@{active.version}",
        now,
        len(concerned),
        changed,
        tuple(
            Shift(b, a, rule, n)
            for (b, a, rule), n in sorted(shifts.items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        tuple(sorted(problems.items())),
    )
