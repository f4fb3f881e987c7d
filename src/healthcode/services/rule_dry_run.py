"""A city-wide dry run of a published rule set: how many colours would change if it were
activated now, and why, without changing anything.

Everyone the rules may concern (anyone with a health fact, or not green) is derived twice at the
same instant, from the same facts: under the active rule set and under the candidate. Only
colour changes are counted, grouped by (from, to, rule): the candidate's rule that gives the new
colour, or, for a return to green, the active rule that stops applying. Nothing is stored.

It also shows where the people who would turn yellow or red are: their spread over venues,
districts, days and hours, from the exposures their new colour rests on. A rule set whose new
colours concentrate on one venue, one district or one hour (at least `min_people` people, and
at least `percent` % of them in one place or hour: published settings) looks like a rule written
against one event rather than against the epidemic: its activation then needs an auditor
(services/rule_approval.py), and the activation's log entry says how concentrated it was, for
the anomaly watch and the public.

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
from dataclasses import dataclass, field

from healthcode.domain.audit import Actor, LogEntry
from healthcode.domain.errors import NotFound
from healthcode.domain.facts import Fact
from healthcode.domain.rulesets import RuleSet
from healthcode.domain.status import derive
from healthcode.services.context import ServiceContext
from healthcode.services.ports import StoredExposure, UnitOfWork
from healthcode.services.rulebook import active_ruleset, parsed
from healthcode.services.rules import RULES_BASIS
from healthcode.services.status import facts_by_subject

BATCH = 500
TOP = 10  # the largest groups the dry run shows
DAY, HOUR = 86400, 3600


@dataclass(frozen=True, slots=True)
class Shift:
    """`people` would go from `before` to `after` because of `rule_ref`."""

    before: str
    after: str
    rule_ref: str
    people: int


@dataclass(frozen=True, slots=True)
class Spread:
    """Where the people a candidate would turn yellow or red are, by venue, district, day and
    hour (of the exposures their new colour rests on; the day of any other fact), largest first,
    and the concentration that needs an auditor, if any: (dimension, value, people)."""

    coloured: int = 0  # people who would turn yellow or red
    venues: tuple[tuple[str, int], ...] = ()
    districts: tuple[tuple[str, int], ...] = ()
    days: tuple[tuple[int, int], ...] = ()  # UTC day start
    hours: tuple[tuple[int, int], ...] = ()  # UTC hour start
    concentrated: tuple[str, str, int] | None = None


@dataclass(frozen=True, slots=True)
class DryRun:
    candidate: str  # "set@version"
    active: str
    at: int
    people: int  # everyone considered
    changed: int  # of whom this many would change colour
    shifts: tuple[Shift, ...]  # the largest first
    problems: tuple[tuple[str, int], ...]  # candidate rules that failed to evaluate, per person
    spread: Spread = Spread()


@dataclass
class _Tally:
    """Counts of the people turning yellow or red, by where and when their evidence is."""

    coloured: int = 0
    venues: Counter[str] = field(default_factory=Counter)
    districts: Counter[str] = field(default_factory=Counter)
    days: Counter[int] = field(default_factory=Counter)
    hours: Counter[int] = field(default_factory=Counter)

    def add(self, venues: set[str], districts: set[str], times: set[int]) -> None:
        self.coloured += 1
        self.venues.update(venues)
        self.districts.update(districts)
        self.days.update({t - t % DAY for t in times})
        self.hours.update({t - t % HOUR for t in times})

    def spread(self, min_people: int, percent: int) -> Spread:
        found = None
        if self.coloured >= min_people:
            for dimension, counts in (("venue", self.venues), ("district", self.districts),
                                      ("hour", self.hours)):  # fmt: skip
                for value, n in counts.most_common(1):
                    if n * 100 >= percent * self.coloured and (found is None or n > found[2]):
                        found = (dimension, str(value), n)
        return Spread(
            self.coloured,
            tuple(self.venues.most_common(TOP)),
            tuple(self.districts.most_common(TOP)),
            tuple(self.days.most_common(TOP)),
            tuple(self.hours.most_common(TOP)),
            found,
        )


def _where(
    uow: UnitOfWork, evidence: tuple[str, ...], exposures: list[StoredExposure],
    facts: list[Fact], districts: dict[str, str | None],
) -> tuple[set[str], set[str], set[int]]:  # fmt: skip
    """The venues, districts and times of a colour's evidence."""
    wanted = set(evidence)
    venues: set[str] = set()
    times: set[int] = {f.time for f in facts if f.fact_id in wanted}
    for e in exposures:
        if e.exposure_id in wanted:
            venues.add(e.venue_id)
            times.add(e.start)
    for venue_id in venues - districts.keys():
        venue = uow.venues.get(venue_id)
        districts[venue_id] = venue.draft.district if venue else None
    named = {d for v in venues if (d := districts.get(v))}
    return venues, named, times


def compare(
    ctx: ServiceContext, uow: UnitOfWork, candidate: RuleSet, active: RuleSet, now: int
) -> tuple[int, Counter[tuple[str, str, str]], Counter[str], Spread]:
    """Everyone concerned derived under both rule sets: (people, shifts, problems, spread)."""
    shifts: Counter[tuple[str, str, str]] = Counter()
    problems: Counter[str] = Counter()
    tally = _Tally()
    districts: dict[str, str | None] = {}
    concerned = sorted(set(uow.statuses.with_facts()) | set(uow.statuses.not_green()))
    for start in range(0, len(concerned), BATCH):
        batch = concerned[start : start + BATCH]
        facts = facts_by_subject(uow, batch)
        coloured: list[tuple[str, tuple[str, ...]]] = []  # (person, new evidence)
        for subject_id in batch:
            before = derive(active, facts[subject_id], now, ctx.rules.apply)
            after = derive(candidate, facts[subject_id], now, ctx.rules.apply)
            problems.update(after.problems)
            if before.colour == after.colour:
                continue
            why = after.rule_ref if after.colour != "green" else before.rule_ref
            shifts[(before.colour, after.colour, why)] += 1
            if after.colour != "green":
                coloured.append((subject_id, after.evidence))
        # Where the new colours fall: the exposures of those people only.
        exposures = uow.exposures.of_subjects([s for s, _ in coloured]) if coloured else {}
        for subject_id, evidence in coloured:
            tally.add(*_where(uow, evidence, exposures.get(subject_id, []), facts[subject_id],
                              districts))  # fmt: skip
    policy = ctx.policy
    spread = tally.spread(policy.rule_concentration_people, policy.rule_concentration_percent)
    return len(concerned), shifts, problems, spread


def dry_run_ruleset(ctx: ServiceContext, set_id: str, version: int, actor: Actor) -> DryRun:
    now = ctx.clock.now()
    with ctx.uow(read_only=True) as uow:
        stored = uow.rulesets.get(set_id, version)
        if stored is None:
            raise NotFound("no such rule set version", field="version")
        candidate, active = parsed(stored), active_ruleset(uow)
        people, shifts, problems, spread = compare(ctx, uow, candidate, active, now)
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
                details={"digest": stored.digest, "people": people, "changed": changed},
            ),
            now,
        )
        uow.commit()
    return DryRun(
        ref,
        f"{active.set_id}@{active.version}",
        now,
        people,
        changed,
        tuple(
            Shift(b, a, rule, n)
            for (b, a, rule), n in sorted(shifts.items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        tuple(sorted(problems.items())),
        spread,
    )
