"""People whose facts look the same to the rules share one derivation (domain/status.py:
derive_many), and each gets exactly what `derive` gives them alone.

Random people drawn from a small pool of fact shapes (so that shapes recur, as the close
contacts of one visit do), each fact with an id of its own, manual orders and facts at the same
instant included; under the shipped rule set and under one whose rule reads the clock: every
person's status from `derive_many` equals `derive` over their facts: colour, rule, evidence,
findings (each naming that person's own fact, in derive's order), orders and problems.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from healthcode.domain.facts import Fact, FactKind
from healthcode.domain.status import DAY, derive, derive_many
from tests.property.test_colour_provenance import T0
from tests.property.test_status_review import CLOCKED, ENGINE, RULES, order

# A few instants, so that people share them (and one person may hold two facts at one).
TIMES = st.sampled_from([T0 - 9 * DAY, T0 - 3 * DAY, T0 - 3 * DAY + 600, T0 - DAY, T0])
SHAPES = st.one_of(
    st.builds(
        lambda t, level, minutes: (FactKind.EXPOSURE, t, {"level": level, "minutes": minutes}),
        TIMES, st.sampled_from(["close", "secondary"]), st.sampled_from([15, 90]),
    ),
    st.builds(
        lambda t, result: (FactKind.TEST, t, {"result": result}),
        TIMES, st.sampled_from(["positive", "negative"]),
    ),
    st.builds(lambda t: (FactKind.SYMPTOMS, t, {"symptoms": ["fever"]}), TIMES),
    st.builds(
        lambda t, days: (FactKind.QUARANTINE, t, {"days": days}),
        TIMES, st.sampled_from([7, True]),
    ),
)  # fmt: skip


@st.composite
def people(draw: st.DrawFn) -> dict[str, list[Fact]]:
    """Up to 12 people over a pool of at most 4 fact shapes; fact ids unique across people."""
    pool = draw(st.lists(SHAPES, min_size=1, max_size=4))
    count = draw(st.integers(1, 12))
    made: dict[str, list[Fact]] = {}
    serial = 0
    for n in range(count):
        picks = draw(st.lists(st.integers(0, len(pool) - 1), max_size=4))
        facts = []
        for pick in picks:
            kind, time, attrs = pool[pick]
            serial += 1
            # Ids in no fixed relation to the person or the shape: a later id may sort first.
            facts.append(Fact(f"f{draw(st.integers(0, 99)):02d}-{serial}", kind, time, attrs))
        facts = draw(st.permutations(facts))
        if draw(st.booleans()) and draw(st.integers(0, 5)) == 0:
            facts.append(order(serial, "red", T0 - 2 * DAY, 5))
        made[f"p{n}"] = list(facts)
    return made


@settings(max_examples=300)
@given(everyone=people(), now=st.integers(T0 - 4 * DAY, T0 + 10 * DAY), clocked=st.booleans())
def test_shared_derivation_equals_each_own(
    everyone: dict[str, list[Fact]], now: int, clocked: bool
) -> None:
    rules = CLOCKED if clocked else RULES
    shared = derive_many(rules, everyone, now, ENGINE.apply)
    assert shared.keys() == everyone.keys()
    for person, facts in everyone.items():
        assert shared[person] == derive(rules, facts, now, ENGINE.apply), person


def test_contacts_of_one_visit_share_one_derivation() -> None:
    """Twenty close contacts of one visit: one derivation, twenty statuses, each citing the
    contact's own exposure."""
    calls = []

    def counting(logic: object, data: object) -> object:
        calls.append(logic)
        return ENGINE.apply(logic, data)

    exposure = Fact("", FactKind.EXPOSURE, T0 - DAY, {"level": "close", "minutes": 40})
    everyone = {f"p{n}": [replace(exposure, fact_id=f"e{n}")] for n in range(20)}
    shared = derive_many(RULES, everyone, T0, counting)
    alone = len(calls)
    derive(RULES, everyone["p0"], T0, counting)
    assert alone == len(calls) - alone  # the twenty cost what one costs
    for n in range(20):
        status = shared[f"p{n}"]
        assert status.colour == "red"
        assert status.evidence == (f"e{n}",)
        assert [f.fact.fact_id for f in status.findings] == [f"e{n}"]
