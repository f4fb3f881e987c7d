"""A traced case as the officer reads it, from what its traces stored: each person its
exposures name, once, with the exposure that names them best (close before secondary, then the
longest), the venue's name, the published rule that exposure falls under, and which contacts are
confirmed cases themselves, for the summary and the transmission graph of the trace page.

Reading it does not trace again: the trace page is the stored trace (a new trace is a separate
action, services/trace.py), so it loads as fast at 2,000 contacts as at twenty. It reads the
case's exposures a person at a time (ExposureRepository.people_of_cases), behind the case's access
gate, and each read is on the log (`case.contacts_read`, with how many contacts it read). The rule
an exposure "falls under" is the strictest active rule that applies to that exposure on its own,
at its time: what the contact was told in their notice, not their colour today (which other
facts may change).
"""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.domain.accounts import Principal
from healthcode.domain.audit import LogEntry
from healthcode.domain.cases import Case
from healthcode.domain.errors import NotFound
from healthcode.domain.facts import Fact, FactKind, facts_data, iso
from healthcode.domain.rulesets import Rule, RuleSet, colour_rank
from healthcode.domain.status import applies
from healthcode.services.access import access_case
from healthcode.services.auth import actor_of
from healthcode.services.context import ServiceContext
from healthcode.services.rulebook import active_ruleset
from healthcode.services.trace import TRACE_BASIS
from healthcode.services.venues import names_within


@dataclass(frozen=True, slots=True)
class TracedContact:
    """A person the case's exposures name, by the exposure that names them best: they were at
    `venue_id` with the case (or, a secondary contact, with the close contact `via`) in
    [start, end)."""

    subject_id: str
    level: str  # close | secondary
    via: str | None  # a secondary contact: the close contact they met
    is_case: bool  # has an open case of their own
    venue_id: str
    venue_name: str
    start: int
    end: int
    exposures: int  # how many of the case's exposures name them
    rule_ref: str | None  # the active rule that exposure falls under; None: no rule applies
    colour: str  # the colour that rule gives ("green" when none)

    @property
    def minutes(self) -> int:
        return (self.end - self.start) // 60


@dataclass(frozen=True, slots=True)
class TracedCase:
    case: Case
    contacts: tuple[TracedContact, ...]  # close contacts first

    def of_level(self, level: str) -> list[TracedContact]:
        return [c for c in self.contacts if c.level == level]


class _Rules:
    """The rule each exposure falls under, found once per (level, minutes): an exposure is
    judged on its own, as the only fact, at its own time, and a rule names no date (time in a
    condition is relative: domain/rulesets.py), so those two are all that can differ (2,000
    contacts fall in a few dozen such shapes)."""

    def __init__(self, ctx: ServiceContext, ruleset: RuleSet) -> None:
        self.ctx, self.ruleset = ctx, ruleset
        self.found: dict[tuple[str, int], Rule | None] = {}

    def of(self, level: str, start: int, end: int) -> Rule | None:
        shape = (level, (end - start) // 60)
        if shape not in self.found:
            self.found[shape] = _rule_for(self.ctx, self.ruleset, level, start, shape[1])
        return self.found[shape]


def _rule_for(
    ctx: ServiceContext, ruleset: RuleSet, level: str, start: int, minutes: int
) -> Rule | None:
    fact = Fact("x", FactKind.EXPOSURE, start, {"level": level, "minutes": minutes})
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


def traced_case(
    ctx: ServiceContext, principal: Principal, case_id: str, chinese: bool = True
) -> TracedCase:
    """The case as its traces so far found it (no contacts before its first trace)."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        access_case(uow, principal, case_id, "case.trace")
        case = uow.cases.get_case(case_id)
        if case is None:  # pragma: no cover - the gate refuses an unknown case
            raise NotFound("no such case", field="case_id")
        people = uow.exposures.people_of_cases([case_id])[case_id]
        names = names_within(uow, sorted({p.best.venue_id for p in people}), chinese)
        held = uow.cases.cases_of([p.best.subject_id for p in people])
        cases = {s for s, found in held.items() if any(c.closed_at is None for c in found)}
        rules = _Rules(ctx, active_ruleset(uow))
        contacts = []
        for p in people:
            e = p.best
            rule = rules.of(e.level, e.start, e.end)
            contacts.append(TracedContact(
                e.subject_id, e.level, e.via_subject, e.subject_id in cases, e.venue_id,
                names[e.venue_id], e.start, e.end, p.count,
                rules.ruleset.ref(rule.rule_id) if rule else None,
                rule.colour if rule else "green",
            ))  # fmt: skip
        if contacts:
            uow.log.append(LogEntry("case.contacts_read", actor_of(uow, principal), "case",
                                    case_id, "contact_tracing", TRACE_BASIS,
                                    details={"read": len(contacts)}), now)  # fmt: skip
        uow.commit()
    contacts.sort(key=lambda c: (c.level != "close", c.subject_id))
    return TracedCase(case, tuple(contacts))
