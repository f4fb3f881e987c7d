"""Benchmark: check-in ingest, over HTTP and in bulk, against baselines measured in the same run.

    .venv/bin/python bench/ingest.py [--seconds N] [--repeats R] [--workers 1,2] [--rows N]
                                     [--postgres URL | --postgres off] [--skip http|bulk]
                                     [--no-write]

Three ways check-ins come in:

- (a) HTTP, one check-in per request: a resident's app posts the scanned place code
  (`POST /residents/{id}/checkins`). The real server (`healthcode serve`, or uvicorn with the same
  app factory and `--workers N`) runs on 127.0.0.1 over a temporary data directory with the dev
  profile; concurrent keep-alive clients post for `--seconds`; requests per second and p50/p99
  latency. Informative baseline: the same service call in-process, one thread, no HTTP.
- (b) HTTP, offline device uploads (`POST /venues/{id}/uploads`, 1000 scans of health codes per
  request): check-ins per second. Informative baseline: `upload_scans` in-process.
- (c) Bulk import (`services.checkin_import.import_checkins`) of `--rows` check-ins held in
  memory, validation included, into SQLite and PostgreSQL, against the cost floor measured in
  the same run: the same tuples written by the bare driver (sqlite3 `executemany`, psycopg
  `COPY`) into a bare table with the same columns and indexes, once in the order given and once
  in key order (SQLite also with the same 256 MiB page cache our adapter uses).

The per-resident and per-venue rate limits are raised for the run (the limiter still runs); the
daily cap of check-ins per person is not, so each resident is used at most 55 times. Residents
and venues are written straight into their tables for setup, except the venues of (a), which are
registered through the service to get real posters. The load generator is a small asyncio
HTTP/1.1 client in this process, sharing the machine's cores with the server; its CPU use is
reported. The result replaces the section "Ingest: check-ins over HTTP and in bulk" of
docs/BENCHMARKS.md unless `--no-write` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import random
import re
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import insert, text
from sqlalchemy.engine import URL, make_url

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.db.engine import make_engine
from healthcode.adapters.db.tables import checkins, device_tokens, sessions, subjects, venues
from healthcode.bootstrap import App, build, initialise
from healthcode.config import Settings
from healthcode.domain.audit import Actor
from healthcode.domain.checkins import DAY, MAX_DWELL_SECONDS
from healthcode.domain.venues import VenueType
from healthcode.services import checkins as checkin_service
from healthcode.services import codes
from healthcode.services import venues as venue_service
from healthcode.services.checkin_import import CheckInRow, import_checkins
from healthcode.services.ports import Identity
from report import BENCHMARKS_MD, machine_description, markdown_table, replace_section, utc_now

HEADING = "Ingest: check-ins over HTTP and in bulk"
CITY = "CN-BENCH"
ADMIN = Actor("authority_admin", "bench")
USES_PER_RESIDENT = 55  # under the daily cap of 60 check-ins per person in 24 hours
HTTP_TARGET = 2000  # requests/s, single check-ins, on 2 cores (from the issue)
BULK_TARGET = 300_000  # check-ins/s into SQLite (from the issue)
FLOOR_TARGET = 0.80  # of the bare driver on the same schema, both databases (from issue 12)
UPLOAD_BATCH = 1000  # scans per upload request (the API's maximum)
BULK_CACHE_KIB = 256 * 1024
# PostgreSQL on this machine: over its Unix socket where the server has one (how a server on
# the same box connects: no TCP stack on either side, a fifth less CPU a check-in measured on
# 2 cores, docs/BENCHMARKS.md), else over TCP on 127.0.0.1.
PG_SOCKET_DIR = "/var/run/postgresql"  # where Debian's PostgreSQL keeps its socket
TCP_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _default_pg() -> str:
    if Path(PG_SOCKET_DIR, ".s.PGSQL.5432").exists():
        return f"postgresql+psycopg://postgres@/postgres?host={PG_SOCKET_DIR}"
    return TCP_PG


DEFAULT_PG = _default_pg()


def pg_host(url: URL) -> str:
    """Where a PostgreSQL URL's server is: a socket directory given as `?host=`, else the
    URL's host, else libpq's default socket directory."""
    given = url.query.get("host")
    if isinstance(given, tuple):
        given = given[0]
    return str(given or url.host or PG_SOCKET_DIR)


WARMUP_SECONDS = 2.0
KINDS = [VenueType.RESTAURANT, VenueType.SHOP, VenueType.SUPERMARKET, VenueType.OFFICE]


# --- Databases and apps --------------------------------------------------------------------------


@dataclass
class Database:
    """A database for one part of the run: a SQLite file, or a PostgreSQL database of its own."""

    kind: str  # "SQLite" | "PostgreSQL"
    url: str
    admin_url: str | None = None

    @property
    def name(self) -> str:
        return make_url(self.url).database or ""

    def drop(self) -> None:
        if self.admin_url is not None:
            pg_admin(self.admin_url, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def pg_admin(admin_url: str, sql: str) -> None:
    engine = make_engine(admin_url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def new_database(kind: str, directory: Path, admin_url: str | None, template: str = "") -> Database:
    """A fresh database: a new SQLite file (a copy of `template` if given), or a new PostgreSQL
    database (CREATE DATABASE ... TEMPLATE `template` if given)."""
    tag = secrets.token_hex(4)
    if kind == "SQLite":
        path = directory / f"bench-{tag}.db"
        if template:
            shutil.copyfile(template, path)
        return Database(kind, f"sqlite:///{path}")
    assert admin_url is not None
    name = f"hc_bench_{tag}"
    pg_admin(admin_url, f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    return Database(kind, str(make_url(admin_url).set(database=name)), admin_url)


def settings_for(directory: Path, url: str) -> Settings:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the dev profile warns about its development secrets
        return Settings(  # type: ignore[call-arg]
            _env_file=None,
            profile="dev",
            data_dir=directory / "data",
            database_url=url,
            city=CITY,
            rate_checkins_per_minute=100_000,
            rate_device_per_minute=1_000_000,
        )


def make_app(directory: Path, url: str, now: int | None = None) -> App:
    app = build(settings_for(directory, url), clock=FixedClock(now) if now else None)
    initialise(app)
    return app


def add_subjects(app: App, count: int, now: int, *, vault: bool = False) -> list[str]:
    """Residents written straight into their table (setup, not measured). With `vault`, each
    also gets an identity in the vault (through the vault repository), so that health codes can
    be issued for them."""
    ids = [secrets.token_hex(16) for _ in range(count)]
    with app.engine.begin() as conn:
        for start in range(0, count, 50_000):
            conn.execute(
                insert(subjects),
                [
                    {"subject_id": s, "kind": "resident", "created_at": now}
                    for s in ids[start : start + 50_000]
                ],
            )
    if vault:
        with app.ctx.uow() as uow:
            for s in ids:
                uow.vault.add(Identity(s, "张三", None, None, None, secrets.token_bytes(32), now))
            uow.commit()
    return ids


def sign_in(app: App, people: list[str], device_venues: list[str], now: int) -> dict[str, str]:
    """A session for each resident and a scanner token for each venue, written straight into
    their tables (setup, not measured); every request of the run carries one."""
    tokens = {p: secrets.token_urlsafe(32) for p in people}
    devices = {v: "dev_" + secrets.token_urlsafe(32) for v in device_venues}
    digest = lambda t: hashlib.sha256(t.encode()).hexdigest()  # noqa: E731
    sealed = app.keyring.links.seal(list(tokens))  # as the sessions repository stores them
    with app.engine.begin() as conn:
        rows = [
            {"session_id": digest(t), "kind": "resident", "ref": ref, "role": "resident",
             "venue_id": None, "created_at": now, "last_seen": now, "ended_at": None}
            for ref, t in zip(sealed, tokens.values(), strict=True)
        ]  # fmt: skip
        for start in range(0, len(rows), 50_000):
            conn.execute(insert(sessions), rows[start : start + 50_000])
        if not devices:
            return tokens
        conn.execute(
            insert(device_tokens),
            [
                {"device_id": "d" + secrets.token_hex(8), "venue_id": v, "label": "bench",
                 "token_hash": digest(t), "created_at": now, "revoked_at": None}
                for v, t in devices.items()
            ],
        )  # fmt: skip
    return tokens | devices


def add_venues(app: App, types: list[VenueType], now: int) -> list[str]:
    """Venues written straight into their table (setup, not measured), one per type given."""
    ids = ["v" + secrets.token_hex(8) for _ in types]
    with app.engine.begin() as conn:
        conn.execute(
            insert(venues),
            [
                {
                    "venue_id": v,
                    "name_zh": None,
                    "name_en": f"Bench venue {i}",
                    "address": f"{i} Bench Road",
                    "district": "Bench",
                    "venue_type": kind.value,
                    "operator": app.ctx.uow.seals.seal_text("venue_operator", v, "Bench Ltd"),  # type: ignore[attr-defined]
                    "created_at": now,
                }
                for i, (v, kind) in enumerate(zip(ids, types, strict=True))
            ],
        )
    return ids


# --- (c) Bulk import -----------------------------------------------------------------------------


@dataclass
class BulkData:
    rows: list[CheckInRow]
    types: dict[str, VenueType]
    subjects: list[str]
    venues: list[str]


def bulk_data(count: int, now: int, seed: int = 7) -> BulkData:
    """`count` check-ins over the last 13 days: one resident per 10 check-ins, one venue per
    200, random people at random venues (the order a city-wide export would have), a third with
    a check-out time, a third with a device's client id."""
    rng = random.Random(seed)
    people = [secrets.token_hex(16) for _ in range(max(1, count // 10))]
    places = ["v" + secrets.token_hex(8) for _ in range(max(1, count // 200))]
    types = {v: KINDS[i % len(KINDS)] for i, v in enumerate(places)}
    rows = []
    for i in range(count):
        venue = rng.choice(places)
        start = now - 13 * 86400 + rng.randrange(12 * 86400)
        stay = rng.randrange(60, MAX_DWELL_SECONDS[types[venue]])
        rows.append(
            CheckInRow(
                venue,
                rng.choice(people),
                start,
                start + stay if i % 3 == 0 else None,
                f"dev-{i:010d}" if i % 3 == 1 else None,
            )
        )
    return BulkData(rows, types, people, places)


def bulk_template(
    kind: str, directory: Path, admin_url: str | None, data: BulkData, now: int
) -> tuple[str, Path]:
    """A migrated database holding the residents and venues of `data`, to clone per run, and
    the data directory of its keys."""
    db = new_database(kind, directory, admin_url)
    keys = directory / f"app-{db.name}"
    app = make_app(keys, db.url, now)
    with app.engine.begin() as conn:
        for start in range(0, len(data.subjects), 50_000):
            conn.execute(
                insert(subjects),
                [
                    {"subject_id": s, "kind": "resident", "created_at": now - 30 * 86400}
                    for s in data.subjects[start : start + 50_000]
                ],
            )
    with app.engine.begin() as conn:
        conn.execute(
            insert(venues),
            [
                {
                    "venue_id": v,
                    "name_zh": None,
                    "name_en": "Bench venue",
                    "address": "1 Bench Road",
                    "district": "Bench",
                    "venue_type": t.value,
                    "operator": app.ctx.uow.seals.seal_text("venue_operator", v, "Bench Ltd"),  # type: ignore[attr-defined]
                    "created_at": now - 30 * 86400,
                }
                for v, t in data.types.items()
            ],
        )
    app.close()
    return (str(make_url(db.url).database) if kind == "SQLite" else db.name), keys


def driver_tuples(data: BulkData) -> list[tuple[Any, ...]]:
    """What the import writes, as the bare driver gets it: one tuple per check-in, in the
    table's column order, with fresh ids like new_checkin's (made outside the timed part)."""
    ids = secrets.token_hex(8 * len(data.rows))
    return [
        (
            row.venue_id,
            "c" + ids[16 * i : 16 * i + 16],
            row.subject_id,
            row.time_in,
            row.time_in + MAX_DWELL_SECONDS[data.types[row.venue_id]],
            row.time_out,
            "device_batch",
            row.client_id,
        )
        for i, row in enumerate(data.rows)
    ]


BARE_INDEXES = [
    "CREATE INDEX ix_bare_venue_time ON bare (venue_id, time_in)",
    "CREATE INDEX ix_bare_subject_time ON bare (subject_id, time_in)",
    "CREATE UNIQUE INDEX ix_bare_venue_client ON bare (venue_id, client_id)",
]
BARE_COLUMNS = (
    "venue_id VARCHAR(24) NOT NULL, checkin_id VARCHAR(24) NOT NULL, "
    "subject_id VARCHAR(32) NOT NULL, time_in BIGINT NOT NULL, closes_at BIGINT NOT NULL, "
    "time_out BIGINT, source VARCHAR(16) NOT NULL, client_id VARCHAR(64)"
)
BARE_TABLE = f"CREATE TABLE bare ({BARE_COLUMNS}, PRIMARY KEY (venue_id, checkin_id))"
# Partitioned by day as ours: every unique key holds the partition key (time_in).
BARE_BY_DAY = (
    f"CREATE TABLE bare ({BARE_COLUMNS}, PRIMARY KEY (venue_id, checkin_id, time_in)) "
    "PARTITION BY RANGE (time_in)"
)
BARE_BY_DAY_INDEXES = [
    "CREATE INDEX ix_bare_venue_time ON bare (venue_id, time_in)",
    "CREATE INDEX ix_bare_subject_time ON bare (subject_id, time_in)",
    "CREATE UNIQUE INDEX ix_bare_venue_client ON bare (venue_id, client_id, time_in)",
]
COLUMNS = ", ".join(c.name for c in checkins.columns)


def raw_sqlite(path: Path, rows: list[tuple[Any, ...]], *, in_key_order: bool) -> float:
    """Seconds to write `rows` with sqlite3 executemany into a bare table with our indexes,
    in one transaction, WAL and synchronous=FULL as our engine sets them."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(BARE_TABLE)
        for statement in BARE_INDEXES:
            conn.execute(statement)
        if in_key_order:
            conn.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
        marks = ", ".join("?" * 8)
        start = time.perf_counter()
        data = sorted(rows) if in_key_order else rows
        conn.execute("BEGIN IMMEDIATE")
        for i in range(0, len(data), 200_000):
            conn.executemany(f"INSERT INTO bare VALUES ({marks})", data[i : i + 200_000])  # noqa: S608
        conn.execute("COMMIT")
        return time.perf_counter() - start
    finally:
        conn.close()


def _day_then_key(row: tuple[Any, ...]) -> tuple[int, str, str]:
    """A day's partition at a time, each in key order: the best order for a table partitioned
    by day (in key order alone, every row goes to another day's indexes)."""
    return row[3] - row[3] % DAY, row[0], row[1]


def raw_postgres(
    url: str, rows: list[tuple[Any, ...]], *, in_key_order: bool, by_day: bool = False
) -> float:
    """Seconds to COPY `rows` with psycopg into a bare table with our indexes, one transaction.
    With `by_day`, the table is laid out as ours is (migration 0007): partitioned by the day
    of time_in, the unique indexes carrying time_in, a partition for each day of `rows` (made
    before the clock starts, as a running city has them) and a default one; and the rows go
    in a day at a time, each day in key order."""
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        if by_day:
            conn.execute(BARE_BY_DAY)
            for statement in BARE_BY_DAY_INDEXES:
                conn.execute(statement)
            conn.execute("CREATE TABLE bare_default PARTITION OF bare DEFAULT")
            for day in sorted({row[3] - row[3] % DAY for row in rows}):
                conn.execute(
                    f"CREATE TABLE bare_p{day} PARTITION OF bare "
                    f"FOR VALUES FROM ({day}) TO ({day + DAY})"
                )
        else:
            conn.execute(BARE_TABLE)
            for statement in BARE_INDEXES:
                conn.execute(statement)
        conn.commit()
        start = time.perf_counter()
        data = sorted(rows, key=_day_then_key if by_day else None) if in_key_order else rows
        with conn.cursor() as cursor, cursor.copy(f"COPY bare ({COLUMNS}) FROM STDIN") as copy:
            for row in data:
                copy.write_row(row)
        conn.commit()
        return time.perf_counter() - start


def ours(keys: Path, url: str, data: BulkData, now: int) -> float:
    """Seconds for import_checkins(rows) on a fresh copy of the template, end to end."""
    app = build(settings_for(keys, url), clock=FixedClock(now), migrate=False)
    try:
        gc.collect()
        start = time.perf_counter()
        report = import_checkins(app.ctx, data.rows, ADMIN)
        elapsed = time.perf_counter() - start
        if report.imported != len(data.rows):
            raise SystemExit(f"imported {report.imported} of {len(data.rows)}")
        return elapsed
    finally:
        app.close()


@dataclass
class BulkResult:
    kind: str
    ours: list[float] = field(default_factory=list)  # check-ins/s per repetition
    raw_given: list[float] = field(default_factory=list)
    raw_sorted: list[float] = field(default_factory=list)
    raw_by_day: list[float] = field(default_factory=list)  # PostgreSQL: ours is partitioned

    @property
    def floor(self) -> list[float]:
        """The bare driver on the same schema, in key order: the baseline of the target."""
        return self.raw_by_day if self.kind == "PostgreSQL" else self.raw_sorted


def measure_bulk(
    kind: str, directory: Path, admin_url: str | None, count: int, repeats: int, console: Console
) -> BulkResult:
    now = int(time.time())
    console.print(f"bulk {kind}: generating {count:,} check-ins")
    data = bulk_data(count, now)
    tuples = driver_tuples(data)
    template, keys = bulk_template(kind, directory, admin_url, data, now)
    result = BulkResult(kind)
    try:
        for round_no in range(1, repeats + 1):
            console.print(f"[dim]bulk {kind}: round {round_no}/{repeats}[/dim]")
            for what, out in (
                ("ours", result.ours),
                ("given", result.raw_given),
                ("sorted", result.raw_sorted),
                *((("by day", result.raw_by_day),) if kind == "PostgreSQL" else ()),
            ):
                db = new_database(kind, directory, admin_url, template if what == "ours" else "")
                try:
                    gc.collect()
                    if what == "ours":
                        seconds = ours(keys, db.url, data, now)
                    elif kind == "SQLite":
                        path = Path(make_url(db.url).database or "")
                        seconds = raw_sqlite(path, tuples, in_key_order=what == "sorted")
                    else:
                        seconds = raw_postgres(
                            db.url,
                            tuples,
                            in_key_order=what != "given",
                            by_day=what == "by day",
                        )
                    out.append(count / seconds)
                finally:
                    db.drop()
                    if kind == "SQLite":
                        for suffix in ("", "-wal", "-shm"):
                            Path((make_url(db.url).database or "") + suffix).unlink(missing_ok=True)
    finally:
        if kind == "PostgreSQL":
            assert admin_url is not None
            pg_admin(admin_url, f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
    return result


# --- (a), (b) HTTP -------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(directory: Path, url: str, workers: int) -> Iterator[tuple[int, int]]:
    """The real server on 127.0.0.1: `healthcode serve` for one worker, uvicorn with the app
    factory and --workers for more. Yields the port and the process id once it answers."""
    port = free_port()
    env = {
        **os.environ,
        "HEALTHCODE_PROFILE": "dev",
        "HEALTHCODE_DATA_DIR": str(directory / "data"),
        "HEALTHCODE_DATABASE_URL": url,
        "HEALTHCODE_CITY": CITY,
        "HEALTHCODE_RATE_CHECKINS_PER_MINUTE": "100000",
        "HEALTHCODE_RATE_DEVICE_PER_MINUTE": "1000000",
    }
    bindir = Path(sys.executable).parent
    if workers == 1:
        command = [str(bindir / "healthcode"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    else:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "healthcode.entrypoints.web.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
    log = (directory / f"server-{port}.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own command line
        command, cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while asyncio.run(_status(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")) != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                log.close()
                tail = (directory / f"server-{port}.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"the server did not start:\n{tail}")
            time.sleep(0.2)
        yield port, process.pid
    finally:
        stop(process, log)


def stop(process: subprocess.Popen[bytes], log: Any, timeout: float = 30) -> None:
    """End a server this benchmark started (SIGTERM, then SIGKILL), and close its log."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and all its descendants (Linux /proc; 0 elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    parent: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        child = int(entry.parent.name)
        parent[child] = int(fields[1])
        used[child] = (int(fields[11]) + int(fields[12])) / ticks
    tree, grew = {pid}, True
    while grew:
        more = {child for child, up in parent.items() if up in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(used.get(p, 0.0) for p in tree)


async def _status(port: int, request: bytes) -> int:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return 0
    try:
        writer.write(request)
        status, _ = await _response(reader)
        return status
    except (OSError, asyncio.IncompleteReadError):
        return 0
    finally:
        writer.close()


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return int(head[9:12]), body


def post(path: str, body: bytes, token: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@dataclass
class Run:
    """One timed repetition: how many requests (and items) got which status, and latencies."""

    seconds: float
    statuses: Counter[int]
    latencies_ms: list[float]
    items: int  # check-ins recorded (one per request for (a), accepted scans for (b))
    client_cpu: float  # CPU seconds this process spent driving the load
    server_cpu: float = 0.0  # CPU seconds the server's processes spent meanwhile

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    @property
    def item_rate(self) -> float:
        return self.items / self.seconds


async def _drive(
    port: int,
    clients: int,
    seconds: float,
    requests: Iterator[bytes],
    count: Callable[[bytes], int],
) -> Run:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    items = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def client() -> None:
        nonlocal items
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                request = next(requests, None)
                if request is None:
                    break  # the pool of residents is used up
                t0 = time.perf_counter()
                writer.write(request)
                status, body = await _response(reader)
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[status] += 1
                if 200 <= status < 300:
                    items += count(body)
        finally:
            writer.close()

    cpu = time.process_time()
    await asyncio.gather(*(client() for _ in range(clients)))
    return Run(time.perf_counter() - start, statuses, latencies, items, time.process_time() - cpu)


def drive(
    where: tuple[int, int],
    clients: int,
    seconds: float,
    requests: Iterator[bytes],
    count: Callable[[bytes], int],
) -> Run:
    """Drive the server at `where` (port, process id) for `seconds`."""
    port, pid = where
    before = tree_cpu(pid)
    run = asyncio.run(_drive(port, clients, seconds, requests, count))
    run.server_cpu = tree_cpu(pid) - before
    return run


def place_requests(
    people: list[str], place_codes: list[str], tokens: dict[str, str]
) -> Iterator[bytes]:
    """Single check-ins, each by the signed-in resident: each resident at most
    USES_PER_RESIDENT times in the whole run."""
    uses = 0
    while True:
        for person in people:
            code = place_codes[uses % len(place_codes)]
            body = json.dumps({"place_code": code}).encode()
            yield post(f"/residents/{person}/checkins", body, tokens[person])
            uses += 1
        if uses >= len(people) * USES_PER_RESIDENT:
            return  # the pool is used up: the run ends early (reported)


def upload_requests(
    venue_ids: list[str],
    scans: list[tuple[str, int]],
    tokens: dict[str, str],
    batch: int = UPLOAD_BATCH,
) -> Iterator[bytes]:
    """Device uploads of `batch` scans: each scan is a (code, scanned_at) of a resident, used
    at most USES_PER_RESIDENT times; client ids never repeat."""
    number = 0
    for use in range(USES_PER_RESIDENT):
        for start in range(0, len(scans), batch):
            items = [
                {"client_id": f"dev-{use:02d}-{start + i:08d}", "code": code, "scanned_at": at}
                for i, (code, at) in enumerate(scans[start : start + batch])
            ]
            venue = venue_ids[number % len(venue_ids)]
            number += 1
            body = json.dumps({"items": items}).encode()
            yield post(f"/venues/{venue}/uploads", body, tokens[venue])


@dataclass
class HttpResult:
    kind: str
    workers: int
    single: list[Run] = field(default_factory=list)
    upload: list[Run] = field(default_factory=list)


@dataclass
class HttpSetup:
    directory: Path
    url: str
    people: list[str]
    place_codes: list[str]
    device_venues: list[str]
    scans: list[tuple[str, int]]
    tokens: dict[str, str]  # resident or venue id -> a session or device token
    inproc_single: float = 0.0  # check-ins/s, service call in-process
    inproc_upload: float = 0.0


def http_setup(
    kind: str, directory: Path, admin_url: str | None, budget: int, console: Console
) -> tuple[HttpSetup, Database]:
    """A database with venues (real posters), residents for single check-ins and residents
    with health codes scanned by offline devices, sized for `budget` requests of each kind."""
    db = new_database(kind, directory, admin_url)
    app = make_app(directory, db.url)
    now = int(time.time())
    console.print(f"http {kind}: venues, {budget:,} check-ins' worth of residents and codes")
    place_codes = []
    for i in range(50):
        cmd = venue_service.RegisterVenue(
            f"店{i}", None, f"{i} Bench Road", "Bench", KINDS[i % len(KINDS)].value, "Bench Ltd"
        )
        place_codes.append(venue_service.register_venue(app.ctx, cmd, ADMIN).poster.payload)
    people = add_subjects(app, budget // USES_PER_RESIDENT + 1, now)
    device_venues = add_venues(app, [VenueType.SUPERMARKET] * 50, now)
    scanned = add_subjects(app, max(UPLOAD_BATCH, budget // USES_PER_RESIDENT), now, vault=True)
    scans = [(codes.issue_health_code(app.ctx, s).text, int(time.time())) for s in scanned]
    tokens = sign_in(app, people, device_venues, now)
    setup = HttpSetup(directory, db.url, people, place_codes, device_venues, scans, tokens)
    # In-process baselines: the same service calls, one thread, no HTTP (informative).
    extra = add_subjects(app, 200, now)
    start, done = time.perf_counter(), 0
    while time.perf_counter() - start < 2.0 and done < len(extra) * USES_PER_RESIDENT:
        checkin_service.check_in_at_place(
            app.ctx, extra[done % len(extra)], place_codes[done % len(place_codes)]
        )
        done += 1
    setup.inproc_single = done / (time.perf_counter() - start)
    mine = add_subjects(app, UPLOAD_BATCH, now, vault=True)
    mine_scans = [(codes.issue_health_code(app.ctx, s).text, int(time.time())) for s in mine]
    items = [
        checkin_service.UploadItem(f"inproc-{i:08d}", code, at)
        for i, (code, at) in enumerate(mine_scans)
    ]
    start = time.perf_counter()
    report = checkin_service.upload_scans(app.ctx, device_venues[0], items)
    setup.inproc_upload = len(report.accepted) / (time.perf_counter() - start)
    app.close()
    return setup, db


def measure_http(
    setup: HttpSetup,
    kind: str,
    workers_list: list[int],
    clients: int,
    seconds: float,
    repeats: int,
    console: Console,
) -> list[HttpResult]:
    results = []
    singles = place_requests(setup.people, setup.place_codes, setup.tokens)
    uploads = upload_requests(setup.device_venues, setup.scans, setup.tokens)
    accepted = lambda body: len(json.loads(body)["accepted"])  # noqa: E731
    for workers in workers_list:
        result = HttpResult(kind, workers)
        with server(setup.directory, setup.url, workers) as where:
            console.print(f"http {kind}, {workers} worker(s): warming up")
            drive(where, clients, WARMUP_SECONDS, singles, lambda _: 1)
            drive(where, 4, WARMUP_SECONDS, uploads, accepted)
            for round_no in range(1, repeats + 1):
                console.print(f"[dim]http {kind}, {workers} worker(s): round {round_no}[/dim]")
                gc.collect()
                result.single.append(drive(where, clients, seconds, singles, lambda _: 1))
                result.upload.append(drive(where, 4, seconds, uploads, accepted))
        results.append(result)
    return results


# --- Output --------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _median_run(runs: list[Run], key: Callable[[Run], float]) -> Run:
    return sorted(runs, key=key)[len(runs) // 2]


def _server_cpu(run: Run, items: int) -> str:
    """Server CPU per item (ms) and the server's cores busy, or blanks without /proc."""
    if run.server_cpu <= 0 or not items:
        return ""
    return f"{1000 * run.server_cpu / items:.2f} ms, {run.server_cpu / run.seconds:.2f} cores"


def http_rows(results: list[HttpResult], setups: dict[str, HttpSetup]) -> list[list[str]]:
    rows = []
    for r in results:
        single = _median_run(r.single, lambda run: run.rate)
        errors = sum(n for s, n in single.statuses.items() if not 200 <= s < 300)
        rows.append(
            [
                f"(a) single check-in, {r.kind}, {r.workers} worker(s)",
                f"{single.rate:,.0f} req/s",
                f"{min(x.rate for x in r.single):,.0f}–{max(x.rate for x in r.single):,.0f}",
                f"{pct(single.latencies_ms, 0.5):.1f}",
                f"{pct(single.latencies_ms, 0.99):.1f}",
                f"{errors}",
                _server_cpu(single, single.ok),
                f"{single.client_cpu / single.seconds:.0%}",
                f"≥ {HTTP_TARGET:,}/s",
                "PASS" if single.rate >= HTTP_TARGET else "FAIL",
            ]
        )
        upload = _median_run(r.upload, lambda run: run.item_rate)
        errors = sum(n for s, n in upload.statuses.items() if not 200 <= s < 300)
        rows.append(
            [
                f"(b) device uploads of {UPLOAD_BATCH} scans, {r.kind}, {r.workers} worker(s)",
                f"{upload.item_rate:,.0f} check-ins/s",
                f"{min(x.item_rate for x in r.upload):,.0f}–"
                f"{max(x.item_rate for x in r.upload):,.0f}",
                f"{pct(upload.latencies_ms, 0.5):.0f}",
                f"{pct(upload.latencies_ms, 0.99):.0f}",
                f"{errors}",
                _server_cpu(upload, upload.items),
                f"{upload.client_cpu / upload.seconds:.0%}",
                "informative",
                "—",
            ]
        )
    for kind, s in setups.items():
        for label, rate in (
            (f"in-process check_in_at_place, {kind}, 1 thread (no HTTP)", s.inproc_single),
            (f"in-process upload_scans of {UPLOAD_BATCH}, {kind}, 1 thread", s.inproc_upload),
        ):
            rows.append(
                [
                    label,
                    f"{rate:,.0f} check-ins/s",
                    "",
                    "",
                    "",
                    "",
                    f"{1000 / rate:.2f} ms (wall)",
                    "",
                    "informative",
                    "—",
                ]
            )
    return rows


HTTP_HEADER = [
    "Row",
    "Median rate",
    "Range",
    "p50 ms",
    "p99 ms",
    "Non-2xx",
    "Server CPU per check-in, cores busy",
    "Client CPU",
    "Target",
    "Result",
]
BULK_HEADER = ["Row", "Median check-ins/s", "Range", "vs floor", "Target", "Result"]


def bulk_rows(results: list[BulkResult]) -> list[list[str]]:
    rows = []
    for r in results:
        floor = r.floor
        ratios = [a / b for a, b in zip(r.ours, floor, strict=True)]
        rate = statistics.median(r.ours)
        ratio = statistics.median(ratios)
        target = f"≥ {FLOOR_TARGET:.0%} of floor"
        passed = ratio >= FLOOR_TARGET
        if r.kind == "SQLite":
            target += f"; ≥ {BULK_TARGET:,}/s"
        result = ", ".join(
            [
                "PASS" if passed else "FAIL",
                *(["PASS" if rate >= BULK_TARGET else "FAIL"] if r.kind == "SQLite" else []),
            ]
        )
        rows.append(
            [
                f"import_checkins, {r.kind}",
                f"{rate:,.0f}",
                f"{min(r.ours):,.0f}–{max(r.ours):,.0f}",
                f"{ratio:.0%}",
                target,
                result,
            ]
        )
        driver = "sqlite3 executemany" if r.kind == "SQLite" else "psycopg COPY"
        cache = ", 256 MiB page cache" if r.kind == "SQLite" else ""
        sorted_label = f"raw {driver}, in key order{cache}"
        for label, values in (
            (f"raw {driver}, rows as given", r.raw_given),
            (sorted_label + (" (floor)" if r.kind == "SQLite" else ", one table"), r.raw_sorted),
            *(
                ((f"raw {driver}, by day as ours, each in key order (floor)", r.raw_by_day),)
                if r.kind == "PostgreSQL"
                else ()
            ),
        ):
            rows.append(
                [
                    label,
                    f"{statistics.median(values):,.0f}",
                    f"{min(values):,.0f}–{max(values):,.0f}",
                    "baseline" if values is floor else "",
                    "—",
                    "—",
                ]
            )
    return rows


def console_tables(console: Console, http: list[list[str]], bulk: list[list[str]]) -> None:
    for title, header, rows in (
        ("HTTP", HTTP_HEADER, http),
        ("Bulk import", BULK_HEADER, bulk),
    ):
        if not rows:
            continue
        table = Table(title=title)
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)


def _wrap(words: str) -> str:
    return textwrap.fill(words, width=100, break_on_hyphens=False, break_long_words=False)


def versions(admin_url: str | None) -> str:
    line = f"- SQLite: {sqlite3.sqlite_version}"
    if admin_url:
        engine = make_engine(admin_url)
        try:
            with engine.connect() as conn:
                server_version = conn.execute(text("SHOW server_version")).scalar_one()
            host = pg_host(make_url(admin_url))
            over = "its Unix socket" if host.startswith("/") else f"TCP ({host})"
            version = str(server_version).split()[0]
            line += f"; PostgreSQL {version} on the same machine, over {over}"
        finally:
            engine.dispose()
    return line


def interpretation(
    http: list[HttpResult], bulk: list[BulkResult], setups: dict[str, HttpSetup]
) -> str:
    """What this run measured, in words: only numbers from the run."""
    parts = []
    for r in http:
        single = _median_run(r.single, lambda run: run.rate)
        upload = _median_run(r.upload, lambda run: run.item_rate)
        cpu_ms = 1000 * single.server_cpu / max(1, single.ok)
        inproc = setups[r.kind].inproc_single
        text_ = (
            f"{r.kind}, {r.workers} worker(s): {single.rate:,.0f} single check-ins/s "
            f"({'meets' if single.rate >= HTTP_TARGET else 'misses'} the {HTTP_TARGET:,}/s "
            f"target) and {upload.item_rate:,.0f} uploaded scans/s."
        )
        if single.server_cpu > 0:
            text_ += (
                f" The server spent {cpu_ms:.2f} ms of CPU per single check-in (the service "
                f"call alone, in-process: {1000 / inproc:.2f} ms) and kept "
                f"{single.server_cpu / single.seconds:.2f} of the 2 cores busy; at that cost "
                f"two free cores would allow about {2000 / cpu_ms:,.0f} requests/s."
            )
        parts.append(text_)
    for r in bulk:
        rate = statistics.median(r.ours)
        floor = statistics.median(r.floor)
        given = statistics.median(r.raw_given)
        ratio = statistics.median(a / b for a, b in zip(r.ours, r.floor, strict=True))
        schema = (
            ", a day at a time, into a table partitioned by day as ours"
            if r.kind == "PostgreSQL"
            else ""
        )
        text_ = (
            f"Bulk import into {r.kind}: {rate:,.0f} check-ins/s, {ratio:.0%} of the bare "
            f"driver writing the same tuples in key order{schema} ({floor:,.0f}/s; "
            f"{'meets' if ratio >= FLOOR_TARGET else 'misses'} the {FLOOR_TARGET:.0%} target) "
            f"and {rate / given:.0%} of it writing them as given ({given:,.0f}/s)"
        )
        if r.kind == "PostgreSQL":
            one = statistics.median(r.raw_sorted)
            text_ += f"; in key order into one unpartitioned table it writes {one:,.0f}/s"
        parts.append(text_ + ".")
    return " ".join(parts)


def section(
    http: list[HttpResult],
    bulk: list[BulkResult],
    setups: dict[str, HttpSetup],
    args: argparse.Namespace,
    machine: str,
    load: tuple[float, float],
    notes: str,
    kept: KeptBulk | None = None,
) -> str:
    command = " ".join([".venv/bin/python", "bench/ingest.py", *args.argv])
    http_table = markdown_table(HTTP_HEADER, http_rows(http, setups), "lrrrrrrrrr") if http else ""
    bulk_table = markdown_table(BULK_HEADER, bulk_rows(bulk), "lrrrrr") if bulk else ""
    words = interpretation(http, bulk, setups)
    measured = (
        f"{args.seconds:g} s each for HTTP,\n{args.rows:,} check-ins each for the bulk import"
    )
    provenance = ""
    if kept is not None and not bulk:
        bulk_table, words = kept.table, f"{words} {kept.words}".strip()
        measured = f"{args.seconds:g} s each for HTTP"
        provenance = "\n\n" + _wrap(
            f"{KEPT_MARK} {kept.date} (`{kept.command}`), not re-run with the HTTP rows."
        )
    how_run = (
        f"Command: `{command}`: median of {args.repeats} repetitions ({measured}), interleaved "
        f"across rows. Load average (1 min) at start and end: {load[0]:.2f} and {load[1]:.2f} "
        "(other processes shared the machine when this is well above 1)."
    )
    return f"""\
Check-ins coming in three ways, each against a baseline measured in the same run:
(a) one check-in per HTTP request (`POST /residents/{{id}}/checkins` with a scanned place code,
by the resident signed in with a session token: the session lookup and the access gate, each a
read transaction, then the poster signature check, resident and daily-cap reads, one write
transaction); (b) offline device uploads over HTTP, by a venue scanner with its device token
(`POST /venues/{{id}}/uploads`, {UPLOAD_BATCH} health-code scans per request,
each code verified as of its scan); (c) the authority's bulk import
(`import_checkins`, validation included, from rows in memory) against the bare database
driver writing the same tuples into a bare table with the same columns and indexes.

The server is the real one (`healthcode serve` for 1 worker; uvicorn with the same app factory
and `--workers` for more) on 127.0.0.1, dev profile, temporary data directory; per-resident and
per-venue rate limits raised for the run (the limiter still runs), the daily cap of 60
check-ins per person kept (each resident is used at most {USES_PER_RESIDENT} times). The load
generator is a small asyncio HTTP/1.1 keep-alive client with {args.clients} connections for (a)
and 4 for (b), running on the same cores as the server ("Client CPU": the share of one core it
used; "Server CPU": the CPU time of the server's processes per check-in, from /proc, and how
many cores they kept busy). SQLite runs as our engine sets it up: WAL, `synchronous=FULL`
(every commit is on disk before it is acknowledged); PostgreSQL with its defaults
(`synchronous_commit=on`).

{machine}
{versions(args.postgres if args.postgres != "off" else None)}

{_wrap(how_run)}{provenance}

Targets (from the issues): (a) ≥ {HTTP_TARGET:,} single check-ins/s on 2 cores; (c) ≥
{FLOOR_TARGET:.0%} of the bare driver's floor on the same schema on both databases (on
PostgreSQL ours is partitioned by day, so its floor is the driver's COPY into a table laid out
the same way, with the data's day partitions made beforehand), and ≥ {BULK_TARGET:,}
check-ins/s into SQLite.

{http_table}

{bulk_table}

### Interpretation

{_wrap(words)}

{notes}
"""


KEPT_MARK = "Bulk import rows (c): kept from the run of"


@dataclass
class KeptBulk:
    """The bulk-import rows of the section as it stands, for a run that measures HTTP only."""

    table: str
    words: str  # the interpretation's sentences about the bulk import
    date: str
    command: str


def kept_bulk(path: Path) -> KeptBulk | None:
    """The bulk table, its sentences and the date and command of the run that measured them,
    from this benchmark's section of `path` (None if there are none)."""
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    start = text.find(f"## {HEADING}\n")
    if start < 0:
        return None
    end = text.find("\n## ", start + 1)
    lines = text[start : end if end > 0 else len(text)].splitlines()
    first = next(
        (
            i
            for i, line in enumerate(lines)
            if line.startswith(f"| {BULK_HEADER[0]} | {BULK_HEADER[1]} |")
        ),
        None,
    )
    if first is None:
        return None
    last = first
    while last + 1 < len(lines) and lines[last + 1].startswith("|"):
        last += 1
    table = "\n".join(lines[first : last + 1])
    paragraphs = "\n".join(lines).split("### Interpretation", 1)[-1].strip().split("\n\n")
    flat = " ".join(paragraphs[0].split())
    at = flat.find("Bulk import into")
    words = flat[at:] if at >= 0 else ""
    joined = " ".join("\n".join(lines).split())
    mark = re.search(re.escape(KEPT_MARK) + r" (.+?) \(`([^`]+)`\)", joined)
    if mark:
        date, command = mark.group(1), mark.group(2)
    else:
        date_line = re.search(r"- Date: (\d{4}-\d\d-\d\d \d\d:\d\d UTC)", joined)
        command_line = re.search(r"Command: `([^`]+)`", joined)
        if not (date_line and command_line):
            return None
        date, command = date_line.group(1), command_line.group(1)
    return KeptBulk(table, words, date, command)


NOTES = """\
### What stands in the way

Bulk import. The SQLite floor is the point: a check-in is a row in a table with a primary key
and three indexes ((venue_id, time_in) for tracing, (subject_id, time_in) for a resident's own
list and the daily cap, (venue_id, client_id) for idempotent uploads), so every check-in is five
B-tree inserts (the rowid table and four indexes), with random keys in most of them. The bare
driver writing the same tuples in one transaction, with nothing of ours in the way and in the
best order, stays well below 300,000/s on this machine; no import built on this schema can
reach that target here. What the import adds on top of the floor is Python, kept to a few
passes over columns, most of them in C: the good rows become a batch of columns, with no object
per check-in; a batch that is all good is checked column by column, and only one with a bad row
or a duplicate goes row by row to name every bad line; venue types come in one query for all
the venues, stored client ids in a few (first the venues that have any, then only their
pairs); the residents are checked once, inside the write transaction (on SQLite in one
statement, the ids as a JSON array), and the answer is held until the commit (SQLite's write
lock keeps other writers out; on PostgreSQL the residents' rows are locked FOR SHARE, so an
erasure waits for the import), so that the repository never stores a check-in of someone
unknown or erased; each day's subjects are sealed in one call and the sealed values split in
C, the fresh check-in ids cut from one random draw, and the tuples made by zip. On SQLite the
adapter puts the whole batch in key order (by venue, then each venue's few rows by id: the
order the floor gets by sorting the tuples, in about a third of the time) and writes it in
parts of 200,000, giving SQLite a 256 MiB page cache meanwhile, which is why the import beats
the bare driver writing rows in the order given. Left on top of that floor: checking the rows,
sealing, the ids, the tuples and the sort, and once per process the key store's unlocking
(scrypt) when the first day key is used.

On PostgreSQL the table is partitioned by day, and the import makes the partitions of the days
it brings first (services/retention.prepare_days_of, in a short transaction of its own, only
days still kept), so that each day's rows land in that day's partition, which expiry drops
whole, rather than in the default one. It then sends a day at a time, each in key order, so
that the server fills one partition's four small indexes at a time; and psycopg's COPY sends
from a thread of its own (QueuedLibpqWriter), so that the next day's rows are sealed, sorted and
formatted while the server stores the day before: the server sets the pace. Its floor is the
bare driver doing the same into a table laid out the same way, with the partitions made before
the clock starts; in key order alone, every row goes to another day's indexes, slower still
than one unpartitioned table (both rows shown). What is left on top of that floor is what
runs before the first row is sent: checking the rows, the residents, the partitions.

Single check-ins over HTTP. A resident's own check-in is one piece of work in a transaction
shared with the other check-ins of the moment (services/group_commit.py: one writer thread per
process takes every check-in waiting, runs them in one transaction and answers each once the
commit returned), and that piece is one statement (adapters/db/checkin_sight.py: the session,
the person, the venue, the poster and the daily cap) and one insert, both compiled once and
handed straight to the driver (adapters/db/prepared.py). The request is taken in front of
FastAPI (entrypoints/web/fast_path.py: the rate limit, the body, the work), and anything that is
not a plain yes goes on to the route. Two thousand requests/s on two cores leaves at most 1 ms
of CPU per request for everything: server, database and load generator. What is left,
profiled on the server under load (py-spy) and in-process (cProfile of the writer's batches):
the writer's work is about 0.3 ms a check-in (the statement, the insert with its four indexes,
the day key's look at its file for sealing, the commit), the event loop's share about as much
(uvicorn's parsing and sending, the thread hop and its wake-up), and the two take turns on one
interpreter. A second SQLite worker adds little: the two processes take turns at the one write
lock (since this stop in the kernel's queue, `flock`, instead of SQLite's busy handler, whose
naps made requests wait over 2 s under load).

What was done for single check-ins, in the order it was measured: statements built once with
bound parameters; the session, the gate, the poster and the cap read in one statement, inside
the write transaction; group commit; the request dependencies `async def` (one thread hop a
request instead of three); uvicorn on uvloop and httptools; SQLite's writers queued in and
across processes; at this stop, the statement and the insert straight through the driver, the
key store's directory scanned only when it changed (it was scanned for every check-in to find
the day keys: 9 % of the writer's time), and the check-in taken in front of the routes
(FastAPI's routing, dependencies and response validation were about a fifth of the server's
samples). Not done: a resident's day key is still looked at (a `stat` of its file) at each
use, so that a key destroyed by another process is never used; the poster's key and venue are
read every time, so that a rotated-out poster is refused at once.
"""


# --- Main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of an HTTP round")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per row (median)")
    parser.add_argument("--workers", default="1,2", help="server processes to try, e.g. 1,2")
    parser.add_argument("--clients", type=int, default=32, help="connections for (a)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="check-ins per bulk import")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("HEALTHCODE_BENCH_PG_URL", DEFAULT_PG),
        help="admin URL of a PostgreSQL server to create databases on, or 'off'",
    )
    parser.add_argument(
        "--skip",
        default="",
        help="parts to leave out: http, bulk (with bulk, the bulk-import rows already in "
        "BENCHMARKS.md are kept, marked with the date of the run that measured them)",
    )
    parser.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    if args.seconds <= 0 or args.repeats < 1 or args.rows < 1000 or not workers:
        parser.error("--seconds positive, --repeats ≥ 1, --rows ≥ 1000, --workers non-empty")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    console = Console()
    machine = machine_description(
        ("sqlalchemy", "psycopg", "fastapi", "uvicorn", "uvloop", "httptools"), when=utc_now()
    )
    load_start = os.getloadavg()[0]
    admin = None if args.postgres == "off" else args.postgres
    kinds = ["SQLite"] + (["PostgreSQL"] if admin else [])
    http: list[HttpResult] = []
    bulk: list[BulkResult] = []
    setups: dict[str, HttpSetup] = {}
    with tempfile.TemporaryDirectory(prefix="hc-bench-") as tmp:
        directory = Path(tmp)
        if "http" not in skip:
            # Enough residents for a few thousand requests/s in every round.
            budget = int(len(workers) * (args.repeats * args.seconds + WARMUP_SECONDS) * 5000)
            for kind in kinds:
                place = directory / f"http-{kind.lower()}"
                place.mkdir()
                setup, db = http_setup(kind, place, admin, budget, console)
                setups[kind] = setup
                try:
                    http += measure_http(
                        setup, kind, workers, args.clients, args.seconds, args.repeats, console
                    )
                finally:
                    db.drop()
        if "bulk" not in skip:
            for kind in kinds:
                bulk.append(measure_bulk(kind, directory, admin, args.rows, args.repeats, console))

    console_tables(console, http_rows(http, setups), bulk_rows(bulk))
    console.print(interpretation(http, bulk, setups))
    if not args.no_write:
        load = (load_start, os.getloadavg()[0])
        # An HTTP-only run keeps the bulk-import rows already there (with their date).
        kept = kept_bulk(BENCHMARKS_MD) if "bulk" in skip else None
        replace_section(
            BENCHMARKS_MD,
            HEADING,
            section(http, bulk, setups, args, machine, load, NOTES, kept),
        )
        console.print("updated docs/BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
