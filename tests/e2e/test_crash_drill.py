"""AUD-9 crash drill: the real server is killed with SIGKILL while officers enrol residents
concurrently, 20 times over, on SQLite and on PostgreSQL. After each kill:

- every enrolment the server acknowledged (201) is in the database, and its log entry is on the
  log once the next sequencer has run (an acknowledged entry survives `kill -9`, sequenced or
  still in the log's queue: on PostgreSQL every other round the server sequences only every
  second, so that kills fall between commits and their sequencing);
- the log verifies end to end (`audit verify`: every leaf, every signed checkpoint);
- the next checkpoint, signed after the restart, is consistent with the last one signed before
  the kill (a consistency proof, checked by the standalone verifier).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from healthcode.adapters.clock import SystemClock
from healthcode.bootstrap import App, build, initialise
from healthcode.services import audit
from healthcode.verifier.audit import verify_log_copy
from healthcode.verifier.checkpoint import verify_checkpoint
from healthcode.verifier.merkle import verify_consistency
from tests.conftest import TEST_PASSPHRASE, make_settings, staff_headers
from tests.support import clock_ahead
from tests.support.ports import free_port

ROUNDS = 20
WRITERS = 4



def open_app(data_dir: Path, url: str) -> App:
    app = build(make_settings(data_dir, url), clock=SystemClock(), migrate=False)
    initialise(app)
    return app


def city_env(data_dir: Path, url: str, **more: str) -> dict[str, str]:
    """The environment of a `healthcode` process of the test's city (settings as the tests')."""
    return {
        **os.environ,
        "HEALTHCODE_PROFILE": "production",
        "HEALTHCODE_DATA_DIR": str(data_dir),
        "HEALTHCODE_DATABASE_URL": url,
        "HEALTHCODE_KEY_PASSPHRASE": TEST_PASSPHRASE,
        "HEALTHCODE_CITY": "CN-TEST",
        "HEALTHCODE_CHECKPOINT_EVERY_ENTRIES": "4",
        **more,
    }


@contextmanager
def serving(
    data_dir: Path, url: str, *, sequence_after_commit: bool = True, workers: int = 1,
    output: Path | None = None, uvicorn: bool = False, **more: str,
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:  # fmt: skip
    """`healthcode serve` on 127.0.0.1, with the test's settings (and `more`, as
    HEALTHCODE_... variables); yields once it answers. Its output goes to `output` if given.
    With `uvicorn`, the app is served by uvicorn's own command line, with its defaults."""
    port = free_port()
    env = city_env(data_dir, url, **{
        "HEALTHCODE_LOG_SEQUENCE_AFTER_COMMIT": str(sequence_after_commit).lower(), **more
    })  # fmt: skip
    command = clock_ahead.command([
        str(Path(sys.executable).parent / "healthcode"), "serve", "--port", str(port),
        "--workers", str(workers),
    ] if not uvicorn else [
        str(Path(sys.executable).parent / "uvicorn"), "healthcode.entrypoints.web.app:create_app",
        "--factory", "--port", str(port), "--workers", str(workers),
    ])  # fmt: skip
    sink = output.open("wb") if output is not None else subprocess.DEVNULL
    process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)
        yield process, port
    finally:
        if process.poll() is None:
            process.terminate()  # several workers: their supervisor stops them first
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait(timeout=10)
        if output is not None:
            sink.close()  # type: ignore[union-attr]


def enrol_until_stopped(
    port: int, headers: dict[str, str], prefix: str, acked: list[str], stop: threading.Event
) -> None:
    """Enrol residents one after another; remember each commitment the server acknowledged."""
    number = 0
    while not stop.is_set():
        body = json.dumps({"name": "王五", "doc_type": "passport",
                           "doc_number": f"{prefix}{number:07d}",
                           "phone": "13712345678"}).encode()  # fmt: skip
        number += 1
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/residents",
            data=body,
            headers={**headers, "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                if response.status == 201:
                    acked.append(json.loads(response.read())["commitment"])
        except (OSError, http.client.HTTPException):
            return  # the server is gone: whatever was not acknowledged may be lost


def log_copy(app: App) -> tuple[list[str], list[str]]:
    lines = list(audit.export_lines(app.ctx))
    return lines, [c.note for c in audit.checkpoints(app.ctx)]


def settled(app: App) -> None:
    """PostgreSQL: wait until no connection of the killed server is still at work. A COMMIT it
    sent before it died is still carried out by its backend (and acknowledged to nobody); the
    next sequencer is to find every such commit, so the drill sequences once they are all done,
    as a restarted server's job, which runs every second, would find them."""
    if app.engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with app.engine.connect() as conn:
            others = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend' AND state <> 'idle'"
            ).scalar_one()
        if others == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the killed server's connections were still at work after 30 s")


def test_kill_9_during_concurrent_writes_loses_nothing_acknowledged(
    tmp_path: Path, database_url: str
) -> None:
    data_dir = tmp_path / "data"
    app = open_app(data_dir, database_url)
    vkey = app.keyring.log_vkey()
    rng = random.Random(20261123)
    queued_at_kills = 0
    for round_no in range(ROUNDS):
        headers = staff_headers(app, "health_officer")  # a fresh sign-in each round
        before = audit.latest_checkpoint(app.ctx)
        assert before is not None
        acked: list[str] = []
        after_commit = round_no % 2 == 0
        with serving(data_dir, database_url, sequence_after_commit=after_commit) as (
            process,
            port,
        ):
            stop = threading.Event()
            writers = [
                threading.Thread(
                    target=enrol_until_stopped,
                    args=(port, headers, f"{chr(65 + round_no % 26)}{w}", acked, stop),
                )
                for w in range(WRITERS)
            ]
            for writer in writers:
                writer.start()
            time.sleep(rng.uniform(0.2, 0.8))
            os.kill(process.pid, signal.SIGKILL)  # mid-write, no shutdown of any kind
            process.wait(timeout=10)
            stop.set()
            for writer in writers:
                writer.join(timeout=10)
        app.engine.dispose()  # connections from before the crash are not to be trusted
        settled(app)
        # The next sequencer (here the test's process, as a restarted server's job would)
        # sequences what the killed one left in the queue: committed, not yet in the log.
        queued_at_kills += audit.log_queue(app.ctx).pending
        audit.sequence(app.ctx)
        assert audit.log_queue(app.ctx).pending == 0
        lines, notes = log_copy(app)
        on_log = {json.loads(json.loads(line)["entry"])["object"]["ref"] for line in lines}
        assert acked, f"round {round_no}: no write was acknowledged before the kill"
        assert set(acked) <= on_log, f"round {round_no}: acknowledged entries lost"
        report = verify_log_copy(lines, notes, vkey)
        assert report.ok, (round_no, report)
        after = audit.checkpoint_now(app.ctx, force=True) or audit.latest_checkpoint(app.ctx)
        assert after is not None
        old = verify_checkpoint(before.note, vkey)
        new = verify_checkpoint(after.note, vkey)
        assert new.size >= old.size
        if new.size > old.size:
            proof = audit.consistency_proof(app.ctx, old.size, new.size)
            assert verify_consistency(old.size, new.size, old.root, new.root, proof), round_no
    if app.engine.dialect.name == "postgresql":
        assert queued_at_kills > 0, "no kill fell between a commit and its sequencing"
    app.close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib must talk to 127.0.0.1 directly, whatever the environment says."""
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
