"""Exposure notices people can act on (services/notices.py): one per person, venue and day however
many cases and traces find exposures there, raised to a stricter rule when a later exposure falls
under one, never to a case from its own case, newest exposure day first. On SQLite and
PostgreSQL."""

from __future__ import annotations

from healthcode.bootstrap import App
from healthcode.domain.cases import Case
from healthcode.domain.checkins import DAY, CheckIn, CheckInSource
from healthcode.domain.facts import Fact, FactKind
from healthcode.domain.status import Finding, Status
from healthcode.services import notices, status_queue, trace
from healthcode.services.ports import StoredExposure
from healthcode.services.rulebook import active_ruleset
from tests.conftest import START
from tests.integration.test_status_queue import NOON, TRACER, enrol, seed


def _second_case_at_the_market(app: App, n: int) -> str:
    """Another confirmed case who was at the market at the same time as everyone in seed()."""
    who = enrol(app, 100 + n)
    with app.ctx.uow() as uow:
        start = NOON + 50 + n
        uow.checkins.add(CheckIn("vmarket", f"d{n:04d}", who, start, start + 3 * 3600,
                                 CheckInSource.PLACE_SCAN, start + 3600))  # fmt: skip
        case_id = f"k{n:03d}"
        uow.cases.add_case(Case(case_id, who, "LAB/y", NOON - 2 * DAY, NOON + DAY, START))
        uow.commit()
    return case_id


def test_one_notice_per_venue_and_day_however_many_cases_found_it(app: App) -> None:
    first_case, people = seed(app, 3)
    trace.trace_case(app.ctx, first_case, TRACER, depth=1)
    told = {who: notices.my_notices(app.ctx, who) for who in people}
    assert all(len(found) == 1 for found in told.values())
    for n in range(2):  # two more cases at the same place and time, traced later
        trace.trace_case(app.ctx, _second_case_at_the_market(app, n), TRACER, depth=1)
    status_queue.settle(app.ctx)
    for who in people:
        (notice,) = notices.my_notices(app.ctx, who)  # still one: they were told already
        assert notice.notice == told[who][0].notice  # not sent again: the same rule applies
        assert notice.rule is not None
        assert notice.rule.rule_id == "close"
        assert notice.notice.day == NOON - NOON % DAY  # dated by the exposure


def test_a_case_is_never_told_of_its_own_case(app: App) -> None:
    case_id, people = seed(app, 1)
    with app.ctx.uow() as uow:
        case = uow.cases.get_case(case_id)
        assert case is not None
        own = _exposure("e" + "1" * 16, case.subject_id, case_id, "close")
        theirs = _exposure("e" + "2" * 16, people[0], case_id, "close")
        made = notices.notify_exposures(uow, [own, theirs], {}, START)
        uow.commit()
    assert [n.subject_id for n in made] == [people[0]]
    assert notices.my_notices(app.ctx, case.subject_id) == []


def test_a_notice_is_raised_to_a_stricter_rule_and_not_repeated_for_a_milder_one(app: App) -> None:
    case_id, (who,) = seed(app, 1)
    with app.ctx.uow() as uow:
        rules = active_ruleset(uow)
        second, close = rules.rule("second"), rules.rule("close")
        assert second is not None
        assert close is not None
        mild = _exposure("e" + "3" * 16, who, case_id, "secondary")
        (first,) = notices.notify_exposures(uow, [mild], _under(mild, second), START)
        uow.commit()
    assert first.rule_ref.endswith("#second")
    with app.ctx.uow() as uow:
        strict = _exposure("e" + "4" * 16, who, case_id, "close")
        assert notices.notify_exposures(uow, [strict], _under(strict, close), START + 60) == []
        uow.commit()
    (raised,) = notices.my_notices(app.ctx, who)
    assert raised.notice.notice_id == first.notice_id  # the same notice, raised
    assert raised.notice.rule_ref.endswith("#close")
    assert raised.notice.exposure_id == strict.exposure_id
    assert raised.notice.created_at == START + 60  # shown as news
    assert raised.level == "close"
    with app.ctx.uow() as uow:
        milder = _exposure("e" + "5" * 16, who, case_id, "secondary")
        assert notices.notify_exposures(uow, [milder], _under(milder, second), START + 120) == []
        uow.commit()
    (kept,) = notices.my_notices(app.ctx, who)
    assert kept.notice == raised.notice  # a milder exposure changes nothing


def test_notices_come_newest_exposure_day_first(app: App) -> None:
    case_id, (who,) = seed(app, 1)
    with app.ctx.uow() as uow:
        older = _exposure("e" + "6" * 16, who, case_id, "close", start=NOON - 2 * DAY)
        newer = _exposure("e" + "7" * 16, who, case_id, "close", start=NOON)
        notices.notify_exposures(uow, [newer], {}, START)  # the later day, told first
        notices.notify_exposures(uow, [older], {}, START + 60)
        uow.commit()
    found = notices.my_notices(app.ctx, who)
    assert [n.notice.day for n in found] == [NOON - NOON % DAY, (NOON - 2 * DAY) // DAY * DAY]


def _exposure(
    exposure_id: str, who: str, case_id: str, level: str, start: int = NOON
) -> StoredExposure:
    return StoredExposure(exposure_id, who, case_id, level, "vmarket", start, start + 3600,
                          "c0001", "c0000", None, START)  # fmt: skip


def _under(exposure: StoredExposure, rule: object) -> dict[str, Status]:
    fact = Fact(exposure.exposure_id, FactKind.EXPOSURE, exposure.start, {"level": exposure.level})
    finding = Finding(rule, fact, exposure.start, exposure.start + 7 * DAY)  # type: ignore[arg-type]
    return {exposure.subject_id: Status("red", "x", (), None, None, (finding,))}


def test_a_secondary_notice_is_raised_by_a_close_exposure_under_the_same_rule(app: App) -> None:
    """Where no rule applies (or the same one), the level still counts: a person told they were
    a secondary contact is told again, as a close one, of the same venue and day."""
    case_id, (who,) = seed(app, 1)
    with app.ctx.uow() as uow:
        mild = _exposure("e" + "8" * 16, who, case_id, "secondary")
        (first,) = notices.notify_exposures(uow, [mild], {}, START)
        uow.commit()
    with app.ctx.uow() as uow:
        close = _exposure("e" + "9" * 16, who, case_id, "close")
        assert notices.notify_exposures(uow, [close], {}, START + 60) == []
        uow.commit()
    (raised,) = notices.my_notices(app.ctx, who)
    assert raised.notice.notice_id == first.notice_id
    assert raised.notice.exposure_id == close.exposure_id
    assert raised.level == "close"
    assert raised.notice.created_at == START + 60
