"""The Zhengzhou scenario replayed through the API, on SQLite and on PostgreSQL.

In June 2022 officials turned the health codes of 1,317 bank depositors red to stop them
protesting; nothing in that system refused it, flagged it or told the people why. Here officers
try the same with manual orders and no case behind any of them:

- one order for hundreds of people is refused outright (over an officer's daily quota), and a
  burst of small ones runs into the quota (429);
- an order naming more than the freeze threshold is frozen until an auditor releases it, and the
  auditor refuses: nobody's colour changes;
- the small orders a second officer did approve are flagged by the anomaly watch;
- every person named sees the order, its legal basis in words, its reason, and how to appeal,
  and their colour names the order as its basis; an appeal nobody upholds lets it lapse;
- the public transparency report shows the orders and the alerts, and names nobody.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App
from healthcode.entrypoints.web.app import create_app
from healthcode.services import anomalies
from tests.conftest import resident_headers, staff_headers
from tests.integration.test_anomalies import residents

HOUR = 3600
REASON = "聚集维权，影响社会稳定"  # what such an order would say: shown to each person named


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app)) as test_client:
        yield test_client


def order(client: TestClient, who: dict[str, str], people: list[str], basis: str) -> object:
    body = {"subject_ids": people, "colour": "red", "legal_basis": basis, "reason": REASON,
            "days": 14}  # fmt: skip
    return client.post("/orders", json=body, headers=who)


def test_an_officer_cannot_quietly_turn_depositors_red(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    people = residents(app, 320)  # depositors, none of them in any case
    basis = client.get("/legal-bases").json()[0]["basis_id"]
    tracers = [staff_headers(app, "tracer") for _ in range(3)]
    officer = staff_headers(app, "health_officer")
    auditor = staff_headers(app, "auditor")

    # 300 at once: refused, whatever the second officer would say.
    refused = order(client, tracers[0], people[:300], basis)
    assert refused.status_code == 422, refused.text  # type: ignore[attr-defined]
    assert refused.json()["error"]["field"] == "subject_ids"  # type: ignore[attr-defined]

    # A burst of small orders: the officer's daily quota (100 people) stops the third one.
    approved = []
    for start in (0, 25):
        made = order(client, tracers[0], people[start : start + 25], basis)
        assert made.status_code == 201  # type: ignore[attr-defined]
        approved.append(made.json()["order_id"])  # type: ignore[attr-defined]
    over = order(client, tracers[0], people[50:110], basis)
    assert over.status_code == 429  # type: ignore[attr-defined]
    assert int(over.headers["Retry-After"]) >= 1  # type: ignore[attr-defined]
    for start in (110, 135):  # a second officer joins in
        made = order(client, tracers[1], people[start : start + 25], basis)
        approved.append(made.json()["order_id"])  # type: ignore[attr-defined]

    # The proposer cannot approve their own order, nor can another officer of the same role.
    assert client.post(f"/orders/{approved[0]}/approve", headers=tracers[0]).status_code == 403
    assert client.post(f"/orders/{approved[0]}/approve", headers=tracers[1]).status_code == 403
    for order_id in approved:
        done = client.post(f"/orders/{order_id}/approve", headers=officer)
        assert done.json()["state"] == "active", done.text

    # More than the freeze threshold in one order: frozen, no colour changes, an auditor decides.
    big = order(client, tracers[2], people[160:220], basis).json()  # type: ignore[attr-defined]
    frozen = client.post(f"/orders/{big['order_id']}/approve", headers=officer).json()
    assert frozen["state"] == "frozen"
    waiting = client.get("/orders/awaiting", headers=auditor).json()
    assert [o["order_id"] for o in waiting] == [big["order_id"]]
    frozen_person = people[170]
    mine = resident_headers(app, frozen_person)
    assert (
        client.get(f"/residents/{frozen_person}/status", headers=mine).json()["colour"] == "green"
    )
    (seen,) = client.get(f"/residents/{frozen_person}/orders", headers=mine).json()
    assert (seen["state"], seen["reason"]) == ("frozen", REASON)
    refused_release = client.post(f"/orders/{big['order_id']}/refuse", headers=auditor)
    assert refused_release.json()["state"] == "rejected"
    assert (
        client.get(f"/residents/{frozen_person}/status", headers=mine).json()["colour"] == "green"
    )

    # The approved ones took effect, and each person sees why, on what basis, and how to appeal.
    victim = people[5]
    me = resident_headers(app, victim)
    status = client.get(f"/residents/{victim}/status", headers=me).json()
    assert (status["colour"], status["rule_ref"]) == ("red", f"order:{approved[0]}")
    (mine_order,) = client.get(f"/residents/{victim}/orders", headers=me).json()
    assert mine_order["reason"] == REASON
    assert mine_order["legal_basis"]["text"]["zh"]
    assert mine_order["appealable"] is True

    # The anomaly watch (the server runs it every few minutes) flags the pattern.
    anomalies.watch(app.ctx)
    alerts = client.get("/anomalies", headers=auditor).json()
    detectors = {a["detector"] for a in alerts}
    assert {"order_burst", "non_health_cluster"} <= detectors, alerts
    assert client.get("/anomalies", headers=officer).status_code == 403
    assert client.get("/anomalies").status_code == 401

    # The public report shows the orders and the alerts; it names nobody.
    report = client.get("/report", params={"days": 1})
    assert report.status_code == 200
    (today,) = report.json()["days"]
    assert today["orders"]["approved"] == len(approved) + 1  # and the one approval that froze
    assert today["orders"]["frozen"] >= 1
    assert sum(today["anomaly_alerts"].values()) == len(alerts)
    assert today["colour_changes"]["red_order"] == 100
    for subject_id in people:
        assert subject_id not in report.text
        assert subject_id not in json.dumps(alerts)

    # The person appeals; no officer upholds the order in time; it lapses for them alone.
    contest = {"target_id": approved[0], "reason": "我没有违反任何防疫规定"}
    appeal = client.post(f"/residents/{victim}/appeals", headers=me, json=contest)
    assert appeal.status_code == 201, appeal.text
    clock.advance(app.settings.appeal_decision_hours * HOUR + 60)
    admin = staff_headers(app, "authority_admin")
    assert client.post("/statuses/sweep", headers=admin).status_code == 200
    me = resident_headers(app, victim)
    assert client.get(f"/residents/{victim}/status", headers=me).json()["colour"] == "green"
    other = people[6]
    theirs = resident_headers(app, other)
    assert client.get(f"/residents/{other}/status", headers=theirs).json()["colour"] == "red"
    about = client.get(f"/residents/{victim}/log", headers=me).json()
    assert {"status.changed", "appeal.filed", "appeal.lapsed"} <= {e["action"] for e in about}
