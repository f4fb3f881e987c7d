"""AUTHZ-1 for the web pages: every page route × every role, from one table written here by hand.
An allowed role is never refused by role (it may get 404 or 422 for the object or the form);
the public is sent to sign in (303 to /sign-in); any other role gets a 403 page, and that
refusal goes on the log. A page route missing from this table fails the test."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from healthcode.bootstrap import App
from healthcode.domain.access import Role
from healthcode.entrypoints.web.pages.site import PAGE_ACTIONS
from healthcode.services import audit
from tests.e2e.conftest import Callers
from tests.e2e.test_roles_matrix import ALL, SIGNED_IN

R = Role
RESIDENT = frozenset({R.RESIDENT})
APPLICANT = frozenset({R.APPLICANT})
VENUE_SIDE = frozenset({R.VENUE_DEVICE, R.VENUE_STAFF, R.VENUE_ADMIN})
OFFICE = frozenset({R.TRACER, R.HEALTH_OFFICER, R.AUTHORITY_ADMIN})
OFFICERS = frozenset({R.TRACER, R.HEALTH_OFFICER})
AUDITOR = frozenset({R.AUDITOR})
ADMIN = frozenset({R.AUTHORITY_ADMIN})
HEALTH_OFFICER = frozenset({R.HEALTH_OFFICER})
RULE_MAKERS = frozenset({R.HEALTH_OFFICER, R.AUTHORITY_ADMIN})

EXPECTED: dict[tuple[str, str], frozenset[Role]] = {
    # The front door.
    ("GET", "/"): ALL,
    ("GET", "/language"): ALL,
    ("GET", "/sign-in"): ALL,
    ("POST", "/sign-in/code"): ALL,
    ("POST", "/sign-in/code/verify"): ALL,
    ("GET", "/sign-in/staff"): ALL,
    ("POST", "/sign-in/staff"): ALL,
    ("POST", "/sign-out"): SIGNED_IN,
    # Residents: only themselves (and their dependants, decided per object).
    ("GET", "/me/enrol"): APPLICANT,
    ("GET", "/me/enrol/done"): SIGNED_IN,
    ("POST", "/me/enrol"): APPLICANT | {R.HEALTH_OFFICER},  # the resident.enrol action
    ("GET", "/me"): RESIDENT,
    ("POST", "/me/code"): RESIDENT,
    ("GET", "/me/sw.js"): RESIDENT,
    ("GET", "/me/why"): RESIDENT,
    ("GET", "/me/checkins"): RESIDENT,
    ("POST", "/me/checkins"): RESIDENT,
    ("POST", "/me/checkins/{venue_id}/{checkin_id}/checkout"): RESIDENT,
    ("GET", "/me/scan"): RESIDENT,
    ("GET", "/C"): ALL,  # what a poster's QR opens: signed out, a way to sign in
    ("GET", "/c"): ALL,
    ("GET", "/v/{venue_id}"): ALL,  # the short link printed on a poster
    ("GET", "/me/notices"): RESIDENT,
    ("GET", "/me/orders"): RESIDENT,
    ("GET", "/me/appeals"): RESIDENT,
    ("GET", "/me/appeals/new"): RESIDENT,
    ("POST", "/me/appeals"): RESIDENT,
    ("GET", "/me/record"): RESIDENT,
    ("GET", "/me/dependants"): RESIDENT,
    ("POST", "/me/dependants"): RESIDENT,
    ("GET", "/me/dependants/{subject_id}"): RESIDENT,
    # Venues and their guards.
    ("GET", "/venue"): VENUE_SIDE,
    ("GET", "/venue/scan"): VENUE_SIDE,
    ("GET", "/venue/sw.js"): ALL,  # the scanner's service worker script: no data in it
    ("GET", "/venue/device"): ALL,  # a device signs in with its token
    ("POST", "/venue/device"): ALL,
    ("POST", "/venue/devices"): frozenset({R.VENUE_ADMIN}),
    ("POST", "/venue/devices/{device_id}/revoke"): frozenset({R.VENUE_ADMIN}),
    ("GET", "/venue/place/{venue_id}"): frozenset({R.VENUE_STAFF, R.VENUE_ADMIN}) | ADMIN,
    ("POST", "/venue/place/{venue_id}/rotate"): frozenset({R.VENUE_ADMIN}) | ADMIN,
    ("GET", "/venue/register"): ADMIN,
    ("POST", "/venue/register"): ADMIN,
    # The health authority.
    ("GET", "/office"): OFFICE,
    ("GET", "/office/labs"): OFFICE,  # the labs that may send results; nobody enters any
    ("POST", "/office/labs"): ADMIN,
    ("POST", "/office/labs/{lab_id}/approve"): ADMIN,
    ("POST", "/office/labs/{lab_id}/revoke"): ADMIN,
    ("GET", "/office/cases"): OFFICERS,
    ("GET", "/office/cases/{case_id}"): OFFICERS,  # then only a case assigned to them
    ("POST", "/office/cases/{case_id}/assign"): HEALTH_OFFICER,
    ("POST", "/office/cases/{case_id}/trace"): OFFICERS,
    ("GET", "/office/cases/{case_id}/trace"): OFFICERS,  # then only a case assigned to them
    ("GET", "/office/cases/{case_id}/contacts"): OFFICERS,  # then only a case assigned to them
    ("GET", "/office/cases/{case_id}/contacts.csv"): OFFICERS,
    ("GET", "/office/orders"): OFFICE,
    ("GET", "/office/orders/new"): OFFICERS,
    ("POST", "/office/orders"): OFFICERS,
    ("POST", "/office/orders/{order_id}/approve"): OFFICE,
    ("POST", "/office/orders/{order_id}/reject"): OFFICE,
    ("POST", "/office/orders/{order_id}/revoke"): OFFICE,
    ("GET", "/office/appeals"): HEALTH_OFFICER,
    ("POST", "/office/appeals/{appeal_id}/decide"): HEALTH_OFFICER,
    ("GET", "/office/rules"): RULE_MAKERS,
    ("POST", "/office/rules"): RULE_MAKERS,
    ("GET", "/office/rules/{set_id}/{version}"): RULE_MAKERS,
    ("POST", "/office/rules/{set_id}/{version}/dry-run"): RULE_MAKERS,
    ("POST", "/office/rules/{set_id}/{version}/request"): RULE_MAKERS,
    # a different admin than asked; an auditor, for a rule set that singles out a place
    ("POST", "/office/rules/requests/{seq}/approve"): ADMIN | AUDITOR,
    # The public, and auditors.
    ("GET", "/public/report"): ALL,
    ("GET", "/public/rules"): ALL,
    ("GET", "/public/rules/{set_id}/{version}"): ALL,
    ("GET", "/public/log"): ALL,
    ("GET", "/public/log/entry"): ALL,
    ("GET", "/public/anomalies"): AUDITOR,
    ("POST", "/public/orders/{order_id}/release"): AUDITOR,
    ("POST", "/public/orders/{order_id}/refuse"): AUDITOR,
}

World = tuple[TestClient, Callers, dict[str, str]]


def test_every_page_route_is_in_the_expected_table() -> None:
    assert set(PAGE_ACTIONS) == set(EXPECTED)


@pytest.fixture
def database_url(world_database: str) -> str:
    """Each test's own copy of the world (tests/e2e/conftest.py)."""
    return world_database


