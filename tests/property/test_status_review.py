"""A stored status is the derivation until its review instant.

Code display reads the stored status instead of deriving (services/codes.py), so the instant at
which a status is stored to be derived again (domain/status.py: next_review) must never be
later than the first instant at which the derivation, over the same facts, answers otherwise.
On random facts at random times, under the shipped rule set and under a rule set whose rules
compare `now` with fact times by whole days (the only way a rule can read the clock): the
derivation at any instant before the review equals the derivation now, and green with nothing
to look at again is green for ever.
"""

from __future__ import annotations

import json
from importlib import resources

from hypothesis import given, settings
from hypothesis import strategies as st

from healthcode.adapters.certlogic import CertLogicEngine
from healthcode.domain.facts import Fact, FactKind
from healthcode.domain.orders import ManualOrder, order_fact
from healthcode.domain.rulesets import RuleSet, parse_ruleset
from healthcode.domain.status import DAY, Status, derive, next_review, reads_now
from tests.property.test_colour_provenance import T0, fact_strategy

ENGINE = CertLogicEngine()
SHIPPED = json.loads(
    resources.files("healthcode.rulesets").joinpath("default.json").read_text("utf-8")
)
RULES = parse_ruleset(SHIPPED)


def _clocked() -> RuleSet:
    """The shipped rules plus one that reads the clock: a symptom report older than two days
    (and younger than its five-day window) is yellow, which no fact's arrival starts."""
    doc = json.loads(json.dumps(SHIPPED))
    doc["version"] = 2
    doc["rules"].append(
        {
            "id": "linger",
            "colour": "yellow",
            "fact": "symptoms",
            "lasts_days": 5,
            "logic": {
                "not-before": [
                    {"plusTime": [{"var": "now"}, 0, "day"]},
                    {"plusTime": [{"var": "fact.time"}, 2, "day"]},
                ]
            },
            "description": {"zh": "症状持续两天以上：黄码。", "en": "Symptoms for over two days."},
            "advice": {"zh": "请就医检测。", "en": "See a doctor and get tested."},
        }
    )
    return parse_ruleset(doc)


CLOCKED = _clocked()


def order(index: int, colour: str, start: int, days: int) -> Fact:
    made = ManualOrder(
        f"o{index}", colour, "idcl2013_art39", "a reason of some length", days, 1, "active",
        "s1", "tracer", start - 60, "s2", "health_officer", start, starts_at=start,
        ends_at=start + days * DAY,
    )  # fmt: skip
    return order_fact(made)


orders = st.lists(
    st.builds(
        lambda i, colour, start, days: order(i, colour, start, days),
        st.integers(0, 99),
        st.sampled_from(["yellow", "red"]),
        st.integers(T0 - 10 * DAY, T0 + 5 * DAY),
        st.integers(1, 14),
    ),
    max_size=2,
    unique_by=lambda f: f.fact_id,
)
facts = st.integers(0, 6).flatmap(
    lambda n: st.tuples(*[fact_strategy(i) for i in range(n)]).map(list)
)


def same(a: Status, b: Status) -> bool:
    return (a.colour, a.rule_ref, a.evidence) == (b.colour, b.rule_ref, b.evidence)


def test_only_a_rule_that_names_now_reads_the_clock() -> None:
    assert not any(reads_now(r.logic) for r in RULES.rules)
    assert [r.rule_id for r in CLOCKED.rules if reads_now(r.logic)] == ["linger"]


@settings(max_examples=300, deadline=None)
@given(
    plain=facts,
    ordered=orders,
    now=st.integers(T0 - 10 * DAY, T0 + 20 * DAY),
    clocked=st.booleans(),
    steps=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=6),
)
def test_nothing_changes_before_the_review_instant(
    plain: list[Fact], ordered: list[Fact], now: int, clocked: bool, steps: list[float]
) -> None:
    ruleset = CLOCKED if clocked else RULES
    everything = plain + ordered
    status = derive(ruleset, everything, now, ENGINE.apply)
    review = next_review(ruleset, everything, now)
    if review is None:  # for ever: look a year ahead, and at every window's end
        later = [now + k * DAY for k in (1, 7, 30, 365)]
        assert all(same(derive(ruleset, everything, t, ENGINE.apply), status) for t in later)
        return
    assert review > now
    for step in [0.0, *steps]:
        at = now + int(step * (review - now))
        if at >= review:
            continue
        assert same(derive(ruleset, everything, at, ENGINE.apply), status), (at, review)
    assert same(derive(ruleset, everything, review - 1, ENGINE.apply), status)


def test_a_clock_rule_is_reviewed_on_the_day_it_turns() -> None:
    onset = T0
    symptoms = Fact("f1", FactKind.SYMPTOMS, onset, {"symptoms": ["fever"]})
    now = onset + DAY
    status = derive(CLOCKED, [symptoms], now, ENGINE.apply)
    review = next_review(CLOCKED, [symptoms], now)
    assert review == onset + 2 * DAY  # not the window's end, five days after the report
    assert derive(CLOCKED, [symptoms], review, ENGINE.apply).rule_ref != status.rule_ref
