"""The compiled form of a CertLogic rule (adapters/certlogic.py) answers exactly as the library's
own `apply` does: on the shipped rules over random facts, and on random expressions over random
data, the same value or the same kind of failure."""

from __future__ import annotations

import json
import math
from importlib import resources
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from healthcode.adapters.certlogic import CertLogicEngine, compile_logic
from healthcode.domain.facts import as_data, facts_data, iso
from healthcode.domain.rulesets import parse_ruleset
from tests.property.test_colour_provenance import T0, facts_strategy

ENGINE = CertLogicEngine()
RULES = parse_ruleset(
    json.loads(resources.files("healthcode.rulesets").joinpath("default.json").read_text("utf-8"))
)

times = st.integers(T0 - 30 * 86400, T0 + 30 * 86400).map(iso)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 40), st.sampled_from(["positive", "close", ""]),
    times, st.sampled_from([iso(T0)[:4] + "-13-01", "not a time", iso(T0)[:10]]),
)  # fmt: skip
paths = st.sampled_from(
    ["fact.time", "fact.result", "fact.level", "now", "current.time", "data.fact.time",
     "accumulator", "facts.tests", "facts.exposures", "missing.path", ""]
)  # fmt: skip


BINARY = st.sampled_from(
    ["===", "<", ">", "<=", ">=", "in", "+", "before", "after", "not-before", "not-after"]
)
UNITS = st.sampled_from(["day", "hour", "month", "year", "week"])


def expressions(depth: int) -> st.SearchStrategy[Any]:
    leaf = st.one_of(scalars, paths.map(lambda p: {"var": p}))
    if depth == 0:
        return leaf
    sub = expressions(depth - 1)
    two = st.tuples(sub, sub).map(list)
    return st.one_of(
        leaf,
        st.builds(lambda op, args: {op: args}, BINARY, two),
        st.builds(lambda args: {"and": args}, st.lists(sub, max_size=3)),
        st.builds(lambda args: {"if": args}, st.lists(sub, max_size=3)),
        st.builds(lambda a: {"!": [a]}, sub),
        st.builds(lambda a, n, unit: {"plusTime": [a, n, unit]}, sub, st.integers(-9, 9), UNITS),
        st.builds(lambda items, body, init: {"reduce": [items, body, init]}, sub, sub, scalars),
    )


def plain(value: Any) -> Any:
    """NaN equals nothing, itself included: compare it by name."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def outcome(run: Any) -> tuple[str, Any]:
    try:
        return "value", plain(run())
    except Exception as exc:  # the same kind of failure either way
        return "error", type(exc).__name__


@settings(max_examples=400, deadline=None)
@given(facts=facts_strategy, now=st.integers(T0 - 10 * 86400, T0 + 20 * 86400))
def test_the_shipped_rules_compiled_answer_as_the_library(facts: Any, now: int) -> None:
    shared = {"facts": facts_data(facts), "now": iso(now)}
    for rule in RULES.rules:
        for fact in facts:
            data = {**shared, "fact": as_data(fact)}
            ours = outcome(lambda r=rule, d=data: ENGINE.apply(r.logic, d))  # type: ignore[misc]
            theirs = outcome(lambda r=rule, d=data: ENGINE.reference(r.logic, d))  # type: ignore[misc]
            assert ours == theirs


@settings(max_examples=1500, deadline=None)
@given(
    logic=expressions(3),
    fact_time=times,
    now=times,
    tests=st.lists(st.fixed_dictionaries({"time": times, "result": scalars}), max_size=3),
)
def test_any_expression_compiled_answers_as_the_library(
    logic: Any, fact_time: str, now: str, tests: list[dict[str, Any]]
) -> None:
    data = {"fact": {"time": fact_time, "result": "positive", "level": "close"}, "now": now,
            "facts": {"tests": tests, "exposures": []}}  # fmt: skip
    ours = outcome(lambda: compile_logic(logic)(data))
    theirs = outcome(lambda: ENGINE.reference(logic, data))
    assert ours == theirs, (logic, data)
