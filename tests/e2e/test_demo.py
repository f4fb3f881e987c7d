"""`healthcode demo`: seeds a small city through the services, prints its story, serves it; and
never reseeds (nor wipes) what it should not. Always on the embedded SQLite of its directory."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.db.engine import make_engine
from healthcode.adapters.db.tables import cases, checkins, lab_results, log_entries, subjects
from healthcode.bootstrap import build
from healthcode.config import Settings
from healthcode.demo.accounts import DEMO_STAFF_PASSWORD
from healthcode.domain.access import POLICY
from healthcode.entrypoints.cli.demo import ENDPOINTS, MARKER, STORY
from healthcode.entrypoints.web.app import create_app
from healthcode.entrypoints.web.security import ROUTE_ACTIONS
from tests.conftest import START
from tests.support.cli import Cli

# The demo's "now" (its city is the 14 days before it, its sessions start then), and the clock of
# the app that later reads the demo's data: one fixed instant, never today's date.
NOW = FixedClock(START)
SMALL = ["--no-serve", "--residents", "300", "--days", "7"]


CHEAP_HASHES = {"HEALTHCODE_ARGON2_MEMORY_KIB": "64", "HEALTHCODE_ARGON2_TIME_COST": "1"}


def demo(*args: str) -> tuple[int, str]:
    """Run `healthcode demo`, with cheap password hashes for its staff accounts."""
    result = Cli(NOW).invoke(["demo", *args], env=CHEAP_HASHES)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    where = tmp_path_factory.mktemp("demo") / "city"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(where.parent)
        status, out = demo(*SMALL, "--data-dir", str(where))
    assert status == 0, out
    return where, out


@pytest.fixture
def engine(seeded: tuple[Path, str]) -> Iterator[Engine]:
    built = make_engine(f"sqlite:///{seeded[0] / 'healthcode.db'}")
    yield built
    built.dispose()


def count(engine: Engine, table: object, *where: object) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(table)  # type: ignore[arg-type]
        return int(conn.execute(query.where(*where)).scalar_one())  # type: ignore[arg-type]


def summary_number(out: str, label: str) -> int:
    found = re.search(rf"^\s+{label}\s+([\d,]+)", out, re.MULTILINE)
    assert found, f"no {label} in the summary"
    return int(found.group(1).replace(",", ""))


def test_the_summary_matches_the_database(seeded: tuple[Path, str], engine: Engine) -> None:
    out = seeded[1]
    residents = summary_number(out, "residents")
    assert residents == 300
    assert count(engine, subjects, subjects.c.kind == "resident") == residents
    assert count(engine, subjects) > residents  # and their dependants
    assert count(engine, checkins) == summary_number(out, "check-ins") > 2000
    assert count(engine, lab_results) == summary_number(out, "lab results")
    assert count(engine, cases) == summary_number(out, "cases") >= 1


def test_every_case_was_traced_and_contacts_were_found(
    seeded: tuple[Path, str], engine: Engine
) -> None:
    with engine.connect() as conn:
        entries = [json.loads(e) for e in conn.execute(select(log_entries.c.entry)).scalars()]
    traced = [e for e in entries if e["action"] == "case.traced"]
    assert len(traced) == count(engine, cases)
    assert all(e["details"]["depth"] == 2 for e in traced)
    close = sum(e["details"]["close"] for e in traced)
    assert close > 0
    assert summary_number(seeded[1], "close contacts") > 0
    # the city's history went in as it happened: log times never run backwards
    times = [e["time"] for e in sorted(entries, key=lambda e: e["seq"])]
    assert times == sorted(times)


def printed_token(out: str, first: str) -> str:
    """The session token printed under the account whose line starts with `first`."""
    found = re.search(rf"^  {re.escape(first)}\b.*\n.*\n\s+token (\S+)$", out, re.MULTILINE)
    assert found, f"no token printed for {first}"
    return found.group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_demo_accounts_and_endpoints_are_real(seeded: tuple[Path, str]) -> None:
    where, out = seeded
    story = json.loads((where / STORY).read_text(encoding="utf-8"))
    roles = {a["role"]: a for a in story["accounts"]}
    assert {"index case", "close contact", "guardian"} <= set(roles)
    for account in roles.values():
        assert account["subject_id"] in out
        assert account["phone"] in out
    staff = {s["role"]: s for s in story["staff"]}
    assert set(staff) == {
        "authority_admin", "health_officer", "tracer", "auditor", "venue_admin", "venue_staff"
    }  # fmt: skip
    for login in staff.values():
        assert login["username"] in out
        assert login["totp_secret"] in out
    assert DEMO_STAFF_PASSWORD in out
    assert story["venue_id"] in out
    assert story["device"]["device_id"] in out
    assert "token" not in story["device"]  # tokens are printed, never saved
    for method, path, _, allowed in ENDPOINTS:  # the table says who may call each route
        assert set(allowed) <= POLICY[ROUTE_ACTIONS[(method, path)]], path
    index = roles["index case"]["subject_id"]
    resident = printed_token(out, f"index case          {index}")
    tracer = printed_token(out, "tracer")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the dev profile warns about its secrets
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            profile="dev",
            data_dir=where,
            database_url=f"sqlite:///{where / 'healthcode.db'}",
        )
    built = build(settings, clock=NOW)
    try:
        web = create_app(built=built)
        paths = web.openapi()["paths"]
        for method, path, _, _ in ENDPOINTS:
            assert method.lower() in paths[path], path
        with TestClient(web) as client:
            assert client.get("/cases").status_code == 401
            visits = client.get(f"/residents/{index}/checkins", headers=bearer(resident))
            assert visits.status_code == 200
            assert visits.json()
            status = client.get(f"/residents/{index}/status", headers=bearer(resident))
            assert status.status_code == 200
            venue = client.get(f"/venues/{story['venue_id']}").json()
            assert venue["place_code"] in out
            found = client.get("/cases", headers=bearer(tracer))
            assert found.status_code == 200
            assert story["case_id"] in {c["case_id"] for c in found.json()}
            traced = client.post(f"/cases/{story['case_id']}/trace", headers=bearer(tracer))
            assert traced.status_code == 200
    finally:
        built.close()


def test_a_second_run_refuses_to_reseed(seeded: tuple[Path, str]) -> None:
    where = seeded[0]
    before = (where / "healthcode.db").stat().st_mtime_ns
    status, out = demo(*SMALL, "--data-dir", str(where))
    assert status == 2
    assert "--fresh" in out
    assert (where / "healthcode.db").stat().st_mtime_ns == before


def test_fresh_wipes_only_a_demo_directory(tmp_path: Path) -> None:
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    status, out = demo("--no-serve", "--fresh", "--data-dir", str(mine))
    assert status == 2
    assert "not a demo directory" in out
    assert (mine / "keep.txt").read_text() == "mine"

    city = tmp_path / "city"
    tiny = ["--no-serve", "--residents", "20", "--days", "3", "--data-dir", str(city)]
    assert demo(*tiny)[0] == 0
    (city / "stale.txt").write_text("from before")
    status, out = demo(*tiny, "--fresh", "--seed", "7")
    assert status == 0, out
    assert (city / MARKER).exists()
    assert not (city / "stale.txt").exists()
    engine = make_engine(f"sqlite:///{city / 'healthcode.db'}")
    try:
        assert count(engine, subjects, subjects.c.kind == "resident") == 20
    finally:
        engine.dispose()


def test_demo_totp_prints_each_staff_accounts_code_of_the_moment(
    seeded: tuple[Path, str],
) -> None:
    """The staff sign-in's second factor for someone trying the demo: the codes the accounts'
    secrets give now (the CLI's clock), each accepted by the staff sign-in."""
    demo_city = seeded[0]
    result = Cli(NOW).invoke(["demo", "totp", "--data-dir", str(demo_city)])
    assert result.exit_code == 0, result.output
    story = json.loads((demo_city / "demo.json").read_text(encoding="utf-8"))
    assert story["staff"]
    for login in story["staff"]:
        expected = pyotp.TOTP(login["totp_secret"]).at(NOW.now())
        assert re.search(rf"{re.escape(login['username'])}\s+{expected}\b", result.output)
    assert story["staff_password"] in result.output
    missing = Cli(NOW).invoke(["demo", "totp", "--data-dir", str(demo_city / "nowhere")])
    assert missing.exit_code == 2
    assert "scripts/demo" in missing.output
