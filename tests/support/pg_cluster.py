"""A PostgreSQL primary and a streaming replica of it, started for a test from the machine's
PostgreSQL binaries (Debian's `postgresql` package), on free ports, in a temporary directory;
stopped and deleted afterwards. As root the servers run as the `postgres` user (PostgreSQL
refuses root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass
class Pair:
    directory: Path
    bin: Path
    primary_port: int
    replica_port: int

    def url(self, port: int, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"

    @property
    def primary(self) -> str:
        return self.url(self.primary_port)

    @property
    def replica(self) -> str:
        return self.url(self.replica_port)

    def run(self, *command: str) -> None:
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_user, *command], check=True, capture_output=True, timeout=120)

    def start(self, name: str, port: int) -> None:
        options = f"-p {port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.directory / name), "-o", options,
                 "-l", str(self.directory / f"{name}.log"), "-w", "start")  # fmt: skip

    def stop(self, name: str) -> None:
        data = self.directory / name
        if (data / "postmaster.pid").exists():
            self.run(str(self.bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")


@contextmanager
def streaming_pair() -> Iterator[Pair]:
    found = binaries()
    assert found is not None, "PostgreSQL's server binaries are not installed"
    directory = Path(tempfile.mkdtemp(prefix="hc-pg-pair-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(directory, user.pw_uid, user.pw_gid)
    os.chmod(directory, 0o700)
    pair = Pair(directory, found, free_port(), free_port())
    try:
        pair.run(str(found / "initdb"), "-D", str(directory / "primary"), "-A", "trust",
                 "-U", "postgres", "--no-sync")  # fmt: skip
        pair.start("primary", pair.primary_port)
        replica = str(directory / "replica")
        pair.run(str(found / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(pair.primary_port),
                 "-U", "postgres", "-D", replica, "-R", "-X", "stream")  # fmt: skip
        pair.start("replica", pair.replica_port)
        yield pair
    finally:
        for name in ("replica", "primary"):
            with suppress(subprocess.CalledProcessError):
                pair.stop(name)
        shutil.rmtree(directory, ignore_errors=True)
