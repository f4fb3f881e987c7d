"""`healthcode serve --workers 2`: two server processes of one city, for real. Background work
runs in one of them (the retention purge that each runs at start is run once), and with Redis
a limit counts the requests that either process answered."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from sqlalchemy import func, select

from healthcode.adapters.db.tables import maintenance_runs
from tests.e2e.test_crash_drill import _no_proxy, open_app, serving  # noqa: F401 - a fixture

LOGINS_PER_MINUTE = 3


def _post(port: int, path: str, body: dict[str, str]) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Connection": "close"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - http only
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def test_two_workers_run_background_work_once_and_share_limits(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    data = tmp_path / "data"
    open_app(data, database_url).close()  # initialised, as `healthcode init` leaves a city
    more = {"HEALTHCODE_REDIS_URL": redis_url,
            "HEALTHCODE_RATE_LOGINS_PER_MINUTE": str(LOGINS_PER_MINUTE)}  # fmt: skip
    with serving(data, database_url, workers=2, **more) as (process, port):
        workers = _children(process.pid)
        assert len(workers) == 2

        # A username's sign-in attempts, each on a new connection (either worker may take it):
        # the limit holds for the two together.
        wrong = {"username": "nobody.here", "password": "not the password", "totp": "000000"}
        answers = [_post(port, "/auth/staff", wrong) for _ in range(3 * LOGINS_PER_MINUTE)]
        assert answers[:LOGINS_PER_MINUTE] == [401] * LOGINS_PER_MINUTE
        assert set(answers[LOGINS_PER_MINUTE:]) == {429}

        # Each worker's purge timer fired at its start; only the leader's ran.
        time.sleep(2)
        app = open_app(data, database_url)
        try:
            with app.engine.connect() as conn:
                purges = conn.execute(
                    select(func.count()).where(maintenance_runs.c.kind == "purge")
                ).scalar_one()
        finally:
            app.close()
        assert purges == 1


def _children(pid: int) -> list[int]:
    """The worker processes of uvicorn's supervisor (multiprocessing's spawned children, read
    from /proc: no extra package; its resource tracker is not one)."""
    deadline = time.monotonic() + 20
    while True:
        found = [
            int(entry.name)
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and _parent(entry) == pid and b"spawn_main" in _cmdline(entry)
        ]
        if len(found) >= 2 or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _cmdline(entry: Path) -> bytes:
    try:
        return (entry / "cmdline").read_bytes()
    except OSError:
        return b""


def _parent(entry: Path) -> int | None:
    try:
        stat = (entry / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])
