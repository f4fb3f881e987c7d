"""After the sunset every door for personal data is closed, over HTTP, with a clear answer (409
`emergency_ended`), and nothing is taken in: no phone tag, no code sent, no resident, no result.
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from healthcode.adapters.otp_sender import ConsoleSender
from healthcode.bootstrap import App
from healthcode.entrypoints.web.app import create_app
from healthcode.services import retention
from tests.conftest import staff_headers
from tests.support import fhir
from tests.support.labs import registered_lab

DOC = "11010519491231002X"
TABLES = ("otp_challenges", "vault_identities", "lab_results", "lab_samples", "sessions")


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=app)) as test_client:
        yield test_client


def counts(app: App) -> dict[str, int]:
    with app.engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())  # noqa: S608
            for t in TABLES
        }


def ended(answer: object) -> None:
    assert getattr(answer, "status_code", None) == 409, getattr(answer, "text", answer)
    error = answer.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "emergency_ended"
    assert "emergency has ended" in error["message"]


def test_after_the_sunset_every_intake_answers_that_the_emergency_has_ended(
    client: TestClient, app: App
) -> None:
    lab = registered_lab(app)
    retention.sunset(app.ctx)
    desk = staff_headers(app, "health_officer")  # sunset ended every session: a new one
    before = counts(app)
    sender = app.ctx.sender
    assert isinstance(sender, ConsoleSender)
    sent = len(sender.sent)

    ended(client.post("/auth/code", json={"phone": "13912345678"}))
    ended(client.post("/auth/code/verify", json={"phone": "13912345678", "code": "123456"}))
    resident = {"name": "李四", "doc_type": "prc_id", "doc_number": DOC, "phone": "13812345678"}
    ended(client.post("/residents", json=resident, headers=desk))
    now = app.ctx.clock.now()
    row = {"test_id": "T-9", "doc_type": "prc_id", "doc_number": DOC,
           "sample_time": str(now - 600), "result": "positive", "lab": "LAB1"}  # fmt: skip
    body = json.dumps({"rows": [row]}).encode()
    headers = lab.headers("/lab-results", body, now) | {"content-type": "application/json"}
    ended(client.post("/lab-results", content=body, headers=headers))
    bundle = fhir.text(fhir.Test("F-9", "prc_id", DOC, now - 600, "positive"))
    headers = lab.headers("/lab-results/fhir", bundle, now)
    ended(client.post("/lab-results/fhir", content=bundle,
                      headers=headers | {"content-type": "application/fhir+json"}))  # fmt: skip

    assert counts(app) == before  # nothing taken in, not even a phone number's tag
    assert len(sender.sent) == sent  # and no code sent
