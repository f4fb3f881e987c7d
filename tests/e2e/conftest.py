"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import App, build, initialise
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.entrypoints.web.app import create_app
from healthcode.services import auth, enrolment, staff, venues
from healthcode.services.staff import OPERATOR
from tests.conftest import BACKENDS, START, FreshDatabases, make_settings, pg_admin, pg_base
from tests.support import labs as test_labs
from tests.support import staff as test_staff
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


@dataclass(frozen=True)
class _World:
    """A world as it was built: its database (a SQLite file or a PostgreSQL database), its data
    directory (the key store), the headers of each role's requests and the objects they name."""

    url: str
    database: str  # the SQLite file, or the PostgreSQL database's name
    data_dir: Path
    headers: dict[Role, dict[str, str]]
    params: dict[str, str]
    copies: FreshDatabases | None  # PostgreSQL: copies made ahead of the tests that take them


class Worlds:
    """The world of the route and page matrices, built once per test process and database, then
    copied for each test (a file copy, or CREATE DATABASE ... TEMPLATE): building it (a resident,
    a venue, six staff appointed by two people each, a lab, a device) took about half of each
    of those tests' time, and each test still gets a world of its own to change."""

    def __init__(self, where: Path) -> None:
        self.where = where
        self.built: dict[str, _World] = {}

    def copy(self, request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> Iterator[str]:
        """A copy of the world on `kind` for one test: its database URL, with the key store in
        `tmp_path / "data"` (where the test's settings look for it)."""
        world = self.built.get(kind) or self._build(request, kind)
        shutil.copytree(world.data_dir, tmp_path / "data")
        if world.copies is None:
            path = tmp_path / "healthcode.db"
            shutil.copyfile(world.database, path)
            url = f"sqlite:///{path}"
            copied(world.url, url)
            yield url
            return
        name = world.copies.take()
        url = f"{pg_base()}/{name}"
        copied(world.url, url)
        try:
            yield url
        finally:
            world.copies.give_back(name)

    def of(self, app: App) -> _World:
        """The world `app`'s database was copied from."""
        return self.built[app.engine.dialect.name]

    def _build(self, request: pytest.FixtureRequest, kind: str) -> _World:
        home = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=self.where))  # one per attempt
        if kind == "sqlite":
            database = str(home / "healthcode.db")
            shutil.copyfile(request.getfixturevalue("sqlite_template"), database)
            url = f"sqlite:///{database}"
        else:
            database = f"hc_world_{uuid.uuid4().hex[:8]}"
            template = request.getfixturevalue("pg_template")
            pg_admin(f"CREATE DATABASE {database} TEMPLATE {template}")
            url = f"{pg_base()}/{database}"
        try:
            app = build(make_settings(home / "data", url), clock=FixedClock(START), migrate=False)
            try:
                initialise(app)
                headers, params = _populate(app)
            finally:
                app.close()  # PostgreSQL copies a database nobody is connected to
        except BaseException:
            if kind != "sqlite":  # no world: its database goes, and the next test tries again
                pg_admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            raise
        copies = None if kind == "sqlite" else FreshDatabases(database)
        self.built[kind] = _World(url, database, home / "data", headers, params, copies)
        return self.built[kind]

    def close(self) -> None:
        for world in self.built.values():
            if world.copies is not None:
                world.copies.close()
                pg_admin(f"DROP DATABASE IF EXISTS {world.database} WITH (FORCE)")


def copied(source: str, copy: str) -> None:
    """What the test helpers remember of the database `source` (its founders, its labs and
    their keys) holds for its copy."""
    test_staff.copied(source, copy)
    test_labs.copied(source, copy)


def _populate(app: App) -> tuple[dict[Role, dict[str, str]], dict[str, str]]:
    """A resident, a venue, a member of staff in each role, a lab and a venue's device: the
    headers of each role's requests (a lab signs each request instead) and the ids they name."""
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
    headers: dict[Role, dict[str, str]] = {R.PUBLIC: {}}
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
    return headers, params


@pytest.fixture(scope="session")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worlds]:
    built = Worlds(tmp_path_factory.mktemp("worlds"))
    yield built
    built.close()


@pytest.fixture(params=BACKENDS)
def world_database(request: pytest.FixtureRequest, tmp_path: Path, worlds: Worlds) -> Iterator[str]:
    """A copy of the world's database (with its key store); a module that uses `world` takes
    it as its `database_url`."""
    yield from worlds.copy(request, request.param, tmp_path)


@pytest.fixture
def world(app: App, worlds: Worlds) -> Iterator[tuple[TestClient, Callers, dict[str, str]]]:
    """A client, a session per role, and the objects each role's requests name, on a copy of
    the world (the module's `database_url` is `world_database`)."""
    built = worlds.of(app)
    with TestClient(create_app(built=app)) as client:
        headers = {role: dict(given) for role, given in built.headers.items()}
        yield client, Callers(headers, app), dict(built.params)
