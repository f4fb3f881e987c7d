"""A traced case as the officer reads it: each contact with the evidence in words (the venue's
name, the overlap window, the level, and the published rule the exposure falls under), and which
contacts are confirmed cases themselves, for the transmission graph.

It traces through `trace.trace_case` (stored, logged with the case as its purpose); the caller has
passed the case's access gate, as the API route does. The rule an exposure "falls under" is the
strictest active rule that applies to that exposure on its own, at its time: what the contact
was told in their notice, not their colour today (which other facts may change).
"""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.domain.audit import Actor
from healthcode.domain.cases import Case
from healthcode.domain.errors import NotFound
from healthcode.domain.facts import Fact, FactKind, facts_data, iso
from healthcode.domain.rulesets import Rule, RuleSet, colour_rank
from healthcode.domain.status import applies
from healthcode.domain.tracing import Exposure
from healthcode.services.context import ServiceContext
from healthcode.services.rulebook import active_ruleset
from healthcode.services.trace import Contact, trace_case
from healthcode.services.venues import names_within


@dataclass(frozen=True, slots=True)
class Evidence:
    """The contact was at `venue_id` with the case (or the close contact) in [start, end)."""

    venue_id: str
    venue_name: str
    start: int
    end: int
    rule_ref: str | None  # the active rule the exposure falls under; None: no rule applies
    colour: str  # the colour that rule gives ("green" when none)
    contact_checkin: str
    source_checkin: str

    @property
    def minutes(self) -> int:
        return (self.end - self.start) // 60


@dataclass(frozen=True, slots=True)
class TracedContact:
    subject_id: str
    level: str  # close | secondary
    via: str | None  # a secondary contact: the close contact they met
    is_case: bool  # has an open case of their own
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True, slots=True)
class TracedCase:
    case: Case
    contacts: tuple[TracedContact, ...]  # close contacts first
    new_exposures: int
    colours_queued: int  # contacts whose colours are derived again once the tracer has these


def _rule_for(ctx: ServiceContext, ruleset: RuleSet, level: str, hit: Exposure) -> Rule | None:
    fact = Fact("x", FactKind.EXPOSURE, hit.start, {"level": level, "minutes": hit.seconds // 60})
    data: dict[str, object] = {"facts": facts_data([fact]), "now": iso(fact.time)}
    found: list[Rule] = []
    for rule in ruleset.rules:
        if rule.fact is not FactKind.EXPOSURE:
            continue
        try:
            if applies(rule, fact, data, ctx.rules.apply):
                found.append(rule)
        except Exception:  # noqa: S112 - a failing condition applies to nobody (as in derive)
            continue
    return max(found, key=lambda r: (colour_rank(r.colour), r.lasts_days), default=None)


def _contact(
    ctx: ServiceContext,
    ruleset: RuleSet,
    names: dict[str, str],
    cases: set[str],
    level: str,
    contact: Contact,
) -> TracedContact:
    evidence = []
    for hit in sorted(contact.exposures, key=lambda e: e.start):
        rule = _rule_for(ctx, ruleset, level, hit)
        evidence.append(
            Evidence(
                hit.source.venue_id,
                names.get(hit.source.venue_id, hit.source.venue_id),
                hit.start,
                hit.end,
                ruleset.ref(rule.rule_id) if rule else None,
                rule.colour if rule else "green",
                hit.contact.checkin_id,
                hit.source.checkin_id,
            )
        )
    return TracedContact(
        contact.subject_id, level, contact.via, contact.subject_id in cases, tuple(evidence)
    )


def trace_with_evidence(
    ctx: ServiceContext, case_id: str, actor: Actor, depth: int = 2
) -> TracedCase:
    """Trace a case (its colour work left queued: the caller settles it once the tracer has
    the contacts) and gather what the tracer's desk shows of each contact."""
    result = trace_case(ctx, case_id, actor, depth, settle=False)
    everyone = [*result.close, *result.secondary]
    with ctx.uow(read_only=True) as uow:
        case = uow.cases.get_case(case_id)
        if case is None:
            raise NotFound("no such case", field="case_id")
        ruleset = active_ruleset(uow)
        names = names_within(
            uow, sorted({e.source.venue_id for c in everyone for e in c.exposures})
        )
        found = uow.cases.cases_of([c.subject_id for c in everyone])
        cases = {s for s, held in found.items() if any(c.closed_at is None for c in held)}
    contacts = [_contact(ctx, ruleset, names, cases, "close", c) for c in result.close]
    contacts += [_contact(ctx, ruleset, names, cases, "secondary", c) for c in result.secondary]
    return TracedCase(case, tuple(contacts), result.new_exposures, result.colours_queued)
