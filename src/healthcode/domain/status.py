"""A person's colour, derived from their health facts and the active rule set — never stored as
a decision, never set by hand.

Each rule is tried on each of the person's facts of its kind: it applies from the fact's time for
`lasts_days` days while its CertLogic condition holds. The colour is the worst colour of the rules
that apply; its provenance is the rule that holds it longest (rule set@version#rule) and the ids
of the facts behind it. When every rule has run out the colour is green again, by itself.

A manual health order in force (an ORDER fact, domain/orders.py) is not a rule and no rule reads
it: it applies its own colour from its start until its end. It joins the worst-colour choice like
a rule's finding, so an order can make a person red but never make anyone greener than their
rules do. When an order holds the colour (it is the worst, and lasts longer than any rule of the
same colour), the provenance names the order ("order:<id>") and cites it as the evidence.

Evaluation never throws: a condition that fails on some data counts as not applying, and the
failure is reported with the status (a rule set is dry-run on sample facts before it can be
activated, so this should not happen). A malformed order is reported the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from healthcode.domain.facts import Fact, FactKind, as_data, facts_data, iso
from healthcode.domain.orders import ORDER_COLOURS, order_ref
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
class OrderFinding:
    """A manual order in force: `colour` from `since` until `until`, because of the order itself
    (its fact), not because of any rule."""

    fact: Fact
    colour: str
    since: int
    until: int

    @property
    def ref(self) -> str:
        return order_ref(self.fact.fact_id)


@dataclass(frozen=True, slots=True)
class Status:
    colour: str
    rule_ref: str
    evidence: tuple[str, ...]  # ids of the facts behind the colour
    since: int | None  # when the current colour began (None: green without a rule)
    until: int | None  # when it ends, unless new facts arrive
    findings: tuple[Finding, ...]  # every rule that applies now, any colour
    problems: tuple[str, ...] = ()  # rules whose condition failed to evaluate (or bad orders)
    orders: tuple[OrderFinding, ...] = ()  # every manual order in force now

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


def order_finding(fact: Fact, now: int) -> OrderFinding | None:
    """The order's colour now, or None when it is not in force. Raises ValueError when the
    fact is malformed (derive reports it as a problem)."""
    colour, until = fact.attrs.get("colour"), fact.attrs.get("until")
    if colour not in ORDER_COLOURS or type(until) is not int:
        raise ValueError("a manual order needs a colour (yellow or red) and an end")
    if not fact.time <= now < until:
        return None
    return OrderFinding(fact, str(colour), fact.time, until)


def _orders(facts: Sequence[Fact], now: int, problems: list[str]) -> tuple[OrderFinding, ...]:
    found: list[OrderFinding] = []
    for fact in facts:
        try:
            order = order_finding(fact, now)
        except ValueError:
            problems.append(order_ref(fact.fact_id))
            continue
        if order is not None:
            found.append(order)
    return tuple(found)


def derive(ruleset: RuleSet, facts: Sequence[Fact], now: int, apply: Apply) -> Status:
    problems: list[str] = []
    orders = _orders([f for f in facts if f.kind is FactKind.ORDER], now, problems)
    facts = [f for f in facts if f.kind is not FactKind.ORDER]  # rules never see orders
    seen: dict[str, dict[str, object]] = {}  # each fact as a rule sees it, built once (below)
    shared: dict[str, object] = {"facts": facts_data(facts, seen), "now": iso(now)}
    findings: list[Finding] = []
    for rule in ruleset.rules:
        for fact in facts:
            until = fact.time + rule.lasts_days * DAY
            if fact.kind is not rule.fact or not fact.time <= now < until:
                continue
            data = seen[fact.fact_id]  # facts_data lists every fact a rule may read
            try:
                hit = truthy(apply(rule.logic, {**shared, "fact": data}))
            except Exception:
                problems.append(rule.rule_id)
                continue
            if hit:
                findings.append(Finding(rule, fact, fact.time, until))
    reported = tuple(sorted(set(problems)))
    if not findings and not orders:
        return Status("green", ruleset.ref(), (), None, None, (), reported)
    colours = [f.rule.colour for f in findings] + [o.colour for o in orders]
    worst = max(colour_rank(c) for c in colours)
    top = [f for f in findings if colour_rank(f.rule.colour) == worst]
    top_orders = [o for o in orders if colour_rank(o.colour) == worst]
    rules_until = max((f.until for f in top), default=None)
    if top_orders and (rules_until is None or max(o.until for o in top_orders) > rules_until):
        # The order holds the colour longest: the colour rests on the order, not on a rule.
        held = max(top_orders, key=lambda o: (o.until, o.fact.fact_id))
        return Status(
            held.colour,
            held.ref,
            tuple(sorted(o.fact.fact_id for o in top_orders)),
            min(o.since for o in top_orders),
            held.until,
            tuple(findings),
            reported,
            orders,
        )
    holding = max(top, key=lambda f: (f.until, f.rule.rule_id))
    return Status(
        holding.rule.colour,
        ruleset.ref(holding.rule.rule_id),
        tuple(sorted({f.fact.fact_id for f in top})),
        min(f.since for f in top),
        holding.until,
        tuple(findings),
        reported,
        orders,
    )


# --- When to look again --------------------------------------------------------------------------


def reads_now(logic: object) -> bool:
    """Does this CertLogic expression read the variable `now`?"""
    if isinstance(logic, dict):
        for op, args in logic.items():
            if op == "var" and (args == "now" or (isinstance(args, list) and args[:1] == ["now"])):
                return True
            if reads_now(args):
                return True
        return False
    if isinstance(logic, list):
        return any(reads_now(item) for item in logic)
    return False


_CLOCKED: dict[int, tuple[Rule, bool]] = {}  # id(rule) -> (the rule, reads_now of its logic)


def _reads_now(rule: Rule) -> bool:
    """`reads_now` of a rule's logic, worked out once per rule: a rule set is loaded once per
    version and reviews everyone's colour (a walk of its logic per person took a fifth of the
    colour work of a trace). The entry holds its rule, so its id is not reused while cached."""
    held = _CLOCKED.get(id(rule))
    if held is None or held[0] is not rule:
        if len(_CLOCKED) >= 4096:  # rule sets come and go in tests and on edits
            _CLOCKED.clear()
        held = _CLOCKED[id(rule)] = (rule, reads_now(rule.logic))
    return held[1]


def _instants(fact: Fact) -> Iterator[int]:
    """The instants a rule can compare `now` with: the fact's time and its times in text."""
    yield fact.time
    for value in fact.attrs.values():
        if isinstance(value, str) and len(value) == 20 and value.endswith("Z"):
            try:
                parsed = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
            except ValueError:
                continue
            yield int(parsed.replace(tzinfo=dt.UTC).timestamp())


