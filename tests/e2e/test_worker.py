"""`healthcode worker`: colour work in processes of their own. Two workers on PostgreSQL share
an outbreak's queue: each person's colour is settled once (one `status.changed` entry each),
both workers take part, and SIGTERM stops a worker between batches."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from healthcode.bootstrap import App, build, initialise
from healthcode.domain.cases import Case
from healthcode.domain.checkins import CheckIn, CheckInSource
from healthcode.services import status_queue, trace
from tests.conftest import make_settings
from tests.e2e.test_crash_drill import city_env
from tests.integration.test_status_queue import DAY, TRACER, colour_entries, enrol, stored
from tests.support import clock_ahead

PEOPLE = 1100  # three batches of work (500 each)


def _seed(app: App, contacts: int) -> tuple[str, list[str]]:
    """A case and `contacts` people who were at the market with them a few hours ago."""
    now = app.ctx.clock.now()
    case_subject = enrol(app, 0)
    people = [enrol(app, n) for n in range(1, contacts + 1)]
    with app.ctx.uow() as uow:
        for i, who in enumerate([case_subject, *people]):
            start = now - 5 * 3600 + i
            uow.checkins.add(CheckIn("vmarket", f"c{i:05d}", who, start, start + 3 * 3600,
                                     CheckInSource.PLACE_SCAN, start + 3600))  # fmt: skip
        uow.cases.add_case(Case("kone", case_subject, "LAB/x", now - 2 * DAY, now, now))
        uow.commit()
    return "kone", people


def _worker(data: Path, url: str) -> subprocess.Popen[str]:
    env = city_env(data, url)
    command = clock_ahead.command(
        [str(Path(sys.executable).parent / "healthcode"), "worker", "--poll", "0.05"]
    )
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert "ready" in process.stdout.readline()
    return process


def test_two_workers_share_the_queue_and_settle_each_person_once(
    tmp_path: Path, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: workers take turns")
    # The workers run on the wall clock (moved as the suite moves it): so does this city.
    app: App = build(make_settings(tmp_path / "data", database_url), migrate=False)
    initialise(app)
    try:
        case_id, people = _seed(app, PEOPLE)
        workers = [_worker(tmp_path / "data", database_url) for _ in range(2)]
        try:
            before = len(colour_entries(app, 0))
            trace.trace_case(app.ctx, case_id, TRACER, depth=1, settle=False)
            deadline = time.monotonic() + 180
            while status_queue.state(app.ctx).pending:
                assert time.monotonic() < deadline, "the workers did not empty the queue"
                time.sleep(0.1)
        finally:
            for process in workers:
                process.send_signal(signal.SIGTERM)
        settled = []
        for process in workers:
            out, _ = process.communicate(timeout=60)
            assert process.returncode == 0
            settled.append(json.loads(out[out.index("{") :])["people_settled"])
        assert sum(settled) == PEOPLE
        assert min(settled) > 0  # both took part
        assert len(colour_entries(app, 0)) - before == PEOPLE  # each person once
        assert {stored(app, who) for who in people[:20]} <= {"yellow", "red"}
    finally:
        app.close()
