"""REL-1 / REL-4: generated requests for every operation in the OpenAPI schema, valid and
invalid, never produce a server error; every response matches the schema; invalid input is
refused with a 4xx; and authentication is enforced on every route (Schemathesis, on the embedded
database).

Each operation is fuzzed as a caller whose role may call it (so the requests reach the endpoint,
not just the sign-in check), and once more without credentials, which must answer 401 wherever
the public may not call."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from healthcode.bootstrap import App
from healthcode.domain.access import POLICY, Role
from healthcode.entrypoints.web.app import create_app
from healthcode.entrypoints.web.security import ROUTE_ACTIONS
from healthcode.services import enrolment, venues
from healthcode.services.staff import OPERATOR
from tests.conftest import device_headers, resident_headers, sqlite_app, staff_headers

# Who fuzzes a route: the first role in this order that the policy allows.
PREFERENCE = (
    Role.PUBLIC,
    Role.RESIDENT,
    Role.HEALTH_OFFICER,
    Role.AUTHORITY_ADMIN,
    Role.VENUE_ADMIN,
    Role.VENUE_DEVICE,
    Role.TRACER,
    Role.AUDITOR,
    Role.APPLICANT,
    Role.VENUE_STAFF,
)


def callers(app: App) -> dict[Role, dict[str, str]]:
    cmd = enrolment.EnrolResident("冯三", "prc_id", "11010519491231002X", "13812345678")
    subject = enrolment.enrol_resident(app.ctx, cmd).subject_id
    place = venues.RegisterVenue("一号店", "Shop One", "一号路1号", "天河区", "shop", "一号公司")
    venue_id = venues.register_venue(app.ctx, place, OPERATOR).venue.venue_id
    found = {Role.PUBLIC: {}, Role.RESIDENT: resident_headers(app, subject)}
    for role in (Role.HEALTH_OFFICER, Role.AUTHORITY_ADMIN, Role.TRACER, Role.AUDITOR):
        found[role] = staff_headers(app, role.value)
    for role in (Role.VENUE_ADMIN, Role.VENUE_STAFF):
        found[role] = staff_headers(app, role.value, venue_id)
    found[Role.VENUE_DEVICE] = device_headers(app, venue_id)
    return found


def fuzzing_role(method: str, path: str) -> Role:
    allowed = POLICY[ROUTE_ACTIONS[(method, path)]]
    return next(r for r in PREFERENCE if r in allowed)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[App]:
    app = sqlite_app(tmp_path_factory.mktemp("fuzz"), sqlite_template)
    yield app
    app.close()


EXAMPLES_PER_OPERATION = 25


def fuzz(
    operation: schemathesis.APIOperation, mode: GenerationMode, headers: dict[str, str]
) -> Callable[[], None]:
    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        # Our domain checks (ID checksums, name characters, ...) are stricter than a schema
        # can say, so schema-valid data may rightly be refused with a 4xx.
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    return check  # type: ignore[no-any-return]


def refused_anonymously(operation: schemathesis.APIOperation) -> Callable[[], None]:
    @given(case=operation.as_strategy(GenerationMode.POSITIVE))
    @settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)  # fmt: skip
    def check(case: schemathesis.Case) -> None:
        for headers in ({}, {"Authorization": "Bearer made-up-token-0123456789abcdef"}):
            response = case.call(headers=headers)
            assert response.status_code == 401, (operation.path, response.status_code)

    return check  # type: ignore[no-any-return]


def test_no_server_error_and_responses_match_the_schema(fuzz_app: App) -> None:
    api = schemathesis.openapi.from_asgi("/openapi.json", create_app(built=fuzz_app))
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 15
    who = callers(fuzz_app)
    negative_runs = 0
    for operation, mode in itertools.product(operations, GenerationMode):
        if operation.path == "/auth/logout":
            continue  # it would end the session the other operations use; see test_auth_api
        if operation.path.startswith("/lab-results"):
            continue  # a lab signs each body: fuzzed signed in test_lab_submissions_fuzz.py
        role = fuzzing_role(operation.method.upper(), operation.path)
        headers = who[Role.RESIDENT] if role is Role.APPLICANT else who[role]

        try:
            fuzz(operation, mode, headers)()
        except Unsatisfiable:
            # No invalid request exists when every input is a free string or there is none
            # (GET /health, /venues/{venue_id}, ...); valid requests were still sent above.
            assert mode is GenerationMode.NEGATIVE
            continue
        negative_runs += mode is GenerationMode.NEGATIVE
    assert negative_runs >= 10  # invalid data did reach the operations that take input


def test_every_route_but_the_public_ones_needs_a_sign_in(fuzz_app: App) -> None:
    """REL-1 "auth enforced on every route": one schema-valid request per operation, without
    credentials and with a made-up token."""
    api = schemathesis.openapi.from_asgi("/openapi.json", create_app(built=fuzz_app))
    checked = 0
    for result in api.get_all_operations():
        operation = result.ok()
        method, path = operation.method.upper(), operation.path
        if Role.PUBLIC in POLICY[ROUTE_ACTIONS[(method, path)]]:
            continue

        refused_anonymously(operation)()
        checked += 1
    assert checked >= 30
