"""Rule sets: the checker refuses what is not CertLogic over the health-fact vocabulary; the
shipped default rule set behaves as published; colours run out by themselves."""

from __future__ import annotations

import copy
import json
import time
from importlib import resources
from typing import Any

import pytest
import time_machine

from healthcode.adapters.certlogic import CertLogicEngine
from healthcode.domain.errors import InvalidInput
from healthcode.domain.facts import Fact, FactKind, hypothetical
from healthcode.domain.rulesets import kinds_used, parse_ruleset, split_ref
from healthcode.domain.status import derive
from healthcode.services.rulebook import dry_run

DAY = 86400
T0 = 1_795_000_000
AT_T0 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0))  # an absolute time, as a literal
ENGINE = CertLogicEngine()
DEFAULT: dict[str, Any] = json.loads(
    resources.files("healthcode.rulesets").joinpath("default.json").read_text("utf-8")
)
RULES = parse_ruleset(DEFAULT)


def doc_with(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(DEFAULT)
    rule = doc["rules"][0]
    for key, value in changes.items():
        if key.startswith("rule_"):
            rule[key[5:]] = value
        else:
            doc[key] = value
    return doc


def colour(facts: list[Fact], at: int) -> tuple[str, str]:
    status = derive(RULES, facts, at, ENGINE.apply)
    return status.colour, status.rule_ref


def test_the_default_rule_set_is_valid_and_passes_its_dry_run() -> None:
    assert RULES.ref("close") == "default@1#close"
    assert RULES.refuse_at_gate == {"yellow", "red"}
    dry_run(ENGINE, RULES)
    assert FactKind.VACCINATION not in kinds_used(RULES)


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"rule_logic": {"or": [True, False]}}, "$.rules[0].logic", "unknown_operation"),
        ({"rule_logic": {"var": "fact.district"}}, "$.rules[0].logic", "unknown_variable"),
        ({"rule_logic": {"var": "facts.arrival_station"}}, "$.rules[0].logic", "unknown_variable"),
        ({"rule_logic": {"===": [{"var": "resident.credit_score"}, 1]}}, "$.rules[0].logic[0]",
         "unknown_variable"),
        ({"rule_logic": {"reduce": [{"var": "facts.tests"}, {"reduce": [
            {"var": "facts.tests"}, True, False]}, False]}}, "$.rules[0].logic[1]",
         "invalid_ruleset"),
        ({"rule_logic": {"reduce": [{"var": "fact.result"}, True, False]}},
         "$.rules[0].logic[0]", "invalid_ruleset"),
        ({"rule_logic": {"===": [1], "!": [2]}}, "$.rules[0].logic", "invalid_ruleset"),
        ({"rule_colour": "green"}, "$.rules[0].colour", "invalid_ruleset"),
        ({"rule_fact": "district"}, "$.rules[0].fact", "invalid_ruleset"),
        ({"rule_lasts_days": 0}, "$.rules[0].lasts_days", "invalid_ruleset"),
        ({"rule_lasts_days": True}, "$.rules[0].lasts_days", "invalid_ruleset"),
        ({"rule_id": "Positive"}, "$.rules[0].id", "invalid_ruleset"),
        ({"rule_id": "none"}, "$.rules[0].id", "invalid_ruleset"),
        ({"rule_advice": {"zh": "回家"}}, "$.rules[0].advice", "invalid_ruleset"),
        ({"rule_description": {"zh": " ", "en": "x"}}, "$.rules[0].description.zh",
         "invalid_ruleset"),
        ({"rule_behaviour": "civility"}, "$.rules[0].behaviour", "invalid_ruleset"),
        ({"refuse_at_gate": ["yellow"]}, "$.refuse_at_gate", "invalid_ruleset"),
        ({"ruleset": "longer-than-ten"}, "$.ruleset", "invalid_ruleset"),
        ({"ruleset": "defaults", "version": 100}, "$.rules[1].id", "invalid_ruleset"),
        ({"version": 0}, "$.version", "invalid_ruleset"),
        ({"rules": []}, "$.rules", "invalid_ruleset"),
        ({"score": 3}, "$.score", "invalid_ruleset"),
        # Rules cannot target people or events: no identifier, no date, no hour, no title.
        ({"rule_logic": {"in": [{"var": "fact.id"}, ["t1", "t2"]]}}, "$.rules[0].logic[0]",
         "unknown_variable"),
        ({"rule_logic": {"in": [{"var": "fact.result"}, ["positive", "t2"]]}},
         "$.rules[0].logic[1][1]", "literal"),
        ({"rule_logic": {"after": [{"var": "fact.time"}, AT_T0]}},
         "$.rules[0].logic[1]", "literal"),
        ({"rule_logic": {"before": [{"var": "now"}, {"plusTime": [{"var": "fact.time"}, 1,
          "hour"]}]}}, "$.rules[0].logic[1][2]", "literal"),
        ({"rule_logic": {"<": [1, 10**9]}}, "$.rules[0].logic[1]",
         "literal"),
        ({"title": {"zh": "第1版", "en": "version 1"}}, "$.title", "invalid_ruleset"),
    ],
)  # fmt: skip
@time_machine.travel(T0, tick=False)  # a date in a rule is refused whatever the day is
def test_the_checker_names_what_is_wrong(changes: dict[str, Any], field: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_ruleset(doc_with(**changes))
    assert (caught.value.field, caught.value.code) == (field, code)


def test_versions_and_titles_are_the_systems() -> None:
    stated = parse_ruleset(doc_with(version=2), next_version=2)
    assert stated.version == 2
    assert stated.title.en == "Rule set default, version 2"
    unstated = copy.deepcopy(DEFAULT)
    del unstated["version"]
    assert parse_ruleset(unstated, next_version=3).version == 3
    with pytest.raises(InvalidInput) as ahead:
        parse_ruleset(doc_with(version=9), next_version=3)
    assert (ahead.value.field, ahead.value.code) == ("$.version", "version_number")
    legacy = {**DEFAULT, "title": {"zh": "第1版", "en": "version 1"}}
    assert parse_ruleset(legacy, stored=True).title.en == "Rule set default, version 1"


def test_a_rule_id_used_twice_is_refused() -> None:
    doc = copy.deepcopy(DEFAULT)
    doc["rules"][1]["id"] = doc["rules"][0]["id"]
    with pytest.raises(InvalidInput, match="used twice"):
        parse_ruleset(doc)


THROWS = {"after": [{"var": "fact.result"}, {"var": "now"}]}  # "positive" is not a time


def test_a_condition_that_throws_is_refused_by_the_dry_run() -> None:
    broken = parse_ruleset(doc_with(rule_logic=THROWS))
    with pytest.raises(InvalidInput) as caught:
        dry_run(ENGINE, broken)
    assert (caught.value.field, caught.value.code) == ("$.rules[0].logic", "rule_fails")


def test_evaluation_never_throws_it_reports_the_rule() -> None:
    broken = parse_ruleset(doc_with(rule_logic=THROWS))
    status = derive(broken, [Fact("t1", FactKind.TEST, T0, {"result": "positive"})], T0 + 1,
                    ENGINE.apply)  # fmt: skip
    assert status.colour == "green"
    assert status.problems == ("pos",)


def test_positive_is_red_for_14_days_and_a_later_negative_ends_it() -> None:
    positive = Fact("t1", FactKind.TEST, T0, {"result": "positive"})
    assert colour([positive], T0) == ("red", "default@1#pos")
    assert colour([positive], T0 + 14 * DAY - 1) == ("red", "default@1#pos")
    assert colour([positive], T0 + 14 * DAY) == ("green", "default@1#none")
    early = Fact("t2", FactKind.TEST, T0 + 3 * DAY, {"result": "negative"})
    assert colour([positive, early], T0 + 4 * DAY)[0] == "red"  # too early to count
    late = Fact("t3", FactKind.TEST, T0 + 8 * DAY, {"result": "negative"})
    assert colour([positive, late], T0 + 9 * DAY)[0] == "green"


def test_close_contact_red_until_quarantine_completed_secondary_yellow() -> None:
    close = Fact("x1", FactKind.EXPOSURE, T0, {"level": "close", "minutes": 40})
    status = derive(RULES, [close], T0 + DAY, ENGINE.apply)
    assert (status.colour, status.rule_ref, status.evidence) == ("red", "default@1#close", ("x1",))
    assert status.until == T0 + 7 * DAY
    done = Fact("q1", FactKind.QUARANTINE, T0 + 5 * DAY, {"days": 5})
    assert colour([close, done], T0 + 5 * DAY)[0] == "green"
    secondary = Fact("x2", FactKind.EXPOSURE, T0, {"level": "secondary", "minutes": 20})
    assert colour([secondary], T0 + DAY) == ("yellow", "default@1#second")
    # the worse colour wins and cites its own evidence
    both = derive(RULES, [close, secondary], T0 + DAY, ENGINE.apply)
    assert (both.colour, both.evidence) == ("red", ("x1",))
    assert {f.rule.rule_id for f in both.findings} == {"close", "second"}


def test_symptoms_yellow_and_an_inconclusive_test_yellow_until_a_clear_one() -> None:
    fever = Fact("s1", FactKind.SYMPTOMS, T0, {"symptoms": ["fever"]})
    assert colour([fever], T0 + DAY) == ("yellow", "default@1#sympt")
    assert colour([fever], T0 + 3 * DAY)[0] == "green"
    unsure = Fact("t1", FactKind.TEST, T0, {"result": "inconclusive"})
    assert colour([unsure], T0 + 1) == ("yellow", "default@1#unsure")
    clear = Fact("t2", FactKind.TEST, T0 + 3600, {"result": "negative"})
    assert colour([unsure, clear], T0 + 7200)[0] == "green"


def test_facts_in_the_future_do_not_count_yet() -> None:
    positive = Fact("t1", FactKind.TEST, T0 + DAY, {"result": "positive"})
    assert colour([positive], T0)[0] == "green"


def test_split_ref() -> None:
    assert split_ref("default@1#close") == ("default", 1, "close")
    assert split_ref("nonsense") is None


@pytest.mark.parametrize(
    ("kind", "attrs", "field"),
    [
        ("district", {}, "facts[0].kind"),
        ("case", {}, "facts[0].kind"),
        ("test", {"result": "maybe"}, "facts[0].result"),
        ("test", {}, "facts[0].result"),
        ("test", {"result": "negative", "district": "x"}, "facts[0].district"),
        ("exposure", {"level": "close", "minutes": 9999}, "facts[0].minutes"),
        ("exposure", {"level": "close", "minutes": "ten"}, "facts[0].minutes"),
        ("symptoms", {"symptoms": ["sadness"]}, "facts[0].symptoms"),
        ("quarantine", {"days": 0}, "facts[0].days"),
        ("vaccination", {"dose": 1, "product": "snake_oil"}, "facts[0].product"),
        ("vaccination", {"dose": 0, "product": "mrna"}, "facts[0].dose"),
    ],
)
def test_hypothetical_facts_are_checked(kind: str, attrs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        hypothetical(0, kind, T0, attrs)
    assert caught.value.field == field
