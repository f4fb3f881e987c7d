"""Exposure notices: a resident learns that they were exposed — where, on which day, under which
rule and what to do — and never who the case is (no case id, no contact, no time of the case's
visit beyond the day)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from healthcode.domain.checkins import DAY
from healthcode.domain.errors import NotFound
from healthcode.domain.rulesets import Rule, colour_rank, split_ref
from healthcode.domain.status import Status
from healthcode.services.context import ServiceContext
from healthcode.services.ports import Notice, StoredExposure, UnitOfWork
from healthcode.services.rulebook import active_ruleset, parsed


@dataclass(frozen=True, slots=True)
class NoticeView:
    notice: Notice
    venue_name: str | None  # Chinese if the venue has a Chinese name (the API's field)
    level: str  # close | secondary
    colour: str  # the colour the rule gives ("green" if no rule applies)
    rule: Rule | None
    venue_name_en: str | None = None  # English if it has one, else the Chinese

    def venue_in(self, chinese: bool) -> str:
        return (self.venue_name if chinese else self.venue_name_en) or self.notice.venue_id


def _rank(rule: Rule | None, level: str) -> tuple[int, int, int]:
    """How much a notice asks of its reader: its rule's colour and length, then its level."""
    if rule is None:
        return (-1, 0, 1 if level == "close" else 0)
    return (colour_rank(rule.colour), rule.lasts_days, 1 if level == "close" else 0)


def notify_exposures(
    uow: UnitOfWork,
    fresh: Iterable[StoredExposure],
    derived: Mapping[str, Status],
    now: int,
    held: Mapping[str, Sequence[StoredExposure]] | None = None,
) -> list[Notice]:
    """One notice per person, venue and day, naming the rule the exposures fall under (the
    strictest, if several). Exposures found later for a venue and day the person was already
    told of add no notice: if they fall under a stricter rule, the notice is raised to it (and
    dated anew, so that it shows as news); otherwise the person has been told. A case is never
    told of an exposure from its own case. `held`: every exposure of the people `fresh` names,
    if the caller has read them already (the levels of the exposures earlier notices name);
    else they are read here."""
    ruleset = active_ruleset(uow)
    owners: dict[str, str | None] = {}
    groups: dict[tuple[str, str, int], list[StoredExposure]] = {}
    for e in fresh:
        if e.case_id not in owners:
            case = uow.cases.get_case(e.case_id)
            owners[e.case_id] = case.subject_id if case else None
        if owners[e.case_id] == e.subject_id:
            continue
        groups.setdefault((e.subject_id, e.venue_id, e.start - e.start % DAY), []).append(e)
    by_day: dict[int, set[str]] = {}
    for subject_id, _, day in groups:
        by_day.setdefault(day, set()).add(subject_id)
    told = {(n.subject_id, n.venue_id, n.day): n for n in uow.notices.on_days(by_day)}
    levels = {e.exposure_id: e.level for found in groups.values() for e in found}
    earlier = sorted({n.subject_id for n in told.values()})  # whom earlier notices told
    if held is None:
        held = uow.exposures.of_subjects(earlier) if earlier else {}
    for subject_id in earlier:
        levels.update((e.exposure_id, e.level) for e in held.get(subject_id, ()))
    rules: dict[str, Rule | None] = {}
    made = []
    for (subject_id, venue_id, day), found in sorted(groups.items()):
        ids = {e.exposure_id for e in found}
        status = derived.get(subject_id)
        applying = [f.rule for f in (status.findings if status else ()) if f.fact.fact_id in ids]
        strictest = max(applying, key=lambda r: (colour_rank(r.colour), r.lasts_days),
                        default=None)  # fmt: skip
        first = min(found, key=lambda e: (e.level != "close", e.start))
        ref = ruleset.ref(strictest.rule_id) if strictest else ruleset.ref()
        before = told.get((subject_id, venue_id, day))
        if before is not None:
            then = _rule(uow, before.rule_ref, rules)
            if _rank(strictest, first.level) > _rank(then, levels.get(before.exposure_id, "")):
                uow.notices.raise_to(replace(before, rule_ref=ref, exposure_id=first.exposure_id,
                                             created_at=now))  # fmt: skip
            continue
        notice = Notice("n" + secrets.token_hex(8), subject_id, "exposure", venue_id, day, ref,
                        first.exposure_id, now)  # fmt: skip
        made.append(notice)
    uow.notices.add(made)
    return made


def _rule(uow: UnitOfWork, rule_ref: str, known: dict[str, Rule | None]) -> Rule | None:
    if rule_ref not in known:
        ref = split_ref(rule_ref)
        stored = uow.rulesets.get(ref[0], ref[1]) if ref is not None else None
        known[rule_ref] = parsed(stored).rule(ref[2]) if stored and ref is not None else None
    return known[rule_ref]


def _view(
    uow: UnitOfWork, notice: Notice, levels: Mapping[str, str], rules: dict[str, Rule | None]
) -> NoticeView:
    venue = uow.venues.get(notice.venue_id)
    zh = (venue.draft.name_zh or venue.draft.name_en) if venue else None
    en = (venue.draft.name_en or venue.draft.name_zh) if venue else None
    rule = _rule(uow, notice.rule_ref, rules)
    colour = rule.colour if rule else "green"
    return NoticeView(notice, zh, levels.get(notice.exposure_id, "close"), colour, rule, en)


def my_notices(ctx: ServiceContext, subject_id: str) -> list[NoticeView]:
    with ctx.uow(read_only=True) as uow:
        subject = uow.subjects.get(subject_id)
        if subject is None or subject.erased_at is not None:
            raise NotFound("no such resident", field="subject_id")
        levels = {e.exposure_id: e.level for e in uow.exposures.of_subject(subject_id)}
        rules: dict[str, Rule | None] = {}  # the rule sets' rules, each read and parsed once
        found = [_view(uow, n, levels, rules) for n in uow.notices.of_subject(subject_id)]
    # By the exposure's day, the latest first (a notice raised to a stricter rule stays on its
    # day); then by when it was sent.
    return sorted(found, key=lambda v: (v.notice.day, v.notice.created_at), reverse=True)
