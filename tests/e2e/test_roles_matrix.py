"""AUTHZ-1, AUTHZ-2: every route × every role, from one expected table written here by hand (not
read from the implementation). A role the table allows is never refused by role (it may still
get 404 or 422 for the object or the body); any other role gets 401 (not signed in) or 403 (signed
in, wrong role), and a signed-in refusal goes on the log. A route missing from this table fails
the test, so a new route needs a decision here."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from healthcode.bootstrap import App
from healthcode.domain.access import Role
from healthcode.entrypoints.web.app import create_app
from healthcode.entrypoints.web.security import ROUTE_ACTIONS
from healthcode.services import audit
from tests.e2e.conftest import Callers

R = Role
ALL = frozenset(Role) - {R.GUARDIAN}  # guardian is decided per object, not per route
SIGNED_IN = ALL - {R.PUBLIC, R.LAB}  # a lab signs each request and has no session
RESIDENT = frozenset({R.RESIDENT})
OFFICERS = frozenset({R.TRACER, R.HEALTH_OFFICER})
ADMIN = frozenset({R.AUTHORITY_ADMIN})
VENUE_SIDE = frozenset({R.VENUE_DEVICE, R.VENUE_STAFF, R.VENUE_ADMIN})

EXPECTED: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/health"): ALL,
    ("POST", "/auth/staff"): ALL,
    ("POST", "/auth/code"): ALL,
    ("POST", "/auth/code/verify"): ALL,
    ("GET", "/auth/session"): SIGNED_IN,
    ("POST", "/auth/logout"): SIGNED_IN,
    ("GET", "/staff"): ADMIN | {R.AUDITOR},
    ("POST", "/staff"): ADMIN | {R.AUDITOR},  # an auditor for auditors' accounts only
    ("POST", "/staff/{staff_id}/role"): ADMIN | {R.AUDITOR},
    ("POST", "/staff/{staff_id}/enable"): ADMIN | {R.AUDITOR},
    ("POST", "/staff/{staff_id}/disable"): ADMIN | {R.AUDITOR},
    ("GET", "/staff/requests"): ADMIN | {R.AUDITOR},
    ("POST", "/staff/requests/{request_id}/approve"): ADMIN | {R.AUDITOR},
    ("POST", "/staff/requests/{request_id}/refuse"): ADMIN | {R.AUDITOR},
    ("GET", "/venues/{venue_id}/devices"): frozenset({R.VENUE_ADMIN}),
    ("POST", "/venues/{venue_id}/devices"): frozenset({R.VENUE_ADMIN}),
    ("POST", "/venues/{venue_id}/devices/{device_id}/revoke"): frozenset({R.VENUE_ADMIN}),
    ("POST", "/cases/{case_id}/assign"): frozenset({R.HEALTH_OFFICER}),
    ("POST", "/residents"): frozenset({R.APPLICANT, R.HEALTH_OFFICER}),
    ("POST", "/residents/{subject_id}/dependants"): RESIDENT,
    ("GET", "/residents/{subject_id}/dependants"): RESIDENT,
    ("POST", "/residents/{subject_id}/code"): RESIDENT,
    ("GET", "/residents/{subject_id}/status"): RESIDENT | OFFICERS,
    ("POST", "/residents/{subject_id}/status/what-if"): RESIDENT,
    ("GET", "/residents/{subject_id}/notices"): RESIDENT,
    ("POST", "/residents/{subject_id}/symptoms"): RESIDENT,
    ("POST", "/residents/{subject_id}/quarantine"): OFFICERS,
    ("POST", "/residents/{subject_id}/vaccinations"): frozenset({R.HEALTH_OFFICER}),
    ("POST", "/residents/{subject_id}/checkins"): RESIDENT,
    ("GET", "/residents/{subject_id}/checkins"): RESIDENT,  # never an officer
    ("POST", "/residents/{subject_id}/checkins/{venue_id}/{checkin_id}/checkout"): RESIDENT,
    ("GET", "/residents/{subject_id}/log"): RESIDENT,  # who read my record: only me
    ("POST", "/statuses/sweep"): ADMIN,
    ("GET", "/rulesets"): ALL,
    ("GET", "/rulesets/active"): ALL,
    ("GET", "/rulesets/{set_id}/{version}"): ALL,
    ("POST", "/rulesets"): frozenset({R.HEALTH_OFFICER, R.AUTHORITY_ADMIN}),
    ("POST", "/rulesets/{set_id}/{version}/dry-run"): frozenset(
        {R.HEALTH_OFFICER, R.AUTHORITY_ADMIN}
    ),
    ("POST", "/rulesets/{set_id}/{version}/activation-requests"): frozenset(
        {R.HEALTH_OFFICER, R.AUTHORITY_ADMIN}
    ),
    ("GET", "/rulesets/activation-requests"): frozenset({R.HEALTH_OFFICER, R.AUTHORITY_ADMIN}),
    ("POST", "/rulesets/activation-requests/{seq}/approve"): ADMIN | {R.AUDITOR},  # a second person
    ("POST", "/venues"): ADMIN,
    ("GET", "/venues/{venue_id}"): ALL,
    ("POST", "/venues/{venue_id}/poster/rotate"): frozenset({R.VENUE_ADMIN, R.AUTHORITY_ADMIN}),
    ("GET", "/venues/{venue_id}/poster.{fmt}"): frozenset(
        {R.VENUE_STAFF, R.VENUE_ADMIN, R.AUTHORITY_ADMIN}
    ),
    ("POST", "/venues/{venue_id}/scans"): VENUE_SIDE,
    ("POST", "/venues/{venue_id}/uploads"): VENUE_SIDE,
    ("POST", "/place-codes/check"): ALL,
    ("POST", "/verify"): ALL,
    ("POST", "/verify/image"): ALL,
    ("GET", "/labs"): ALL,
    ("POST", "/labs"): ADMIN,
    ("POST", "/labs/{lab_id}/approve"): ADMIN,
    ("POST", "/labs/{lab_id}/revoke"): ADMIN,
    ("POST", "/lab-results"): frozenset({R.LAB}),  # never a member of staff (AUTHZ-8)
    ("POST", "/lab-results/csv"): frozenset({R.LAB}),
    ("POST", "/lab-results/fhir"): frozenset({R.LAB}),
    ("GET", "/cases"): OFFICERS,
    ("POST", "/cases/trace"): frozenset({R.HEALTH_OFFICER}),
    ("POST", "/cases/{case_id}/trace"): OFFICERS,
    ("GET", "/trust-list"): ALL,
    ("GET", "/trust-lists"): ALL,
    ("GET", "/trust-lists/documents"): ALL,  # what a guard's scanner keeps, as signed
    ("POST", "/trust-lists"): ADMIN,
    ("GET", "/keys"): frozenset({R.AUTHORITY_ADMIN, R.AUDITOR}),
    ("POST", "/keys/{use}/rotate"): ADMIN,
    ("POST", "/keys/{kid}/withdraw"): ADMIN,
    ("GET", "/legal-bases"): ALL,
    ("POST", "/orders"): OFFICERS,
    ("GET", "/orders/awaiting"): OFFICERS | {R.AUTHORITY_ADMIN, R.AUDITOR},
    ("GET", "/orders/{order_id}"): OFFICERS | {R.AUTHORITY_ADMIN, R.AUDITOR},
    ("POST", "/orders/{order_id}/approve"): OFFICERS | ADMIN,
    ("POST", "/orders/{order_id}/reject"): OFFICERS | ADMIN,
    ("POST", "/orders/{order_id}/revoke"): OFFICERS | ADMIN,
    ("POST", "/orders/{order_id}/release"): frozenset({R.AUDITOR}),
    ("POST", "/orders/{order_id}/refuse"): frozenset({R.AUDITOR}),
    ("GET", "/residents/{subject_id}/orders"): RESIDENT,
    ("POST", "/residents/{subject_id}/appeals"): RESIDENT,
    ("GET", "/residents/{subject_id}/appeals"): RESIDENT,
    ("GET", "/appeals"): frozenset({R.HEALTH_OFFICER}),
    ("POST", "/appeals/{appeal_id}/decide"): frozenset({R.HEALTH_OFFICER}),
    ("GET", "/report"): ALL,
    ("GET", "/anomalies"): frozenset({R.AUDITOR}),
    ("GET", "/log/checkpoint"): ALL,
    ("GET", "/log/checkpoints"): ALL,
    ("GET", "/log/vkey"): ALL,
    ("GET", "/log/entries"): ALL,
    ("GET", "/log/proof/inclusion"): ALL,
    ("GET", "/log/proof/consistency"): ALL,
    ("GET", "/log/export"): ALL,
}


@pytest.fixture
def database_url(world_database: str) -> str:
    """Each test's own copy of the world (tests/e2e/conftest.py)."""
    return world_database


