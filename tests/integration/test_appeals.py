"""Appeals (PRIV-4): a resident or guardian contests a manual order or the evidence behind their
colour; a health officer decides before the deadline, or a contested order lapses by itself.
Every filing, decision and lapse is logged with commitments and tokens, never the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.config import Settings
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal
from healthcode.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from healthcode.domain.identity import DocumentType
from healthcode.services import appeals, enrolment, orders, status
from tests.integration.orders_city import (
    BASIS,
    REASON,
    as_resident,
    colour,
    doc_number,
    entries,
    exposed,
    log_text,
    officer,
    order_settings,
    resident,
)

WHY = "我没有去过那个地方，那天我在外地出差"  # the resident's words: personal data
HOURS = 3600


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return order_settings(tmp_path, database_url)


@pytest.fixture
def staff(app: App) -> dict[str, Principal]:
    return {
        "tracer": officer(app, "li.tracer", Role.TRACER),
        "approver": officer(app, "ma.officer", Role.HEALTH_OFFICER),
        "judge": officer(app, "he.officer", Role.HEALTH_OFFICER),
    }


def an_order(app: App, staff: dict[str, Principal], subjects: list[str]) -> str:
    order = orders.propose_order(app.ctx, staff["tracer"], subjects, "red", BASIS, REASON, 5)
    orders.approve_order(app.ctx, staff["approver"], order.order_id)
    return order.order_id


def test_a_granted_appeal_lifts_the_order_for_that_resident_only(
    app: App, staff: dict[str, Principal]
) -> None:
    me, neighbour = resident(app, 0), resident(app, 1)
    order_id = an_order(app, staff, [me, neighbour])
    appeal = appeals.file_appeal(app.ctx, as_resident(me), me, order_id, WHY)
    assert (appeal.target_kind, appeal.state, appeal.filed_by) == ("order", "pending", "resident")
    assert appeal.deadline == app.ctx.clock.now() + 48 * HOURS
    (view,) = orders.orders_of(app.ctx, me)
    assert (view.appeal_id, view.appealable) == (appeal.appeal_id, False)
    with pytest.raises(Forbidden, match="approved"):  # the approver may not judge their order
        appeals.decide_appeal(app.ctx, staff["approver"], appeal.appeal_id, "granted")
    with pytest.raises(Forbidden):  # only health officers decide
        appeals.decide_appeal(app.ctx, staff["tracer"], appeal.appeal_id, "granted")
    with pytest.raises(InvalidInput) as bad:
        appeals.decide_appeal(app.ctx, staff["judge"], appeal.appeal_id, "maybe")
    assert bad.value.field == "outcome"
    decided = appeals.decide_appeal(app.ctx, staff["judge"], appeal.appeal_id, "granted")
    assert decided.state == "granted"
    assert decided.decided_by == staff["judge"].ref
    assert colour(app, me)[0] == "green"
    assert colour(app, neighbour)[:2] == ("red", f"order:{order_id}")
    (view,) = orders.orders_of(app.ctx, me)
    assert (view.state, view.appeal_id, view.appealable) == ("lifted", None, False)
    last = entries(app, "status.changed")[-1]
    assert last["details"]["reason"] == "appeal_granted"  # type: ignore[index]
    (filed,) = entries(app, "appeal.filed")
    (done,) = entries(app, "appeal.decided")
    assert filed["details"]["order"] == order_id  # type: ignore[index]
    assert done["details"]["outcome"] == "granted"  # type: ignore[index]
    assert str(done["details"]["subject"]).startswith("c:")  # type: ignore[index]
    with pytest.raises(Conflict):
        appeals.decide_appeal(app.ctx, staff["judge"], appeal.appeal_id, "upheld")


def test_a_granted_appeal_withdraws_an_exposure_and_the_colour_follows(
    app: App, staff: dict[str, Principal]
) -> None:
    contact = resident(app, 0)
    exposed(app, contact, "close")
    assert colour(app, contact) == ("red", "default@1#close", ("x1",))
    appeal = appeals.file_appeal(app.ctx, as_resident(contact), contact, "x1", WHY)
    assert appeal.target_kind == "exposure"
    appeals.decide_appeal(app.ctx, staff["judge"], appeal.appeal_id, "granted")
    assert colour(app, contact) == ("green", "default@1#none", ())
    with app.ctx.uow(read_only=True) as uow:
        (stored,) = uow.exposures.of_subject(contact)
    assert (stored.withdrawn_by_appeal, stored.withdrawn_at) == (
        appeal.appeal_id, app.ctx.clock.now(),
    )  # fmt: skip
    # the evidence is gone for good: it cannot be contested again
    with pytest.raises(InvalidInput):
        appeals.file_appeal(app.ctx, as_resident(contact), contact, "x1", WHY)


def test_an_upheld_appeal_keeps_the_colour(app: App, staff: dict[str, Principal]) -> None:
    contact = resident(app, 0)
    exposed(app, contact, "secondary")
    appeal = appeals.file_appeal(app.ctx, as_resident(contact), contact, "x1", WHY)
    with pytest.raises(Conflict):  # one pending appeal per thing contested
        appeals.file_appeal(app.ctx, as_resident(contact), contact, "x1", WHY)
    assert appeals.decide_appeal(app.ctx, staff["judge"], appeal.appeal_id, "upheld").state == (
        "upheld"
    )
    assert colour(app, contact)[:2] == ("yellow", "default@1#second")
    (mine,) = appeals.appeals_of(app.ctx, contact)
    assert (mine.state, mine.deadline) == ("upheld", appeal.deadline)


def test_a_contested_order_lapses_when_no_decision_comes_in_time(
    app: App, staff: dict[str, Principal], clock: FixedClock
) -> None:
    me, neighbour = resident(app, 0), resident(app, 1)
    order_id = an_order(app, staff, [me, neighbour])
    appeal = appeals.file_appeal(app.ctx, as_resident(me), me, order_id, WHY)
    clock.advance(48 * HOURS - 1)
    assert status.sweep(app.ctx) == []
    assert colour(app, me)[0] == "red"
    clock.advance(1)
    changes = status.sweep(app.ctx)
    assert [(c.subject_id, c.after) for c in changes] == [(me, "green")]
    assert colour(app, neighbour)[0] == "red"
    (mine,) = appeals.appeals_of(app.ctx, me)
    assert mine.state == "lapsed"
    (view,) = orders.orders_of(app.ctx, me)
    assert view.state == "lapsed"
    (lapsed,) = entries(app, "appeal.lapsed")
    assert lapsed["actor"] == {"role": "system", "ref": "system"}
    assert lapsed["details"]["outcome"] == "lapsed"  # type: ignore[index]
    with pytest.raises(Conflict):
        appeals.decide_appeal(app.ctx, staff["judge"], appeal.appeal_id, "upheld")


def test_a_late_decision_cannot_uphold_a_contested_order(
    app: App, staff: dict[str, Principal], clock: FixedClock
) -> None:
    me = resident(app, 0)
    order_id = an_order(app, staff, [me])
    appeal = appeals.file_appeal(app.ctx, as_resident(me), me, order_id, WHY)
    clock.advance(48 * HOURS)  # the sweep has not run yet
    with pytest.raises(Conflict, match="lapsed"):
        appeals.decide_appeal(app.ctx, staff["judge"], appeal.appeal_id, "upheld")
    assert colour(app, me)[0] == "green"
    assert appeals.appeals_of(app.ctx, me)[0].state == "lapsed"


def test_a_guardian_appeals_for_a_dependant(app: App, staff: dict[str, Principal]) -> None:
    parent = resident(app, 0)
    child = enrolment.add_dependant(app.ctx, enrolment.AddDependant(parent, "冯小", "child"))
    order_id = an_order(app, staff, [child.subject_id])
    appeal = appeals.file_appeal(app.ctx, as_resident(parent), child.subject_id, order_id, WHY)
    assert appeal.filed_by == "guardian"
    stranger = resident(app, 1)
    with pytest.raises(NotFound):
        appeals.file_appeal(app.ctx, as_resident(stranger), child.subject_id, order_id, WHY)
    with pytest.raises(Forbidden):
        appeals.file_appeal(app.ctx, staff["tracer"], child.subject_id, order_id, WHY)


def test_bad_appeals_name_the_field_and_store_nothing(
    app: App, staff: dict[str, Principal]
) -> None:
    contact = resident(app, 0)
    exposed(app, contact, "close")
    case_person = case_subject(app)
    before = len(entries(app))
    cases = [
        (contact, "x1", "too short", "reason"),
        (contact, "x1", "长" * 1001, "reason"),
        (contact, "nothing", WHY, "target_id"),
        (contact, "", WHY, "target_id"),
        (contact, "ozzzzzzzzz", WHY, "target_id"),  # no such order
    ]
    positive = positive_test_of(app, case_person)
    cases.append((case_person, positive, WHY, "target_id"))  # a lab result: not by appeal
    for subject_id, target, reason, field in cases:
        with pytest.raises(InvalidInput) as error:
            appeals.file_appeal(app.ctx, as_resident(subject_id), subject_id, target, reason)
        assert error.value.field == field, (target, reason[:10])
    assert len(entries(app)) == before
    assert appeals.appeals_of(app.ctx, contact) == []


def case_subject(app: App) -> str:
    """The confirmed case that `exposed` enrolled (document 99)."""
    with app.ctx.uow(read_only=True) as uow:
        found = uow.vault.find_document(DocumentType.PRC_ID, doc_number(99))
    assert found is not None
    return found


def positive_test_of(app: App, subject_id: str) -> str:
    with app.ctx.uow(read_only=True) as uow:
        (result,) = uow.cases.results_of([subject_id])[subject_id]
    return status.test_fact_id(result)


def test_the_queue_is_ordered_by_deadline_and_its_reading_is_logged(
    app: App, staff: dict[str, Principal], clock: FixedClock
) -> None:
    me, other = resident(app, 0), resident(app, 1)
    order_id = an_order(app, staff, [me, other])
    first = appeals.file_appeal(app.ctx, as_resident(other), other, order_id, WHY)
    clock.advance(HOURS)
    second = appeals.file_appeal(app.ctx, as_resident(me), me, order_id, WHY)
    with pytest.raises(Forbidden):
        appeals.queue(app.ctx, staff["tracer"])
    waiting = appeals.queue(app.ctx, staff["judge"])
    assert [a.appeal_id for a in waiting] == [first.appeal_id, second.appeal_id]
    assert waiting[0].reason == WHY
    (read,) = entries(app, "personal_data.read")
    assert read["details"] == {"action": "appeal.queue", "count": 2}
    text = log_text(app)
    assert WHY not in text
    assert WHY[:5] not in text
    assert me not in text
    assert other not in text
