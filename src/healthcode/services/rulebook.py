"""The rule sets as the other services use them: parsed once, the active one, and the dry run
that every rule set must pass before it is stored (evaluation must never throw)."""

from __future__ import annotations

import itertools
import json

from healthcode.domain.errors import InvalidInput, Unavailable
from healthcode.domain.facts import (
    ATTRIBUTES,
    RULE_KINDS,
    VALUES,
    Fact,
    FactKind,
    Symptom,
    facts_data,
    iso,
)
from healthcode.domain.rulesets import RuleSet, parse_ruleset
from healthcode.domain.status import DAY, applies
from healthcode.services.ports import RuleEngine, StoredRuleSet, UnitOfWork

_PARSED: dict[str, RuleSet] = {}  # by document digest: a stored rule set never changes
SAMPLE_TIME = 1_700_000_000


def parsed(stored: StoredRuleSet) -> RuleSet:
    ruleset = _PARSED.get(stored.digest)
    if ruleset is None:
        document = json.loads(stored.document)
        ruleset = _PARSED[stored.digest] = parse_ruleset(document, stored=True)
    return ruleset


def active_ruleset(uow: UnitOfWork) -> RuleSet:
    stored = uow.rulesets.active()
    if stored is None:
        raise Unavailable("no rule set is active: run `healthcode init`", code="no_ruleset")
    return parsed(stored)


def _sample_attrs(kind: FactKind) -> list[dict[str, object]]:
    """Every combination of the closed values of a kind, with typical values for the rest."""
    typical: dict[type, object] = {str: "sample", int: 30, bool: False, list: ["fever"]}
    names = list(ATTRIBUTES[kind])
    choices: list[list[object]] = []
    for name in names:
        closed = VALUES.get((kind, name))
        if closed:
            choices.append(list(closed))
        elif kind is FactKind.SYMPTOMS:
            choices.append([[s.value for s in Symptom], []])
        elif kind is FactKind.CASE and name in ("window_start", "window_end"):
            choices.append([iso(SAMPLE_TIME)])
        elif ATTRIBUTES[kind][name] is bool:
            choices.append([False, True])
        else:
            choices.append([typical[ATTRIBUTES[kind][name]], 0])
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]


def sample_facts() -> list[Fact]:
    """One of every kind rules read and every closed value, spread over a month."""
    facts: list[Fact] = []
    for kind in RULE_KINDS:
        for i, attrs in enumerate(_sample_attrs(kind)):
            facts.append(Fact(f"{kind.value[0]}{i}", kind, SAMPLE_TIME + i * DAY, attrs))  # type: ignore[arg-type]
    return facts


def dry_run(engine: RuleEngine, ruleset: RuleSet) -> None:
    """Run every rule on sample facts, alone and among all the others: a rule whose condition
    throws on any of them is refused, naming it."""
    everything = sample_facts()
    for i, rule in enumerate(ruleset.rules):
        for fact in (f for f in everything if f.kind is rule.fact):
            for context in ([fact], everything):
                data: dict[str, object] = {"facts": facts_data(context), "now": iso(fact.time)}
                try:
                    applies(rule, fact, data, engine.apply)
                except Exception as exc:
                    raise InvalidInput(
                        "rule %(rule_id)s fails on a sample %(value)s fact: %(value2)s",
                        field=f"$.rules[{i}].logic",
                        code="rule_fails",
                        params={
                            "rule_id": repr(rule.rule_id),
                            "value": fact.kind.value,
                            "value2": str(exc)[:120],
                        },
                    ) from None
