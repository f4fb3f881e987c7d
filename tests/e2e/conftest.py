"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from healthcode.bootstrap import App
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.entrypoints.web.app import create_app
from healthcode.services import auth, enrolment, staff, venues
from healthcode.services.staff import OPERATOR
from tests.support.labs import registered_lab
from tests.support.staff import appoint, principal_of

R = Role
VENUE_SIDE = frozenset({R.VENUE_DEVICE, R.VENUE_STAFF, R.VENUE_ADMIN})


class Callers(dict[Role, dict[str, str]]):
    """The headers of a request by each role. A lab has no session: it signs each request, so
    its headers depend on the path and the body (`of`)."""

    def __init__(self, found: dict[Role, dict[str, str]], app: App) -> None:
        super().__init__(found)
        self.app = app

    def of(self, role: Role, path: str, body: bytes = b"") -> dict[str, str]:
        if role is R.LAB:
            return registered_lab(self.app).headers(path, body, self.app.ctx.clock.now())
        return self[role]


@pytest.fixture
def world(app: App) -> Iterator[tuple[TestClient, Callers, dict[str, str]]]:
    """A client, a session per role, and the objects each role's requests name."""
    cmd = enrolment.EnrolResident("冯三", "prc_id", "11010519491231002X", "13812345678")
    subject_id = enrolment.enrol_resident(app.ctx, cmd).subject_id
    venue = venues.RegisterVenue("一号店", "Shop One", "一号路1号", "天河区", "shop", "一号公司")
    venue_id = venues.register_venue(app.ctx, venue, OPERATOR).venue.venue_id
    principals: dict[Role, Principal] = {
        R.APPLICANT: Principal(PrincipalKind.APPLICANT, "a" * 64, R.APPLICANT),
        R.RESIDENT: Principal(PrincipalKind.RESIDENT, subject_id, R.RESIDENT),
    }
    for role in (R.TRACER, R.HEALTH_OFFICER, R.AUTHORITY_ADMIN, R.AUDITOR, R.VENUE_STAFF,
                 R.VENUE_ADMIN):  # fmt: skip
        v = venue_id if role in VENUE_SIDE else None
        principals[role] = principal_of(appoint(app, role.value, v, username=f"u.{role.value}"))
    headers = Callers({R.PUBLIC: {}}, app)
    registered_lab(app)
    for role, principal in principals.items():
        token = auth.open_session(app.ctx, principal).token
        headers[role] = {"Authorization": f"Bearer {token}"}
    admin = principals[R.VENUE_ADMIN]
    device = staff.register_device(app.ctx, admin, venue_id, "gate")
    headers[R.VENUE_DEVICE] = {"Authorization": f"Bearer {device.token}"}
    params = {
        "subject_id": subject_id,
        "venue_id": venue_id,
        "staff_id": principals[R.TRACER].ref,
        "request_id": "sc" + "0" * 16,
        "lab_id": "l" + "0" * 16,
        "device_id": device.device.device_id,
        "case_id": "c" * 20,
        "checkin_id": "k" * 20,
        "set_id": "default",
        "version": "1",
        "seq": "0",  # the log's first entry: not an activation request (404)
        "fmt": "png",
        "use": "health",
        "kid": "0" * 16,
        "order_id": "o" * 10,
        "appeal_id": "a" * 17,
    }
    with TestClient(create_app(built=app)) as client:
        yield client, headers, params
