"""`scripts/cluster`: the cluster on one machine, started by one command and then broken, for real
(PostgreSQL primary and synchronous replica under Patroni with etcd, Redis and a replica of it,
three NATS servers with JetStream, two API processes, a colour worker, two ingest consumers, the
demo city).

Residents check in and show their codes through both API processes the whole time, while one
part at a time is killed with SIGKILL: an API process, the process that runs the sequencer, an
ingest consumer, a NATS server, and the PostgreSQL primary's host (Patroni and its server: Patroni
on the replica's host promotes it by itself; the old primary, started again, rejoins as the
replica). After each, the test waits for the cluster to recover and says how long it took. In the
end no acknowledged check-in is lost or stored twice, the log verifies and its checkpoints from
before and after the failover are consistent, the colours code display reads from Redis agree with
the database, and `down` stops everything it started."""

from __future__ import annotations

import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from healthcode.adapters.status_view import RedisStatusView
from healthcode.bootstrap import App, build
from healthcode.config import Settings
from healthcode.services import audit
from healthcode.services.codes import shown
from healthcode.verifier.audit import verify_log_copy
from tests.conftest import PG_ENABLED, REDIS_ENABLED, resident_headers
from tests.e2e.test_crash_drill import _no_proxy  # noqa: F401 - a fixture
from tests.support import clock_ahead
from tests.support.nats_cluster import available as nats_available
from tests.support.pg_cluster import binaries

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(ROOT / "scripts" / "cluster")
PATRONI = all(shutil.which(b) for b in ("patroni", "etcd"))
pytestmark = pytest.mark.skipif(
    not (PG_ENABLED and REDIS_ENABLED and PATRONI) or binaries() is None or not nats_available(),
    reason="needs PostgreSQL's server binaries, patroni, etcd, redis-server and nats-server",
)
LOGINS = 10  # the dev profile's sign-in attempts per username per minute
# two APIs, two PostgreSQL servers, Redis and its replica, three NATS servers and their routes,
# etcd (client and peers), two Patroni REST APIs
PORTS = 16
RESIDENTS = 40  # each may check in DAILY_CAP times a day
RECOVERY_SECONDS = 90.0  # longer than this to recover fails the test


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


def _call(port: int, method: str, path: str, body: object = None,
          headers: dict[str, str] | None = None) -> tuple[int, object]:  # fmt: skip
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return int(answer.status), json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as refused:
        return int(refused.code), refused.read().decode(errors="replace")


def _get(port: int, path: str) -> dict[str, object]:
    status, body = _call(port, "GET", path)
    assert status == 200, (port, path, body)
    assert isinstance(body, dict)
    return body


class RealClock:
    """The wall clock of the cluster's processes (the suite moves this process's ahead)."""

    def now(self) -> int:
        return int(time.time()) - clock_ahead.days_ahead() * 86400


@dataclass
class Traffic:
    """Residents checking in and showing their codes through both API processes, as phones
    would: a refused or unanswered request is tried again at the other process."""

    apis: tuple[int, int]
    residents: list[tuple[str, dict[str, str]]]
    places: list[tuple[str, str]]  # (venue id, place code)
    acknowledged: set[tuple[str, str]] = field(default_factory=set)
    colours: dict[str, str] = field(default_factory=dict)
    last_checkin: float = 0.0
    last_code: float = 0.0
    failures: Counter[int] = field(default_factory=Counter)  # by status; 0: no answer
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            subject, headers = self.residents[i % len(self.residents)]
            venue_id, place_code = self.places[i % len(self.places)]
            for port in (self.apis[i % 2], self.apis[(i + 1) % 2]):
                try:
                    status, body = _call(port, "POST", f"/residents/{subject}/checkins",
                                         {"place_code": place_code}, headers)  # fmt: skip
                except OSError:
                    status, body = 0, None
                if status == 201 and isinstance(body, list):
                    with self.lock:
                        self.acknowledged |= {(venue_id, c["checkin_id"]) for c in body}
                        self.last_checkin = time.monotonic()
                    break
                self.failures[status] += 1
            if i % 2 == 0:
                for port in self.apis:
                    try:
                        status, body = _call(port, "POST", f"/residents/{subject}/code",
                                             None, headers)  # fmt: skip
                    except OSError:
                        continue
                    if status == 200 and isinstance(body, dict):
                        self.colours[subject] = str(body["colour"])
                        self.last_code = time.monotonic()
                        break
            i += 1
            self.stop.wait(0.05)