# Who may open a page is decided before any database work, by the same dependency on either
# database (the API matrix runs on both), so the page matrix runs on the embedded one.
@pytest.mark.parametrize("world_database", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
def test_roles_by_page(world: World, app: App, method: str, path: str) -> None:
    client, headers, params = world
    url = path.format(**(params | {"seq": "1"}))
    allowed = EXPECTED[(method, path)]
    for role in sorted(ALL, key=lambda r: (r in allowed, r.value)):
        answer = client.request(
            method, url, headers=headers.of(role, url), params={"to": "en"}, follow_redirects=False
        )
        went = answer.headers.get("location", "")
        if role in allowed:
            assert answer.status_code not in (401, 403), (role, answer.status_code)
            assert not went.startswith("/sign-in?"), (role, went)
        elif role is R.PUBLIC:
            assert answer.status_code == 303, (role, answer.status_code)
            assert went.startswith("/sign-in?"), went
        else:
            assert answer.status_code == 403, (role, answer.status_code)
            assert "text/html" in answer.headers["content-type"]
    entries = [json.loads(json.loads(line)["entry"]) for line in audit.export_lines(app.ctx)]
    by_role = [
        e for e in entries if e["action"] == "access.refused" and e["outcome"] == "refused:role"
    ]
    assert len(by_role) == len(ALL - allowed - {R.PUBLIC})
