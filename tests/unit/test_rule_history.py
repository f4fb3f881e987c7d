"""What changed between two versions of a rule set, as the public rules page lists it."""

from __future__ import annotations

import json
from pathlib import Path

from healthcode.domain.rulesets import parse_ruleset
from healthcode.services.rule_history import RuleChange, changes_between

DEFAULT = Path("src/healthcode/rulesets/default.json")


def test_added_removed_and_changed_rules_are_named_with_what_changed() -> None:
    doc = json.loads(DEFAULT.read_text(encoding="utf-8"))
    old = parse_ruleset(doc)
    assert changes_between(old, old) == ()
    doc["version"] = 2
    first, last = doc["rules"][0], doc["rules"][-1]
    first["lasts_days"] = 10
    first["description"]["en"] = "Positive test: red for 10 days."
    doc["rules"] = [{**last, "id": "new"}, *doc["rules"][:-1]]
    new = parse_ruleset(doc)
    assert changes_between(old, new) == (
        RuleChange("new", "added"),
        RuleChange(first["id"], "changed", ("lasts_days", "description")),
        RuleChange(last["id"], "removed"),
    )
