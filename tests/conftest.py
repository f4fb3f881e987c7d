"""Shared fixtures: every database test runs on SQLite and on PostgreSQL, for real.

Each test gets a fresh database cloned from a migrated template (a file copy for SQLite,
CREATE DATABASE ... TEMPLATE for PostgreSQL), so migrations run once per session.
PostgreSQL is expected at HEALTHCODE_TEST_PG_URL (default: postgres on 127.0.0.1:5432, trust
auth). Set HEALTHCODE_TEST_PG=off to skip it on a machine without PostgreSQL; CI never does.
The cluster's shared parts (rate limits) are tested against a real Redis at
HEALTHCODE_TEST_REDIS_URL (default 127.0.0.1:6379, database 0); HEALTHCODE_TEST_REDIS=off skips
those tests, and CI never does.
"""

from __future__ import annotations

import gc
import os
import queue
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.db.engine import make_engine
from healthcode.adapters.db.migrate import upgrade
from healthcode.bootstrap import App, build, initialise
from healthcode.config import Settings
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.services import auth, staff
from tests.support import clock_ahead, route_cache
from tests.support.staff import PASSWORD, appoint, principal_of

# Timing is the machine's business, not the property's: on two shared cores with PostgreSQL
# running beside the suite, an example may take longer than Hypothesis's 200 ms deadline or its
# data generation may look "slow". Neither says anything about correctness, so neither may fail
# a run; every assertion stays as it is.
hypothesis_settings.register_profile(
    "healthcode", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("healthcode")


def pytest_configure(config: pytest.Config) -> None:
    # REL-6: with HEALTHCODE_TEST_CLOCK_AHEAD_DAYS set (scripts/test sets a year), the wall
    # clock runs that far ahead for the whole session (tests/support/clock_ahead.py).
    clock_ahead.start()
    # Each route built once per process, not per app (tests/support/route_cache.py).
    route_cache.install()


def pytest_collection_finish(session: pytest.Session) -> None:
    # What is loaded by now (the program, the tests, their modules) lives as long as the run:
    # frozen, it is left out of every later collection; and the young generation is collected
    # every 20,000 new objects instead of 700. The cycle collector took 11 % of a test
    # process's CPU (7.2 s of 63 s in tests/unit and tests/integration on SQLite); with these
    # settings, 4 % (2.6 s of 58 s).
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def pytest_report_header(config: pytest.Config) -> str:
    days = clock_ahead.days_ahead()
    return f"wall clock: {days} days ahead" if days else "wall clock: today"


PG_ADMIN_URL = os.environ.get(
    "HEALTHCODE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PG_ENABLED = os.environ.get("HEALTHCODE_TEST_PG", "on") != "off"
REDIS_URL = os.environ.get("HEALTHCODE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_ENABLED = os.environ.get("HEALTHCODE_TEST_REDIS", "on") != "off"
NATS_MODE = os.environ.get("HEALTHCODE_TEST_NATS", "on")  # on | off | required
START = 1_795_000_000  # 2026-11-18, a fixed instant for reproducible tests
TEST_PASSPHRASE = "test-passphrase-0123456789"
TEST_STAFF_PASSWORD = PASSWORD  # every test staff account has it


def pg_base() -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0]


def pg_admin(sql: str) -> None:
    engine = make_engine(PG_ADMIN_URL)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


class FreshDatabases:
    """PostgreSQL databases cloned from the template one step ahead of the tests that take
    them: CREATE DATABASE waits on the disk for most of its 0.4 s, which a thread spends
    while the previous test runs. Each database is used by one test; the same thread drops
    it afterwards."""

    AHEAD = 2

    def __init__(self, template: str) -> None:
        self.template = template
        self.ready: queue.Queue[str] = queue.Queue(maxsize=self.AHEAD)
        self.failure: BaseException | None = None  # why no more databases come: every taker
        self.used: queue.Queue[str] = queue.Queue()  # dropped by the thread, between creations
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._fill, name="fresh-databases", daemon=True)
        self.thread.start()

    def _drop_used(self) -> None:
        while True:
            try:
                name = self.used.get_nowait()
            except queue.Empty:
                return
            pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def _fill(self) -> None:
        while not self.stopping.is_set():
            self._drop_used()
            name = f"hc_test_{uuid.uuid4().hex[:12]}"
            try:
                pg_admin(f"CREATE DATABASE {name} TEMPLATE {self.template}")
            except BaseException as exc:  # every test that takes one from now on is told
                self.failure = exc
                return
            while True:
                try:
                    self.ready.put(name, timeout=0.5)
                    break
                except queue.Full:
                    self._drop_used()
                    if self.stopping.is_set():
                        pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                        return

    def take(self) -> str:
        deadline = time.monotonic() + 120
        while True:
            try:
                return self.ready.get(timeout=0.5)
            except queue.Empty:
                if self.failure is not None:
                    raise self.failure from None
                if time.monotonic() > deadline:
                    raise

    def give_back(self, name: str) -> None:
        self.used.put(name)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)
        self._drop_used()
        while not self.ready.empty():
            pg_admin(f"DROP DATABASE IF EXISTS {self.ready.get_nowait()} WITH (FORCE)")


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"hc_template_{uuid.uuid4().hex[:8]}"
    pg_admin(f"CREATE DATABASE {name}")
    engine = make_engine(f"{pg_base()}/{name}")
    upgrade(engine)
    engine.dispose()
    yield name
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def pg_databases(pg_template: str) -> Iterator[FreshDatabases]:
    fresh = FreshDatabases(pg_template)
    yield fresh
    fresh.close()


BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not PG_ENABLED, reason="HEALTHCODE_TEST_PG=off"),
    ),
]


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "healthcode.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    fresh = request.getfixturevalue("pg_databases")
    name = fresh.take()
    yield f"{pg_base()}/{name}"
    fresh.give_back(name)


@pytest.fixture
def redis_url() -> str:
    """A real Redis (the cluster's shared rate limits); a test gets its own namespace or key
    secret, so tests on several cores never count each other's requests."""
    if not REDIS_ENABLED:
        pytest.skip("HEALTHCODE_TEST_REDIS=off")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis does not answer at {REDIS_URL} ({error}); HEALTHCODE_TEST_REDIS=off")
    return REDIS_URL


@pytest.fixture(scope="session")
def nats_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Three NATS servers with JetStream, clustered (the ingest buffer's tests), shared by the
    tests of one pytest process; each test's city has a stream of its own."""
    from tests.support.nats_cluster import NatsCluster, available

    if NATS_MODE == "off" or (NATS_MODE != "required" and not available()):
        pytest.skip("nats-server is not installed (or HEALTHCODE_TEST_NATS=off)")
    cluster = NatsCluster(tmp_path_factory.mktemp("nats"))
    cluster.start_all()
    yield cluster
    cluster.stop_all()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


def make_settings(data_dir: Path, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "profile": "production",
        "data_dir": data_dir,
        "database_url": database_url,
        "key_passphrase": TEST_PASSPHRASE,
        "city": "CN-TEST",
        "checkpoint_every_entries": 4,
        "argon2_memory_kib": 64,  # cheap hashes: tests check behaviour, not cost
        "argon2_time_cost": 1,
        "key_store_scrypt_log2_n": 10,  # a cheap key store KDF, for the same reason
        # Accounts approve at once: the cooling-off period has tests of its own
        # (tests/e2e/test_insiders.py, tests/integration/test_duties.py).
        "staff_cooling_off_hours": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def sqlite_app(where: Path, template: Path, **overrides: object) -> App:
    """An initialised app on its own copy of the migrated SQLite template (for tests that
    share one app across many generated examples)."""
    shutil.copyfile(template, where / "healthcode.db")
    settings = make_settings(where / "data", f"sqlite:///{where / 'healthcode.db'}", **overrides)
    app = build(settings, clock=FixedClock(START), migrate=False)
    initialise(app)
    return app


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path / "data", database_url)


@pytest.fixture
def app(settings: Settings, clock: FixedClock) -> Iterator[App]:
    built = build(settings, clock=clock, migrate=False)
    initialise(built)
    yield built
    built.close()


@pytest.fixture
def ps256_app(tmp_path: Path, database_url: str, clock: FixedClock) -> Iterator[App]:
    """A second app on the same database whose new code keys are PS256."""
    settings = make_settings(tmp_path / "ps256", database_url, code_algorithm="PS256")
    built = build(settings, clock=clock, migrate=False)
    initialise(built)
    yield built
    built.close()


@pytest.fixture
def engine(app: App) -> Engine:
    return app.engine


# --- Signed-in callers for HTTP tests -------------------------------------------------------
# Sessions are opened directly (auth.open_session, logged like a sign-in); the sign-in flows
# themselves are tested in tests/integration/test_auth.py and tests/e2e/test_auth_api.py.


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def staff_principal(app: App, role: str, venue_id: str | None = None) -> Principal:
    """A new staff account with this role (and venue), as a principal: asked for by an admin of
    its own and approved by a second one (tests/support/staff.py)."""
    return principal_of(appoint(app, role, venue_id))


@dataclass(frozen=True)
class StaffLogin:
    """What a new staff member types to sign in: username, password, and their TOTP secret."""

    username: str
    totp_secret: str
    principal: Principal

    def totp(self, now: int) -> str:
        """The authenticator's code at `now` (the app's clock, which tests may fix)."""
        return pyotp.TOTP(self.totp_secret).at(now)


def staff_login(app: App, role: str, venue_id: str | None = None) -> StaffLogin:
    """A new staff account with this role, with what its owner needs to sign in by hand."""
    made = appoint(app, role, venue_id)
    secret = parse_qs(urlparse(made.totp_uri).query)["secret"][0]
    return StaffLogin(made.account.username, secret, principal_of(made))


def headers_of(app: App, principal: Principal) -> dict[str, str]:
    return bearer(auth.open_session(app.ctx, principal).token)


def staff_headers(app: App, role: str, venue_id: str | None = None) -> dict[str, str]:
    """Headers of a newly signed-in staff member with this role."""
    return headers_of(app, staff_principal(app, role, venue_id))


def resident_headers(app: App, subject_id: str) -> dict[str, str]:
    """Headers of the resident `subject_id`, signed in."""
    return headers_of(app, Principal(PrincipalKind.RESIDENT, subject_id, Role.RESIDENT))


def device_headers(app: App, venue_id: str) -> dict[str, str]:
    """Headers of a scanner registered for the venue by its venue admin."""
    admin = staff_principal(app, "venue_admin", venue_id)
    return bearer(staff.register_device(app.ctx, admin, venue_id, "test gate").token)


def officer_on_case(app: App, case_id: str, role: str = "tracer") -> dict[str, str]:
    """Headers of an officer assigned (by a health officer) to the case."""
    officer = staff_principal(app, role)
    staff.assign_case(app.ctx, staff_principal(app, "health_officer"), case_id, officer.ref)
    return headers_of(app, officer)
