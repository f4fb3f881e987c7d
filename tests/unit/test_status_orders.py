"""Status derivation with manual orders: an order in force is a colour of its own, named in the
provenance (AUTHZ-6), joining the worst-colour choice without being a rule; no rule may read it."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from healthcode.adapters.certlogic import CertLogicEngine
from healthcode.domain.errors import InvalidInput
from healthcode.domain.facts import Fact, FactKind, facts_data, hypothetical
from healthcode.domain.orders import ManualOrder, order_fact
from healthcode.domain.rulesets import parse_ruleset
from healthcode.domain.status import DAY, derive

ENGINE = CertLogicEngine()
DOC = json.loads(resources.files("healthcode.rulesets").joinpath("default.json").read_text("utf-8"))
RULES = parse_ruleset(DOC)
T0 = 1_795_000_000


def order(order_id: str, colour: str, start: int, days: int) -> Fact:
    made = ManualOrder(
        order_id, colour, "idcl2013_art39", "a reason of some length", days, 1, "active",
        "s1", "tracer", start - 60, "s2", "health_officer", start, starts_at=start,
        ends_at=start + days * DAY,
    )  # fmt: skip
    return order_fact(made)


def exposure(level: str, start: int) -> Fact:
    return Fact("e1", FactKind.EXPOSURE, start, {"level": level, "minutes": 60})


def test_an_order_alone_colours_and_names_itself() -> None:
    s = derive(RULES, [order("oaaaaaaaaa", "red", T0, 3)], T0 + 10, ENGINE.apply)
    assert (s.colour, s.rule_ref, s.evidence) == ("red", "order:oaaaaaaaaa", ("oaaaaaaaaa",))
    assert (s.since, s.until) == (T0, T0 + 3 * DAY)
    assert s.findings == ()
    assert len(s.orders) == 1
    assert s.problems == ()
    assert len(s.rule_ref) <= 16  # fits a health code's rule reference


def test_an_order_applies_only_between_its_start_and_its_end() -> None:
    facts = [order("oaaaaaaaaa", "red", T0, 3)]
    for now in (T0 - 1, T0 + 3 * DAY, T0 + 10 * DAY):
        s = derive(RULES, facts, now, ENGINE.apply)
        assert (s.colour, s.rule_ref, s.evidence) == ("green", "default@1#none", ())


def test_worst_colour_wins_and_the_longer_holder_is_named() -> None:
    close = exposure("close", T0)  # red by rule for 7 days
    s = derive(RULES, [close, order("oaaaaaaaaa", "yellow", T0, 14)], T0 + 10, ENGINE.apply)
    assert (s.colour, s.rule_ref, s.evidence) == ("red", "default@1#close", ("e1",))
    s = derive(RULES, [close, order("oaaaaaaaaa", "red", T0, 3)], T0 + 10, ENGINE.apply)
    assert (s.colour, s.rule_ref) == ("red", "default@1#close")  # the rule lasts longer
    s = derive(RULES, [close, order("oaaaaaaaaa", "red", T0, 10)], T0 + 10, ENGINE.apply)
    assert (s.colour, s.rule_ref, s.until) == ("red", "order:oaaaaaaaaa", T0 + 10 * DAY)
    second = exposure("secondary", T0)  # yellow by rule
    s = derive(RULES, [second, order("oaaaaaaaaa", "red", T0, 1)], T0 + 10, ENGINE.apply)
    assert (s.colour, s.rule_ref) == ("red", "order:oaaaaaaaaa")
    s = derive(RULES, [second, order("oaaaaaaaaa", "red", T0, 1)], T0 + DAY, ENGINE.apply)
    assert (s.colour, s.rule_ref) == ("yellow", "default@1#second")  # back to the rule


def test_a_malformed_order_is_a_problem_not_an_exception() -> None:
    bad = Fact("obbbbbbbbb", FactKind.ORDER, T0, {"colour": "green", "until": T0 + DAY})
    s = derive(RULES, [bad], T0 + 10, ENGINE.apply)
    assert (s.colour, s.problems) == ("green", ("order:obbbbbbbbb",))


def test_rules_never_see_orders() -> None:
    assert "orders" not in facts_data([order("oaaaaaaaaa", "red", T0, 3)])
    assert all(v == [] for v in facts_data([order("oaaaaaaaaa", "red", T0, 3)]).values())
    on_orders = {**DOC, "rules": [{**DOC["rules"][0], "fact": "order", "logic": True}]}
    with pytest.raises(InvalidInput) as refused:
        parse_ruleset(on_orders)
    assert refused.value.field == "$.rules[0].fact"
    reads_orders = {
        **DOC,
        "rules": [{**DOC["rules"][0], "logic": {"reduce": [{"var": "facts.orders"}, True, False]}}],
    }
    with pytest.raises(InvalidInput):
        parse_ruleset(reads_orders)
    with pytest.raises(InvalidInput) as what_if:
        hypothetical(0, "order", T0, {})
    assert what_if.value.field == "facts[0].kind"
