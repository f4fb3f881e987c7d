"""Fuzzing what a lab may send (REL-1, REL-4): JSON rows, CSV files and FHIR Bundles, signed with
the lab's key, each route answering 4xx with the field and the reason or 200, never 5xx; a
refused submission stores nothing. Unsigned, wrongly signed and staff-signed submissions are
refused before the body is read. The schema fuzz (test_api_schema_fuzz.py) cannot sign bodies,
so the lab routes are fuzzed here."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthcode.bootstrap import App
from healthcode.entrypoints.web.app import create_app
from healthcode.services import audit, enrolment
from tests.conftest import sqlite_app, staff_headers
from tests.support.fhir import Test, bundle
from tests.support.labs import TestLab, registered_lab

DOC = "11010519491231002X"
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))  # fmt: skip


@pytest.fixture(scope="module")
def lab_app(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[App]:
    app = sqlite_app(tmp_path_factory.mktemp("labfuzz"), sqlite_template)
    cmd = enrolment.EnrolResident("冯三", "prc_id", DOC, "13812345678")
    enrolment.enrol_resident(app.ctx, cmd)
    yield app
    app.close()


@pytest.fixture(scope="module")
def client(lab_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(built=lab_app), raise_server_exceptions=False) as test_client:
        yield test_client


def send(client: TestClient, lab: TestLab, app: App, path: str, body: bytes, kind: str) -> Any:
    headers = lab.headers(path, body, app.ctx.clock.now()) | {"content-type": kind}
    return client.post(path, content=body, headers=headers)


def stored(app: App) -> int:
    return audit.log_size(app.ctx)


def check(answer: Any, before: int, app: App) -> None:
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        error = answer.json()["error"]
        assert error["field"]
        assert error["message"]
        assert stored(app) == before  # a refused submission stores nothing, logs nothing


_text = st.text(max_size=300) | st.sampled_from(["", "\ud800", "{", "[]", "null", "{" * 5000])
_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)


@FUZZ
@given(body=_text | _json.map(lambda v: json.dumps(v)))
def test_any_signed_body_on_any_lab_route_is_a_clean_answer(
    client: TestClient, lab_app: App, body: str
) -> None:
    lab = registered_lab(lab_app, "FUZZLAB")
    raw = body.encode("utf-8", "surrogatepass")
    for path, kind in (("/lab-results", "application/json"), ("/lab-results/csv", "text/csv"),
                       ("/lab-results/fhir", "application/fhir+json")):  # fmt: skip
        before = stored(lab_app)
        check(send(client, lab, lab_app, path, raw, kind), before, lab_app)


def _mutate(data: st.DataObject, doc: Any, depth: int = 0) -> Any:
    if isinstance(doc, dict) and doc and depth < 8:
        key = data.draw(st.sampled_from(sorted(doc)))
        choice = data.draw(st.sampled_from(["drop", "replace", "recurse"]))
        if choice == "drop":
            doc.pop(key)
        elif choice == "replace":
            doc[key] = data.draw(_json)
        else:
            doc[key] = _mutate(data, doc[key], depth + 1)
    elif isinstance(doc, list) and doc and depth < 8:
        i = data.draw(st.integers(0, len(doc) - 1))
        doc[i] = _mutate(data, doc[i], depth + 1)
    else:
        return data.draw(_json)
    return doc


@FUZZ
@given(data=st.data())
def test_mutated_bundles_are_a_clean_answer(
    client: TestClient, lab_app: App, data: st.DataObject
) -> None:
    lab = registered_lab(lab_app, "FUZZLAB")
    now = lab_app.ctx.clock.now()
    doc = bundle(Test("F-1", "prc_id", DOC, now - 600, "negative"),
                 Test("F-2", "prc_id", DOC, now - 900, "registered"))  # fmt: skip
    for _ in range(data.draw(st.integers(1, 3))):
        doc = _mutate(data, copy.deepcopy(doc))
    body = json.dumps(doc).encode()
    before = stored(lab_app)
    check(send(client, lab, lab_app, "/lab-results/fhir", body, "application/fhir+json"),
          before, lab_app)  # fmt: skip


def test_unsigned_forged_and_staff_submissions_are_refused(
    client: TestClient, lab_app: App
) -> None:
    lab = registered_lab(lab_app, "FUZZLAB")
    now = lab_app.ctx.clock.now()
    body = json.dumps(bundle(Test("S-1", "prc_id", DOC, now - 60, "positive"))).encode()
    path = "/lab-results/fhir"
    officer = staff_headers(lab_app, "health_officer")
    other = registered_lab(lab_app, "OTHERLAB")
    before = stored(lab_app)
    assert client.post(path, content=body).status_code == 401
    signed = lab.headers(path, body, now)
    assert client.post(path, content=body + b" ", headers=signed).status_code == 401
    assert client.post("/lab-results/csv", content=body, headers=signed).status_code == 401
    forged = other.headers(path, body, now)["Healthcode-Lab-Signature"].replace(
        other.lab.lab_id, lab.lab.lab_id
    )
    assert client.post(path, content=body,
                       headers={"Healthcode-Lab-Signature": forged}).status_code == 401  # fmt: skip
    assert client.post(path, content=body, headers=officer).status_code == 403
    assert stored(lab_app) == before + 1  # only the officer's refusal, on the log


@pytest.mark.parametrize("kind", ["", "Nothing", "bundle", None, 7])
def test_an_entry_of_no_known_resource_type_is_a_clean_answer(
    client: TestClient, lab_app: App, kind: Any
) -> None:
    """Found by the fuzzing above: an entry whose resourceType named nothing the FHIR library
    knows made it raise past its own validation (a 500)."""
    lab = registered_lab(lab_app, "FUZZLAB")
    now = lab_app.ctx.clock.now()
    doc = bundle(Test("F-1", "prc_id", DOC, now - 600, "negative"))
    doc["entry"][0]["resource"]["resourceType"] = kind
    before = stored(lab_app)
    answer = send(client, lab, lab_app, "/lab-results/fhir", json.dumps(doc).encode(),
                  "application/fhir+json")  # fmt: skip
    check(answer, before, lab_app)
    assert answer.status_code == 422
