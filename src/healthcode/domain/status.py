"""A person's colour, derived from their health facts and the active rule set — never stored as
a decision, never set by hand (manual orders, when they come, are facts with their own rules).

Each rule is tried on each of the person's facts of its kind: it applies from the fact's time for
`lasts_days` days while its CertLogic condition holds. The colour is the worst colour of the rules
that apply; its provenance is the rule that holds it longest (rule set@version#rule) and the ids
of the facts behind it. When every rule has run out the colour is green again, by itself.

Evaluation never throws: a condition that fails on some data counts as not applying, and the
failure is reported with the status (a rule set is dry-run on sample facts before it can be
activated, so this should not happen).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from healthcode.domain.facts import Fact, as_data, facts_data, iso
from healthcode.domain.rulesets import Rule, RuleSet, colour_rank

DAY = 86400

Apply = Callable[[object, object], object]  # CertLogic: (logic, data) -> value


@dataclass(frozen=True, slots=True)
class Finding:
    """`rule` applies because of `fact`, from `since` until `until`."""

    rule: Rule
    fact: Fact
    since: int
    until: int


@dataclass(frozen=True, slots=True)
class Status:
    colour: str
    rule_ref: str
    evidence: tuple[str, ...]  # ids of the facts behind the colour
    since: int | None  # when the current colour began (None: green without a rule)
    until: int | None  # when it ends, unless new facts arrive
    findings: tuple[Finding, ...]  # every rule that applies now, any colour
    problems: tuple[str, ...] = ()  # rules whose condition failed to evaluate

    def same_as(self, colour: str, rule_ref: str, evidence: str) -> bool:
        return (self.colour, self.rule_ref, ",".join(self.evidence)) == (
            colour,
            rule_ref,
            evidence,
        )


def truthy(value: object) -> bool:
    """CertLogic truthiness: null, false, 0, NaN, "" and empty collections are false."""
    if isinstance(value, float) and value != value:
        return False
    return bool(value)


def applies(rule: Rule, fact: Fact, data: dict[str, object], apply: Apply) -> bool:
    return truthy(apply(rule.logic, {**data, "fact": as_data(fact)}))


def derive(ruleset: RuleSet, facts: Sequence[Fact], now: int, apply: Apply) -> Status:
    shared: dict[str, object] = {"facts": facts_data(facts), "now": iso(now)}
    seen: dict[str, dict[str, object]] = {}  # each fact as a rule sees it, built once
    findings: list[Finding] = []
    problems: list[str] = []
    for rule in ruleset.rules:
        for fact in facts:
            until = fact.time + rule.lasts_days * DAY
            if fact.kind is not rule.fact or not fact.time <= now < until:
                continue
            data = seen.get(fact.fact_id)
            if data is None:
                data = seen[fact.fact_id] = as_data(fact)
            try:
                hit = truthy(apply(rule.logic, {**shared, "fact": data}))
            except Exception:
                problems.append(rule.rule_id)
                continue
            if hit:
                findings.append(Finding(rule, fact, fact.time, until))
    if not findings:
        return Status("green", ruleset.ref(), (), None, None, (), tuple(sorted(set(problems))))
    worst = max(colour_rank(f.rule.colour) for f in findings)
    top = [f for f in findings if colour_rank(f.rule.colour) == worst]
    holding = max(top, key=lambda f: (f.until, f.rule.rule_id))
    return Status(
        holding.rule.colour,
        ruleset.ref(holding.rule.rule_id),
        tuple(sorted({f.fact.fact_id for f in top})),
        min(f.since for f in top),
        holding.until,
        tuple(findings),
        tuple(sorted(set(problems))),
    )
