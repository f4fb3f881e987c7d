"""`scripts/cluster`: the cluster on one machine, started and stopped by one command, for real
(PostgreSQL primary and streaming replica, Redis, two API processes, the demo city): both API
processes answer, public reads come from the replica, a rate limit counts across both, one API
process killed with SIGKILL leaves the other serving, and `down` stops everything it started."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PG_ENABLED, REDIS_ENABLED
from tests.e2e.test_crash_drill import _no_proxy  # noqa: F401 - a fixture
from tests.support.pg_cluster import binaries

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    not (PG_ENABLED and REDIS_ENABLED) or binaries() is None or not shutil.which("redis-server"),
    reason="needs PostgreSQL's server binaries and redis-server",
)
LOGINS = 10  # the dev profile's sign-in attempts per username per minute


def _free_run(count: int) -> int:
    """The first of `count` consecutive free ports."""
    for _ in range(200):
        base = random.randrange(20_000, 60_000)
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free ports")


def _get(port: int, path: str) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
        return dict(json.loads(answer.read()))


def _sign_in(port: int) -> int:
    body = json.dumps({"username": "nobody.at.all", "password": "wrong", "totp": "000000"})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/auth/staff", data=body.encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def test_scripts_cluster_up_serves_and_down_stops(tmp_path: Path) -> None:
    base = _free_run(5)
    env = {**os.environ, "HEALTHCODE_CLUSTER_DIR": str(tmp_path / "cluster"),
           "HEALTHCODE_CLUSTER_PORT": str(base)}  # fmt: skip
    script = str(ROOT / "scripts" / "cluster")
    try:
        started = subprocess.run(
            [script, "up", "--residents", "40", "--days", "3"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
        assert "healthcode cluster up" in started.stdout
        apis = (base, base + 1)
        deadline = time.monotonic() + 30
        while True:  # the replica check runs every quarter second
            shown = [_get(port, "/health")["public_reads"] for port in apis]
            if all(s["serving"] == "replica" for s in shown):  # type: ignore[index]
                break
            assert time.monotonic() < deadline, shown
            time.sleep(0.2)
        answers = [_sign_in(apis[i % 2]) for i in range(LOGINS + 2)]
        assert answers == [401] * LOGINS + [429, 429]  # one limit, counted by both

        pids = [int((tmp_path / "cluster" / f"proc-api-{port}.pid").read_text()) for port in apis]
        worker = int((tmp_path / "cluster" / "proc-worker.pid").read_text())
        os.kill(worker, 0)  # the colour worker runs
        os.kill(pids[0], signal.SIGKILL)
        assert _get(apis[1], "/health")["status"] == "ok"  # the other one serves on
        assert _get(apis[1], "/log/checkpoint")["size"]  # type: ignore[index]
    finally:
        stopped = subprocess.run(
            [script, "down", "--wipe"], env=env, capture_output=True, text=True, timeout=120
        )
    assert stopped.returncode == 0, stopped.stderr
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)  # stopped
    for port in range(base, base + 5):  # nothing it started still listens
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, port
