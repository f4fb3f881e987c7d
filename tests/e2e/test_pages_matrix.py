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
from tests.e2e.test_roles_matrix import ALL, SIGNED_IN

R = Role
RESIDENT = frozenset({R.RESIDENT})
APPLICANT = frozenset({R.APPLICANT})
VENUE_SIDE = frozenset({R.VENUE_DEVICE, R.VENUE_STAFF, R.VENUE_ADMIN})
OFFICE = frozenset({R.TRACER, R.HEALTH_OFFICER, R.AUTHORITY_ADMIN})
OFFICERS = frozenset({R.TRACER, R.HEALTH_OFFICER})
AUDITOR = frozenset({R.AUDITOR})

EXPECTED: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/"): ALL,
    ("GET", "/language"): ALL,
    ("GET", "/sign-in"): ALL,
    ("POST", "/sign-in/code"): ALL,
    ("POST", "/sign-in/code/verify"): ALL,
    ("GET", "/sign-in/staff"): ALL,
    ("POST", "/sign-in/staff"): ALL,
    ("POST", "/sign-out"): SIGNED_IN,
}

World = tuple[TestClient, dict[Role, dict[str, str]], dict[str, str]]


def test_every_page_route_is_in_the_expected_table() -> None:
    assert set(PAGE_ACTIONS) == set(EXPECTED)


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
def test_roles_by_page(world: World, app: App, method: str, path: str) -> None:
    client, headers, params = world
    url = path.format(**params)
    allowed = EXPECTED[(method, path)]
    for role in sorted(ALL, key=lambda r: (r in allowed, r.value)):
        answer = client.request(
            method, url, headers=headers[role], params={"to": "en"}, follow_redirects=False
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
        e for e in entries if e["action"] == "access.refused" and e["object"]["kind"] == "route"
    ]
    assert len(by_role) == len(ALL - allowed - {R.PUBLIC})
