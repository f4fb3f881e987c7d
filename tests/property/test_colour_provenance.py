"""Every colour resolves to its rule and its evidence.

On random facts at random times, under the shipped rule set: a colour other than green names a
rule of that colour, cites only facts of that person that the rule really applies to (its
condition re-evaluated on its own, its period running), and no rule of a worse colour applies.
Green cites nothing. Then the same through the database: on random small cities traced and
coloured for real, every stored and every derived colour resolves to a published rule and to
facts of that person.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthcode.adapters.certlogic import CertLogicEngine
from healthcode.bootstrap import App
from healthcode.domain.audit import Actor
from healthcode.domain.cases import Case, LabResult, TestResult
from healthcode.domain.checkins import CheckIn, CheckInSource
from healthcode.domain.facts import Fact, FactKind, Symptom, as_data, facts_data, iso
from healthcode.domain.rulesets import colour_rank, parse_ruleset, split_ref
from healthcode.domain.status import DAY, derive, truthy
from healthcode.services import status, trace
from healthcode.services.ports import Subject
from tests.conftest import START, sqlite_app

ENGINE = CertLogicEngine()
RULES = parse_ruleset(
    json.loads(resources.files("healthcode.rulesets").joinpath("default.json").read_text("utf-8"))
)
T0 = 1_795_000_000


def fact_strategy(index: int) -> st.SearchStrategy[Fact]:
    time = st.integers(T0 - 20 * DAY, T0 + 5 * DAY)
    kinds = {
        FactKind.TEST: st.fixed_dictionaries(
            {"result": st.sampled_from(["positive", "negative", "inconclusive"])}
        ),
        FactKind.EXPOSURE: st.fixed_dictionaries(
            {"level": st.sampled_from(["close", "secondary"]), "minutes": st.integers(0, 600)}
        ),
        FactKind.SYMPTOMS: st.fixed_dictionaries(
            {
                "symptoms": st.lists(
                    st.sampled_from([s.value for s in Symptom]), min_size=1, max_size=3, unique=True
                )
            }
        ),
        FactKind.QUARANTINE: st.fixed_dictionaries({"days": st.integers(1, 14)}),
    }
    return st.sampled_from(list(kinds)).flatmap(
        lambda kind: st.builds(
            lambda t, attrs: Fact(f"f{index}", kind, t, attrs), time, kinds[kind]
        )
    )


facts_strategy = st.integers(0, 8).flatmap(
    lambda n: st.tuples(*[fact_strategy(i) for i in range(n)]).map(list)
)


@settings(max_examples=400)
@given(facts=facts_strategy, now=st.integers(T0 - 10 * DAY, T0 + 30 * DAY))
def test_every_colour_resolves_to_its_rule_and_evidence(facts: list[Fact], now: int) -> None:
    result = derive(RULES, facts, now, ENGINE.apply)
    assert result.problems == ()
    if result.colour == "green":
        assert result.rule_ref == "default@1#none"
        assert result.evidence == ()
        assert result.findings == ()
        return
    ref = split_ref(result.rule_ref)
    assert ref is not None
    assert ref[:2] == ("default", 1)
    rule = RULES.rule(ref[2])
    assert rule is not None
    assert rule.colour == result.colour
    by_id = {f.fact_id: f for f in facts}
    shared = {"facts": facts_data(facts), "now": iso(now)}
    assert result.evidence
    for fact_id in result.evidence:
        fact = by_id[fact_id]
        citing = [r for r in RULES.rules if r.fact is fact.kind and r.colour == result.colour]
        # some rule of this colour applies to this fact, re-checked from its definition
        assert any(
            fact.time <= now < fact.time + r.lasts_days * DAY
            and truthy(ENGINE.apply(r.logic, {**shared, "fact": as_data(fact)}))
            for r in citing
        )
    worse = [f for f in result.findings if colour_rank(f.rule.colour) > colour_rank(rule.colour)]
    assert worse == []
    assert result.until == max(f.until for f in result.findings if f.rule.colour == result.colour)


# -- through the database: random small cities, traced and coloured for real ---------------------


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[App]:
    app = sqlite_app(tmp_path_factory.mktemp("provenance"), sqlite_template)
    yield app
    app.close()


visit = st.tuples(st.integers(0, 5), st.integers(0, 1), st.integers(0, 30 * 3600),
                  st.integers(600, 3 * 3600))  # fmt: skip
result_strategy = st.tuples(st.integers(0, 5), st.integers(0, 10 * DAY),
                            st.sampled_from(list(TestResult)))  # fmt: skip


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    visits=st.lists(visit, min_size=2, max_size=20),
    results=st.lists(result_strategy, min_size=1, max_size=6),
    later=st.integers(0, 20 * DAY),
)
def test_every_stored_colour_resolves_to_a_published_rule_and_the_persons_facts(
    city: App, visits: list[tuple[int, int, int, int]],
    results: list[tuple[int, int, TestResult]], later: int,
) -> None:  # fmt: skip
    clock = city.ctx.clock
    base = START - 12 * DAY
    clock.set(START)  # type: ignore[attr-defined]
    run = secrets.token_hex(3)
    people = [f"{run}{n:02d}".ljust(32, "0") for n in range(6)]
    with city.ctx.uow() as uow:
        for person in people:
            uow.subjects.add(Subject(person, "resident", 0))
        for n, (p, v, start, stay) in enumerate(visits):
            uow.checkins.add(CheckIn(f"v{run}{v}", f"c{run}{n:03d}", people[p], base + start,
                                     base + start + 4 * 3600, CheckInSource.PLACE_SCAN,
                                     base + start + stay))  # fmt: skip
        for n, (p, at, outcome) in enumerate(results):
            uow.cases.add_results(
                [LabResult("LAB", f"{run}-{n}", people[p], base + at, outcome, START)]
            )
        uow.cases.add_case(Case(f"k{run}", people[0], "LAB/x", base, base + 2 * DAY, base))
        uow.commit()
    trace.trace_case(city.ctx, f"k{run}", Actor("tracer", "t"))
    clock.set(START + later)  # type: ignore[attr-defined]
    status.sweep(city.ctx)

    with city.ctx.uow(read_only=True) as uow:
        for person in people:
            facts = {f.fact_id for f in status.facts_of(uow, person)}
            stored = uow.statuses.get(person)
            if stored is not None and stored.colour != "green":
                ref = split_ref(stored.rule_ref)
                assert ref is not None
                published = uow.rulesets.get(ref[0], ref[1])
                assert published is not None
                assert RULES.rule(ref[2]) is not None
                assert set(stored.evidence.split(",")) <= facts
            view = status.status_of(city.ctx, person)
            assert set(view.status.evidence) <= facts
            assert (view.rule is None) == (view.status.colour == "green")