def next_review(ruleset: RuleSet, facts: Sequence[Fact], now: int) -> int | None:
    """The first instant after `now` at which `derive` over the same facts may answer otherwise,
    or None if it never will. A derived status is stored with this instant and re-derived then
    (the sweep), or earlier when a fact changes (the use case that changes it), so the stored
    status always equals the derivation: code display reads it instead of deriving.

    The answer can change only where a rule's window over a fact opens or closes, where an
    order starts or ends, and, for a rule that reads `now`, where `now` crosses a whole number
    of days from an instant it can be compared with (rules shift times by whole days only)."""
    found: list[int] = []
    for fact in facts:
        if fact.kind is FactKind.ORDER:
            until = fact.attrs.get("until")
            found += [t for t in (fact.time, until) if type(t) is int and t > now]
    plain = [f for f in facts if f.kind is not FactKind.ORDER]
    lattice: list[int] | None = None
    for rule in ruleset.rules:
        open_now = False
        for fact in plain:
            if fact.kind is not rule.fact:
                continue
            start, end = fact.time, fact.time + rule.lasts_days * DAY
            if start > now:
                found.append(start)
            elif now < end:
                found.append(end)
                open_now = True
        if open_now and _reads_now(rule):
            if lattice is None:
                lattice = [t for f in plain for t in _instants(f)]
            found += [now + DAY - (now - t) % DAY for t in lattice]
    return min(found, default=None)