def test_every_route_is_in_the_expected_table(app: App) -> None:
    """Every operation the API publishes has a row here, and every row is a served route."""
    paths = create_app(built=app).openapi()["paths"]
    served = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    assert len(served) >= 70
    assert served == set(EXPECTED)
    assert set(ROUTE_ACTIONS) == set(EXPECTED)


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
def test_roles_by_route(
    world: tuple[TestClient, Callers, dict[str, str]],
    app: App,
    method: str,
    path: str,
) -> None:
    client, headers, params = world
    url = path.format(**params)
    allowed = EXPECTED[(method, path)]
    # Refused roles first: an allowed request may change the world (revoke the device, sign out).
    for role in sorted(ALL, key=lambda r: (r in allowed, r.value)):
        answer = client.request(method, url, headers=headers.of(role, url, b"{}"), json={})
        if role in allowed:
            assert answer.status_code not in (401, 403), (role, answer.status_code, answer.text)
        elif role is R.PUBLIC:
            assert answer.status_code == 401, (role, answer.text)
        else:
            assert answer.status_code == 403, (role, answer.text)
    entries = [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]
    by_role = [
        e for e in entries if e["action"] == "access.refused" and e["outcome"] == "refused:role"
    ]
    if "{subject_id}" in path:  # on a route about a person, in that person's record
        assert all(e["object"]["kind"] == "subject" for e in by_role), path
    assert len(by_role) == len(ALL - allowed - {R.PUBLIC})  # signed-in refusals are logged
