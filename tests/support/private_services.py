"""PostgreSQL and Redis for one run of the suite on a machine where none answers.

    python -m tests.support.private_services COMMAND...     (scripts/test runs pytest so)

Where nothing answers on the servers the tests are given (HEALTHCODE_TEST_PG_URL, by default
PostgreSQL on 127.0.0.1:5432; HEALTHCODE_TEST_REDIS_URL, Redis on 127.0.0.1:6379), a private
server is started for the run from the machine's own binaries (Debian's `postgresql` and
`redis-server` packages) on a free port in a temporary directory, the command runs with its
address, and the server is stopped and deleted afterwards. Where there are no binaries either,
a warning says so in capitals and the tests that need that server are skipped
(HEALTHCODE_TEST_PG=off, HEALTHCODE_TEST_REDIS=off). CI sets HEALTHCODE_TEST_SERVICES=required:
a server missing there fails the run instead.

Not pytest-postgresql: the suite needs one server that every pytest-xdist worker shares, started
before the workers (their test databases are cloned from a template on it); its fixtures start
one per worker, inside them. Starting PostgreSQL is tests/support/pg_cluster.py's code already.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.pg_cluster import binaries
from tests.support.ports import free_port

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_DEFAULT = "redis://127.0.0.1:6379/0"


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("postgresql+psycopg", "postgresql"))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port),
                                      timeout=2):  # fmt: skip
            return True
    except OSError:
        return False


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def start_postgres() -> tuple[str, Callable[[], None]] | None:
    """A private PostgreSQL (trust authentication, fsync off: a test run's data), or None."""
    found = binaries()
    if found is None:
        return None
    directory = Path(tempfile.mkdtemp(prefix="hc-test-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(directory, user.pw_uid, user.pw_gid)
    os.chmod(directory, 0o700)
    data, port = directory / "data", free_port()
    subprocess.run(_as_postgres([str(found / "initdb"), "-D", str(data), "-A", "trust",
                                 "-U", "postgres", "--no-sync"]),
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    options = (f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c max_connections=300")  # fmt: skip
    subprocess.run(_as_postgres([str(found / "pg_ctl"), "-D", str(data), "-o", options,
                                 "-l", str(directory / "log"), "-w", "start"]),
                   check=True, capture_output=True, timeout=120)  # fmt: skip

    def stop() -> None:
        subprocess.run(_as_postgres([str(found / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                     "stop"]), capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(directory, ignore_errors=True)

    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop


def start_redis() -> tuple[str, Callable[[], None]] | None:
    server = shutil.which("redis-server")
    if server is None:
        return None
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not _answers(f"redis://127.0.0.1:{port}/0", port):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            return None
        time.sleep(0.05)

    def stop() -> None:
        process.terminate()
        process.wait(timeout=10)

    return f"redis://127.0.0.1:{port}/0", stop


def _loud(text: str) -> None:
    line = "!" * 78
    print(f"\n{line}\n{text.upper()}\n{line}\n", file=sys.stderr, flush=True)


def main(command: list[str]) -> int:
    env = dict(os.environ)
    required = env.get("HEALTHCODE_TEST_SERVICES") == "required"
    stops: list[Callable[[], None]] = []
    wanted = (
        ("PostgreSQL", "HEALTHCODE_TEST_PG", "HEALTHCODE_TEST_PG_URL", PG_DEFAULT, 5432,
         start_postgres),
        ("Redis", "HEALTHCODE_TEST_REDIS", "HEALTHCODE_TEST_REDIS_URL", REDIS_DEFAULT, 6379,
         start_redis),
    )  # fmt: skip
    try:
        for name, switch, variable, default, port, start in wanted:
            if env.get(switch) == "off" or _answers(env.get(variable, default), port):
                continue
            if required:
                _loud(f"{name} does not answer at {env.get(variable, default)}, and CI requires it")
                return 2
            started = start()
            if started is None:
                _loud(f"no {name} answers and none is installed: its tests are skipped "
                      f"({switch}=off)")  # fmt: skip
                env[switch] = "off"
                continue
            env[variable], stop = started
            stops.append(stop)
            print(f"a private {name} for this run: {env[variable]}", file=sys.stderr)
        return subprocess.run(command, env=env, check=False).returncode
    finally:
        for stop in reversed(stops):
            stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
