"""Manual health orders (AUTHZ-6, AUD-8): a cited legal basis, two officers of different roles,
daily quotas, a freeze above a size threshold until an auditor releases it, a colour whose
provenance names the order, and a log that never holds the reason or anybody's name or id."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.config import Settings
from healthcode.domain.access import Role
from healthcode.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, TooMany
from healthcode.domain.orders import DAY, OrderState
from healthcode.services import orders, status
from tests.integration.orders_city import (
    BASIS,
    NAMES,
    REASON,
    colour,
    doc_number,
    entries,
    exposed,
    log_text,
    officer,
    order_settings,
    resident,
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return order_settings(tmp_path, database_url)


@pytest.fixture
def people(app: App) -> list[str]:
    return [resident(app, i) for i in range(4)]


def propose(app: App, who: object, subjects: list[str], **kw: object) -> orders.ManualOrder:
    values: dict[str, object] = {
        "colour": "red", "legal_basis": BASIS, "reason": REASON, "days": 3, **kw,
    }  # fmt: skip
    return orders.propose_order(app.ctx, who, subjects, **values)  # type: ignore[arg-type]


def test_an_order_needs_a_second_officer_of_another_role(app: App, people: list[str]) -> None:
    tracer = officer(app, "li.tracer", Role.TRACER)
    other_tracer = officer(app, "wu.tracer", Role.TRACER)
    health = officer(app, "ma.officer", Role.HEALTH_OFFICER)
    order = propose(app, tracer, people[:1])
    assert order.state == OrderState.PROPOSED
    assert colour(app, people[0])[0] == "green"  # a proposal colours nobody
    with pytest.raises(Forbidden, match="proposed"):
        orders.approve_order(app.ctx, tracer, order.order_id)
    with pytest.raises(Forbidden, match="different role"):
        orders.approve_order(app.ctx, other_tracer, order.order_id)
    with pytest.raises(Forbidden):  # residents, auditors, venue staff never approve
        orders.approve_order(app.ctx, officer(app, "yang.audit", Role.AUDITOR), order.order_id)
    assert colour(app, people[0])[0] == "green"
    refused = entries(app, "order.approved")
    assert [e["outcome"] for e in refused] == ["refused:proposer", "refused:same_role"]
    assert refused[1]["actor"] == {"role": "tracer", "ref": f"staff:{other_tracer.ref}"}

    active = orders.approve_order(app.ctx, health, order.order_id)
    assert active.state == OrderState.ACTIVE
    assert active.ends_at == active.starts_at + 3 * DAY  # type: ignore[operator]
    # AUTHZ-6: the colour names the order as its basis and cites it as the evidence.
    assert colour(app, people[0]) == ("red", f"order:{order.order_id}", (order.order_id,))
    assert colour(app, people[1])[0] == "green"
    (changed,) = entries(app, "status.changed")
    assert changed["details"] == {
        "from": "green", "to": "red", "rule": f"order:{order.order_id}", "evidence": 1,
        "reason": "order_active",
    }  # fmt: skip
    assert changed["actor"] == {"role": "health_officer", "ref": f"staff:{health.ref}"}
    with pytest.raises(Conflict):  # approved once only
        orders.approve_order(app.ctx, officer(app, "gao.admin", Role.AUTHORITY_ADMIN),
                             order.order_id)  # fmt: skip


def test_a_health_officers_order_goes_to_a_tracer_or_an_admin(app: App, people: list[str]) -> None:
    health = officer(app, "ma.officer", Role.HEALTH_OFFICER)
    order = propose(app, health, people[:1], colour="yellow")
    with pytest.raises(Forbidden):
        orders.approve_order(app.ctx, officer(app, "he.officer", Role.HEALTH_OFFICER),
                             order.order_id)  # fmt: skip
    admin = officer(app, "gao.admin", Role.AUTHORITY_ADMIN)
    assert orders.approve_order(app.ctx, admin, order.order_id).state == OrderState.ACTIVE
    assert colour(app, people[0])[:2] == ("yellow", f"order:{order.order_id}")
    second = propose(app, health, people[1:2])
    rejected = orders.reject_order(app.ctx, officer(app, "li.tracer", Role.TRACER),
                                   second.order_id)  # fmt: skip
    assert rejected.state == OrderState.REJECTED
    assert colour(app, people[1])[0] == "green"
    assert len(entries(app, "order.rejected")) == 1


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("colour", {"colour": "green"}),
        ("colour", {"colour": "purple"}),
        ("legal_basis", {"legal_basis": "public_order"}),
        ("reason", {"reason": "too short"}),
        ("reason", {"reason": "x" * 501}),
        ("days", {"days": 0}),
        ("days", {"days": 15}),
        ("subject_ids", {"subjects": []}),
        ("subject_ids", {"subjects": ["not-a-subject"]}),
        ("subject_ids", {"subjects": "twice"}),
        ("subject_ids", {"subjects": ["f" * 32]}),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    app: App, people: list[str], field: str, changes: dict[str, object]
) -> None:
    tracer = officer(app, "li.tracer", Role.TRACER)
    changes = dict(changes)  # the parameters are shared by both databases' runs
    subjects = changes.pop("subjects", people[:1])
    if subjects == "twice":
        subjects = [people[0], people[0]]
    before = len(entries(app))
    with pytest.raises((InvalidInput, NotFound)) as error:
        propose(app, tracer, subjects, **changes)  # type: ignore[arg-type]
    assert error.value.field == field
    assert len(entries(app)) == before
    with app.ctx.uow(read_only=True) as uow:
        assert uow.orders.with_states([s.value for s in OrderState]) == []


def test_quotas_per_officer_and_day(app: App, people: list[str], clock: FixedClock) -> None:
    tracer = officer(app, "li.tracer", Role.TRACER)
    for person in people[:3]:
        propose(app, tracer, [person])
    with pytest.raises(TooMany, match="3 orders in 24 hours") as refused:
        propose(app, tracer, people[3:4])
    assert 0 < refused.value.retry_after <= DAY
    # the residents quota (5 a day): another officer names 4, then 2 more is too many
    other = officer(app, "wu.tracer", Role.TRACER)
    propose(app, other, people)
    with pytest.raises(TooMany, match="5 residents"):
        propose(app, other, people[:2])
    with pytest.raises(InvalidInput, match="at most 5 residents"):  # can never fit in a day
        propose(app, other, [f"{i:032x}" for i in range(6)])
    assert [e["outcome"] for e in entries(app, "order.proposed")].count("refused:quota") == 2
    clock.advance(DAY)
    propose(app, tracer, people[3:4])  # a day later, the window has moved on
    propose(app, other, people[:2])


def test_an_order_above_the_threshold_is_frozen_until_an_auditor_releases_it(
    app: App, people: list[str]
) -> None:
    tracer = officer(app, "li.tracer", Role.TRACER)
    health = officer(app, "ma.officer", Role.HEALTH_OFFICER)
    auditor = officer(app, "yang.audit", Role.AUDITOR)
    big = propose(app, tracer, people[:3])  # threshold 2: frozen on approval
    assert orders.approve_order(app.ctx, health, big.order_id).state == OrderState.FROZEN
    assert all(colour(app, p)[0] == "green" for p in people[:3])  # no effect while frozen
    assert entries(app, "status.changed") == []
    (frozen,) = entries(app, "order.frozen")
    assert frozen["details"] == {"subjects": 3, "threshold": 2, "why": "order_size"}
    assert [o.order_id for o in orders.awaiting(app.ctx, auditor)] == [big.order_id]
    for not_auditor in (tracer, health, officer(app, "gao.admin", Role.AUTHORITY_ADMIN)):
        with pytest.raises(Forbidden):
            orders.release_order(app.ctx, not_auditor, big.order_id)
    released = orders.release_order(app.ctx, auditor, big.order_id)
    assert released.state == OrderState.ACTIVE
    assert released.released_by == auditor.ref
    assert all(colour(app, p)[:2] == ("red", f"order:{big.order_id}") for p in people[:3])
    assert len(entries(app, "status.changed")) == 3
    assert entries(app, "order.released")[0]["actor"]["ref"] == f"staff:{auditor.ref}"

    other = officer(app, "wu.tracer", Role.TRACER)
    refused = propose(app, other, [people[3], people[0], people[1]])
    orders.approve_order(app.ctx, health, refused.order_id)
    assert orders.refuse_release(app.ctx, auditor, refused.order_id).state == "rejected"
    assert colour(app, people[3])[0] == "green"
    with pytest.raises(Conflict):
        orders.release_order(app.ctx, auditor, refused.order_id)


def test_revoking_returns_to_the_rule_derived_colour(app: App, people: list[str]) -> None:
    exposed(app, people[0], "secondary")  # yellow for 7 days by the published rule
    assert colour(app, people[0])[:2] == ("yellow", "default@1#second")
    tracer = officer(app, "li.tracer", Role.TRACER)
    order = propose(app, tracer, people[:1])
    orders.approve_order(app.ctx, officer(app, "ma.officer", Role.HEALTH_OFFICER), order.order_id)
    assert colour(app, people[0])[:2] == ("red", f"order:{order.order_id}")
    revoked = orders.revoke_order(app.ctx, tracer, order.order_id)  # the proposer may revoke
    assert revoked.state == OrderState.REVOKED
    assert colour(app, people[0])[:2] == ("yellow", "default@1#second")
    last = entries(app, "status.changed")[-1]
    assert last["details"]["rule"] == "default@1#second"  # type: ignore[index]
    assert last["details"]["reason"] == "order_revoked"  # type: ignore[index]
    with pytest.raises(Conflict):
        orders.revoke_order(app.ctx, tracer, order.order_id)


def test_an_order_cannot_make_a_red_person_greener(app: App, people: list[str]) -> None:
    exposed(app, people[0], "close")  # red for 7 days by the published rule
    order = propose(app, officer(app, "li.tracer", Role.TRACER), people[:1], colour="yellow")
    orders.approve_order(app.ctx, officer(app, "ma.officer", Role.HEALTH_OFFICER), order.order_id)
    assert colour(app, people[0])[:2] == ("red", "default@1#close")


def test_an_expired_order_stops_by_itself(app: App, people: list[str], clock: FixedClock) -> None:
    exposed(app, people[0], "secondary")
    tracer = officer(app, "li.tracer", Role.TRACER)
    order = propose(app, tracer, people[:2], days=1)
    orders.approve_order(app.ctx, officer(app, "ma.officer", Role.HEALTH_OFFICER), order.order_id)
    clock.advance(DAY - 1)
    assert colour(app, people[1])[0] == "red"
    clock.advance(1)
    assert colour(app, people[1])[0] == "green"  # derived afresh: the order has run out
    changes = status.sweep(app.ctx)
    assert {(c.after, c.rule_ref) for c in changes} == {
        ("yellow", "default@1#second"), ("green", "default@1#none"),
    }  # fmt: skip
    (expired,) = entries(app, "order.expired")
    assert expired["actor"] == {"role": "system", "ref": "system"}
    reasons = [e["details"]["reason"] for e in entries(app, "status.changed")]  # type: ignore[index]
    assert reasons.count("order_expired") == 2
    with app.ctx.uow(read_only=True) as uow:
        assert uow.orders.get(order.order_id).state == OrderState.EXPIRED  # type: ignore[union-attr]
    assert status.sweep(app.ctx) == []


def test_the_resident_sees_the_order_its_basis_and_reason(app: App, people: list[str]) -> None:
    tracer = officer(app, "li.tracer", Role.TRACER)
    order = propose(app, tracer, people[:1])
    propose(app, tracer, people[:1], colour="yellow")  # never approved: never shown
    assert orders.orders_of(app.ctx, people[0]) == []
    orders.approve_order(app.ctx, officer(app, "ma.officer", Role.HEALTH_OFFICER), order.order_id)
    (view,) = orders.orders_of(app.ctx, people[0])
    assert (view.order_id, view.colour, view.state, view.reason) == (
        order.order_id, "red", "active", REASON,
    )  # fmt: skip
    assert view.legal_basis.basis_id == BASIS
    assert "第四十一条" in view.legal_basis.zh
    assert "Article 41" in view.legal_basis.en
    assert view.ends_at == view.starts_at + 3 * DAY  # type: ignore[operator]
    assert (view.appeal_id, view.appealable) == (None, True)
    assert orders.orders_of(app.ctx, people[1]) == []


def test_the_log_holds_no_reason_names_or_subject_ids(app: App, people: list[str]) -> None:
    tracer = officer(app, "li.tracer", Role.TRACER)
    health = officer(app, "ma.officer", Role.HEALTH_OFFICER)
    auditor = officer(app, "yang.audit", Role.AUDITOR)
    small = propose(app, tracer, people[:1])
    orders.approve_order(app.ctx, health, small.order_id)
    big = propose(app, tracer, people[1:4])
    orders.approve_order(app.ctx, health, big.order_id)
    orders.release_order(app.ctx, auditor, big.order_id)
    orders.revoke_order(app.ctx, health, small.order_id)
    text = log_text(app)
    assert REASON not in text
    assert REASON[:6] not in text
    for i, person in enumerate(people):
        assert person not in text
        assert NAMES[i] not in text
        assert doc_number(i) not in text
    proposed = entries(app, "order.proposed")[0]
    assert proposed["basis"] == BASIS
    assert proposed["purpose"] == "manual_order"
    assert proposed["details"] == {"colour": "red", "days": 3, "subjects": 1}
    assert proposed["actor"] == {"role": "tracer", "ref": f"staff:{tracer.ref}"}
    changed = entries(app, "status.changed")
    assert all(str(e["object"]["ref"]).startswith("c:") for e in changed)  # type: ignore[index]
