"""Exposure notices: a resident learns that they were exposed — where, on which day, under which
rule and what to do — and never who the case is (no case id, no contact, no time of the case's
visit beyond the day)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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
    venue_name: str | None
    level: str  # close | secondary
    colour: str  # the colour the rule gives ("green" if no rule applies)
    rule: Rule | None


def notify_exposures(
    uow: UnitOfWork, fresh: Iterable[StoredExposure], derived: Mapping[str, Status], now: int
) -> list[Notice]:
    """One notice per person, venue and day among newly found exposures, naming the rule the
    exposure falls under (the strictest, if several)."""
    ruleset = active_ruleset(uow)
    groups: dict[tuple[str, str, int], list[StoredExposure]] = {}
    for e in fresh:
        groups.setdefault((e.subject_id, e.venue_id, e.start - e.start % DAY), []).append(e)
    made = []
    for (subject_id, venue_id, day), found in sorted(groups.items()):
        ids = {e.exposure_id for e in found}
        status = derived.get(subject_id)
        rules = [f.rule for f in (status.findings if status else ()) if f.fact.fact_id in ids]
        strictest = max(rules, key=lambda r: (colour_rank(r.colour), r.lasts_days), default=None)
        first = min(found, key=lambda e: (e.level != "close", e.start))
        notice = Notice(
            "n" + secrets.token_hex(8),
            subject_id,
            "exposure",
            venue_id,
            day,
            ruleset.ref(strictest.rule_id) if strictest else ruleset.ref(),
            first.exposure_id,
            now,
        )
        made.append(notice)
    uow.notices.add(made)
    return made


def _view(uow: UnitOfWork, notice: Notice, levels: Mapping[str, str]) -> NoticeView:
    venue = uow.venues.get(notice.venue_id)
    name = (venue.draft.name_zh or venue.draft.name_en) if venue else None
    rule = None
    ref = split_ref(notice.rule_ref)
    if ref is not None:
        stored = uow.rulesets.get(ref[0], ref[1])
        rule = parsed(stored).rule(ref[2]) if stored else None
    colour = rule.colour if rule else "green"
    return NoticeView(notice, name, levels.get(notice.exposure_id, "close"), colour, rule)


def my_notices(ctx: ServiceContext, subject_id: str) -> list[NoticeView]:
    with ctx.uow(read_only=True) as uow:
        subject = uow.subjects.get(subject_id)
        if subject is None or subject.erased_at is not None:
            raise NotFound("no such resident", field="subject_id")
        levels = {e.exposure_id: e.level for e in uow.exposures.of_subject(subject_id)}
        return [_view(uow, n, levels) for n in uow.notices.of_subject(subject_id)]