@contextmanager
def _cluster(base: int, directory: Path) -> Iterator[dict[str, str]]:
    env = {**os.environ, "HEALTHCODE_CLUSTER_DIR": str(directory),
           "HEALTHCODE_CLUSTER_PORT": str(base)}  # fmt: skip
    try:
        started = subprocess.run(
            [SCRIPT, "up", "--residents", "60", "--days", "3"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
        assert "healthcode cluster up" in started.stdout
        yield env
    finally:
        stopped = subprocess.run(
            [SCRIPT, "down", "--wipe"], env=env, capture_output=True, text=True, timeout=120
        )
        assert stopped.returncode == 0, stopped.stderr


def _script(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([SCRIPT, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def _city(env: dict[str, str]) -> App:
    """The cluster's city, opened in this process with the cluster's own settings."""
    printed = subprocess.run([SCRIPT, "env"], env=env, capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
    words = [w for w in shlex.split(printed) if w != "export"]  # `export K=V` lines
    values = dict(item.split("=", 1) for item in words)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{k.removeprefix("HEALTHCODE_").lower(): v for k, v in values.items()},
    )
    app = build(settings, clock=RealClock(), migrate=False)
    app.ctx.uow.sequence_after_commit = False  # type: ignore[attr-defined]  # the cluster's job
    return app


def _leader(env: dict[str, str]) -> str:
    """The PostgreSQL server Patroni says is the primary (pg-1 or pg-2)."""
    done = subprocess.run([SCRIPT, "leader"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _answers(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return int(answer.status) == 200
    except (OSError, urllib.error.HTTPError):
        return False


def _running(pid: int) -> bool:
    """Running (a zombie nobody reaped is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _pid(directory: Path, name: str) -> int:
    return int((directory / f"proc-{name}.pid").read_text())


def _until(what: str, ready: Callable[[], bool], since: float) -> float:
    """Seconds from `since` until `ready()` holds."""
    while not ready():
        assert time.monotonic() - since < RECOVERY_SECONDS, f"{what}: no recovery"
        time.sleep(0.1)
    return time.monotonic() - since


def _stored(app: App, keys: set[tuple[str, str]]) -> int:
    with app.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT venue_id, checkin_id FROM checkins").all()
    return len(keys & {(r[0], r[1]) for r in rows})


def test_the_cluster_recovers_from_each_part_killed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _free_run(PORTS)
    directory = tmp_path / "cluster"
    apis = (base, base + 1)
    with _cluster(base, directory) as env:
        deadline = time.monotonic() + 30
        while True:  # the replica check runs every quarter second
            shown_reads = [_get(port, "/health")["public_reads"] for port in apis]
            if all(s["serving"] == "replica" for s in shown_reads):  # type: ignore[index]
                break
            assert time.monotonic() < deadline, shown_reads
            time.sleep(0.2)
        body = {"username": "nobody.at.all", "password": "wrong", "totp": "000000"}
        answers = [_call(apis[i % 2], "POST", "/auth/staff", body)[0] for i in range(LOGINS + 2)]
        assert answers == [401] * LOGINS + [429, 429]  # one limit, counted by both

        app = _city(env)
        try:
            _recover(app, env, directory, apis, capsys)
        finally:
            app.close()
        pids = [_pid(directory, n) for n in (f"api-{base}", f"api-{base + 1}", "worker",
                                             "pg-1", "pg-2", "etcd")]  # fmt: skip
    for pid in pids:
        assert not _running(pid)  # stopped
    for port in range(base, base + PORTS):  # nothing it started still listens
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, port


def _recover(
    app: App,
    env: dict[str, str],
    directory: Path,
    apis: tuple[int, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    with app.engine.connect() as conn:
        people = [r[0] for r in conn.exec_driver_sql(
            "SELECT subject_id FROM subjects WHERE erased_at IS NULL ORDER BY subject_id"
        ).all()][:RESIDENTS]  # fmt: skip
        venue_ids = [r[0] for r in conn.exec_driver_sql(
            "SELECT venue_id FROM venues ORDER BY venue_id LIMIT 4").all()]  # fmt: skip
    places = [(v, str(_get(apis[0], f"/venues/{v}")["place_code"])) for v in venue_ids]
    traffic = Traffic(apis, [(p, resident_headers(app, p)) for p in people], places)
    runner = threading.Thread(target=traffic.run, daemon=True)
    runner.start()
    recovered: dict[str, float] = {}
    view = app.ctx.status_view
    assert isinstance(view, RedisStatusView)
    assert view.replicas  # code display reads the Redis replica
    stream = app.ctx.ingest
    assert stream is not None
    try:
        _until("traffic", lambda: len(traffic.acknowledged) >= 20 and traffic.colours != {},
               time.monotonic())  # fmt: skip

        # 1. An API process: the other one serves on; it comes back.
        killed = time.monotonic()
        os.kill(_pid(directory, f"api-{apis[0]}"), signal.SIGKILL)
        recovered["api_process"] = _until(
            "API process", lambda: traffic.last_checkin > killed + 0.5, killed
        )
        _script(env, "start", f"api-{apis[0]}")

        # 2. The process that runs the background work (the log's sequencer among it).
        def leader() -> int | None:
            for port in apis:
                try:
                    if _get(port, "/health")["jobs_leader"]:
                        return port
                except (OSError, AssertionError):
                    continue
            return None

        _until("a leader", lambda: leader() is not None, time.monotonic())
        host = leader()
        assert host is not None
        other = apis[1] if host == apis[0] else apis[0]
        killed = time.monotonic()
        os.kill(_pid(directory, f"api-{host}"), signal.SIGKILL)
        resident_headers(app, people[0])  # a new session: a log entry for the sequencer
        queued = audit.log_queue(app.ctx).pending
        assert queued >= 1

        def sequenced() -> bool:
            health = _get(other, "/health")
            return bool(health["jobs_leader"]) and audit.log_queue(app.ctx).pending == 0

        recovered["sequencer_host"] = _until("sequencer", sequenced, killed)
        _script(env, "start", f"api-{host}")

        # 3. An ingest consumer: the other takes its messages (after the ack wait).
        killed = time.monotonic()
        os.kill(_pid(directory, "ingest-1"), signal.SIGKILL)
        time.sleep(0.5)
        with traffic.lock:
            wanted = set(traffic.acknowledged)
        recovered["ingest_consumer"] = _until(
            "ingest consumer", lambda: _stored(app, wanted) == len(wanted), killed
        )
        _script(env, "start", "ingest-1")

        # 4. A NATS server: the stream keeps its quorum, the clients move.
        killed = time.monotonic()
        os.kill(_pid(directory, "nats-0"), signal.SIGKILL)
        recovered["nats_server"] = _until(
            "NATS server", lambda: traffic.last_checkin > killed + 0.5, killed
        )
        _script(env, "start", "nats-0")

        # 5. The PostgreSQL primary's host (Patroni and its server): Patroni promotes the
        # synchronous replica once the old primary's leader lock has expired in etcd.
        audit.checkpoint_now(app.ctx, force=True)
        before = audit.latest_checkpoint(app.ctx, primary=True)
        assert before is not None
        old = _leader(env)
        pgdir = Path((directory / "pgdir").read_text().strip()) if (
            directory / "pgdir").exists() else directory / "pg"  # fmt: skip
        postmaster = int((pgdir / old / "postmaster.pid").read_text().split()[0])
        killed = time.monotonic()
        os.kill(_pid(directory, old), signal.SIGKILL)
        os.kill(postmaster, signal.SIGKILL)
        recovered["postgresql_primary"] = _until(
            "PostgreSQL primary",
            lambda: traffic.last_checkin > killed + 0.5 and traffic.last_code > killed + 0.5,
            killed,
        )
        assert _leader(env) != old
        # Started again, the old primary rejoins as the synchronous replica.
        restarted = time.monotonic()
        _script(env, "start", old)
        rest = int(env["HEALTHCODE_CLUSTER_PORT"]) + 12 + int(old[-1])
        recovered["old_primary_rejoined"] = _until(
            "old primary", lambda: _answers(rest, "/sync"), restarted
        )
        time.sleep(2)  # traffic on the new primary
    finally:
        traffic.stop.set()
        runner.join(timeout=30)

    # Nothing acknowledged lost or stored twice: the consumers catch up on the new primary.
    acknowledged = set(traffic.acknowledged)
    caught_up = time.monotonic()
    _until("the consumers", lambda: _stored(app, acknowledged) == len(acknowledged), caught_up)
    with app.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT venue_id, checkin_id FROM checkins").all()
    keys = [(r[0], r[1]) for r in rows]
    assert len(keys) == len(set(keys))
    # The log verifies, and the checkpoint signed before the failover is consistent with those
    # signed after it.
    resident_headers(app, people[1])
    _until("the log", lambda: audit.log_queue(app.ctx).pending == 0, time.monotonic())
    audit.checkpoint_now(app.ctx, force=True)
    lines = list(audit.export_lines(app.ctx))
    notes = [cp.note for cp in audit.checkpoints(app.ctx)]
    assert before.note in notes
    after = audit.latest_checkpoint(app.ctx, primary=True)
    assert after is not None
    assert after.size > before.size
    report = verify_log_copy(lines, notes, app.keyring.log_vkey())
    assert report.ok, report.problem
    # The colours code display reads from Redis are the database's.
    with app.ctx.uow(read_only=True) as uow:
        for who in people:
            held, _ = view.get(who)
            if held is not None:
                assert held.status == shown(uow.statuses.get(who)), who
    with capsys.disabled():
        print("\ncluster recovery (seconds):", json.dumps({k: round(v, 2) for k, v in
              recovered.items()}), f"acknowledged check-ins {len(acknowledged)}, all stored "
              f"once; requests tried again at the other process, by status: "
              f"{dict(traffic.failures)}")  # fmt: skip
    # While parts were down, requests were refused as unavailable or not answered; never a 500.
    assert set(traffic.failures) <= {0, 502, 503}, traffic.failures
