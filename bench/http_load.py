"""Benchmark: the hot HTTP paths under a real load generator, against a hello-world on the same
server stack measured in the same run.

    .venv/bin/python bench/http_load.py [--seconds N] [--repeats R] [--workers 1,2]
                                   [--paths code,checkin,verify,health,checkpoint]
                                   [--postgres URL | --postgres off] [--no-write]

The load generator is wrk (Debian's package `wrk`), 2 threads and 16 keep-alive connections,
on the same 2 cores as the server (client included, as a phone network would not be). The
server is uvicorn with uvloop and httptools, `--workers N`, our app factory over a temporary data
directory (dev profile) and a fresh database; the baseline is `bench/hello_app.py` (FastAPI,
one `async def` route returning a small JSON object) on the same uvicorn options and worker
count, measured in the same run with the repetitions interleaved.

Paths:
- `code`: `POST /residents/{id}/code` ("show my code"), each request by a different signed-in
  resident (session token), 1 in 20 of them with a recorded symptom report (yellow);
- `checkin`: `POST /residents/{id}/checkins` with a scanned poster, each resident at most 55
  times in the run (under the daily cap);
- `verify`: `POST /verify` of a valid health code (a guard's device without a trust list);
- `health`: `GET /health`; `checkpoint`: `GET /log/checkpoint` (public reads).

Rate limits are raised for the run (the limiters still run). The result replaces the section
"HTTP: hot paths against a hello-world" of docs/BENCHMARKS.md unless `--no-write` is given.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from healthcode.domain.audit import Actor
from healthcode.services import codes, health_facts
from healthcode.services import venues as venue_service
from ingest import (
    ADMIN,
    CITY,
    DEFAULT_PG,
    KINDS,
    USES_PER_RESIDENT,
    Database,
    add_subjects,
    free_port,
    make_app,
    new_database,
    sign_in,
    stop,
    tree_cpu,
    versions,
)
from report import BENCHMARKS_MD, machine_description, markdown_table, replace_section, utc_now

HEADING = "HTTP: hot paths against a hello-world"
BENCH = Path(__file__).resolve().parent
CONNECTIONS = 16
THREADS = 2
WARMUP_SECONDS = 2.0
PATHS = ("code", "checkin", "verify", "health", "checkpoint")
# Targets from the issue: (share of hello-world, absolute rate on 2 workers) per path.
TARGETS: dict[str, tuple[float, int]] = {
    "code": (0.5, 4000),
    "checkin": (0.0, 2000),
    "verify": (0.0, 0),
    "health": (0.7, 0),
    "checkpoint": (0.7, 0),
}
P99_TARGET_MS = 50.0
LABELS = {
    "hello": "hello-world (`GET /hello`)",
    "code": "show my code (`POST /residents/{id}/code`)",
    "checkin": "single check-in (`POST /residents/{id}/checkins`)",
    "verify": "verify (`POST /verify`)",
    "health": "health (`GET /health`)",
    "checkpoint": "checkpoint (`GET /log/checkpoint`)",
}

LUA = r"""
-- Each line of the requests file: METHOD \t PATH \t TOKEN (or -) \t BODY (or -).
local lines = {}
for line in io.lines(os.getenv("BENCH_REQUESTS")) do lines[#lines + 1] = line end
local counter, threads = 0, 0
function setup(thread) thread:set("id", counter); counter = counter + 1 end
function init(args)
  local parsed = {}
  for i, line in ipairs(lines) do
    local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {["Content-Type"] = "application/json"}
    if token ~= "-" then headers["Authorization"] = "Bearer " .. token end
    if body == "-" then body = nil end
    parsed[i] = wrk.format(method, path, headers, body)
  end
  requests = parsed
  -- threads take turns through the list, so no line is used twice before all are used once
  step = tonumber(os.getenv("BENCH_THREADS"))
  index = id + 1
end
function request()
  local r = requests[index]
  index = index + step
  if index > #requests then index = index - #requests end
  return r
end
"""


@dataclass
class Run:
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx responses and socket errors
    requests: int
    server_cpu: float  # CPU seconds of the server's processes during the run
    seconds: float


@dataclass
class Setup:
    directory: Path
    db: Database
    files: dict[str, Path] = field(default_factory=dict)  # path -> requests file
    codes_for_verify: list[str] = field(default_factory=list)


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(port: int, requests: Path | None, seconds: float, pid: int, url_path: str) -> Run:
    """One wrk run of `seconds` against 127.0.0.1:`port`."""
    script = Path(tempfile.gettempdir()) / f"healthcode-wrk-{os.getpid()}.lua"
    script.write_text(LUA)
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency"]
    env = {**os.environ, "BENCH_THREADS": str(THREADS)}
    if requests is not None:
        command += ["-s", str(script)]
        env["BENCH_REQUESTS"] = str(requests)
    before = tree_cpu(pid)
    out = subprocess.run(  # noqa: S603 - our own command line
        [*command, f"http://127.0.0.1:{port}{url_path}"],
        capture_output=True, text=True, env=env, check=True,
    ).stdout  # fmt: skip
    used = tree_cpu(pid) - before
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return Run(rate, p50, p99, errors, total, used, seconds)


@contextmanager
def uvicorn(
    app: str, workers: int, env: dict[str, str], cwd: Path, logs: Path
) -> Iterator[tuple[int, int]]:
    """uvicorn serving `app` (a factory) on 127.0.0.1 with uvloop and httptools, its output in
    `logs`; yields the port and the process id once it answers."""
    import http.client

    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--loop", "uvloop", "--http",
        "httptools", "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    log = (logs / f"server-{port}.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own command line
        command, cwd=cwd, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
    )
    probe = "/hello" if app.startswith("hello_app") else "/health"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", probe)
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.close()
                tail = (logs / f"server-{port}.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"{app} did not start:\n{tail}")
            time.sleep(0.2)
        time.sleep(0.5 * workers)  # every worker up, not only the first
        yield port, process.pid
    finally:
        stop(process, log)


def server_env(directory: Path, url: str) -> dict[str, str]:
    return {
        "PYTHONPATH": str(BENCH),
        "HEALTHCODE_PROFILE": "dev",
        "HEALTHCODE_DATA_DIR": str(directory / "data"),
        "HEALTHCODE_DATABASE_URL": url,
        "HEALTHCODE_CITY": CITY,
        "HEALTHCODE_RATE_CHECKINS_PER_MINUTE": "100000",
        "HEALTHCODE_RATE_DEVICE_PER_MINUTE": "1000000",
        "HEALTHCODE_RATE_VERIFY_PER_MINUTE": "1000000",
    }


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def prepare(kind: str, directory: Path, admin_url: str | None, budget: int, con: Console) -> Setup:
    """A database with 50 venues (real posters), residents with identities and sessions for
    "show my code", residents with sessions for check-ins, and a request file per path."""
    db = new_database(kind, directory, admin_url)
    app = make_app(directory, db.url)
    now = int(time.time())
    setup = Setup(directory, db)
    con.print(f"{kind}: venues, residents and sessions for {budget:,} requests of each kind")
    posters = []
    for i in range(50):
        cmd = venue_service.RegisterVenue(
            f"店{i}", None, f"{i} Bench Road", "Bench", KINDS[i % len(KINDS)].value, "Bench Ltd"
        )
        posters.append(venue_service.register_venue(app.ctx, cmd, ADMIN).poster.payload)
    showing = add_subjects(app, 20_000, now, vault=True)
    for s in showing[::20]:  # one in twenty reported symptoms: yellow
        health_facts.report_symptoms(app.ctx, s, ["fever"], now - 3600, Actor("resident", s))
    checking = add_subjects(app, budget // USES_PER_RESIDENT + 1, now)
    tokens = sign_in(app, showing + checking, [], now)
    setup.files["code"] = _write(
        directory / "code.txt",
        [f"POST\t/residents/{s}/code\t{tokens[s]}\t-" for s in showing],
    )
    setup.files["checkin"] = _write(
        directory / "checkin.txt",
        [
            f"POST\t/residents/{s}/checkins\t{tokens[s]}\t"
            f'{{"place_code": "{posters[i % len(posters)]}"}}'
            for i, s in enumerate(checking)
        ],
    )
    setup.codes_for_verify = showing[:200]
    app.close()
    return setup


def verify_file(setup: Setup) -> Path:
    """Fresh codes (they last 5 minutes) for the verify runs, issued just before them."""
    app = make_app(setup.directory, setup.db.url)
    try:
        issued = [codes.issue_health_code(app.ctx, s).text for s in setup.codes_for_verify]
    finally:
        app.close()
    return _write(
        setup.directory / "verify.txt", [f'POST\t/verify\t-\t{{"code": "{c}"}}' for c in issued]
    )


@dataclass
class Result:
    kind: str
    workers: int
    runs: dict[str, list[Run]] = field(default_factory=dict)  # path -> repetitions


def measure(
    setup: Setup, kind: str, workers: int, paths: list[str], seconds: float, repeats: int,
    con: Console,
) -> Result:  # fmt: skip
    result = Result(kind, workers, {p: [] for p in ["hello", *paths]})
    env = server_env(setup.directory, setup.db.url)
    hello_env = {"PYTHONPATH": str(BENCH)}
    where = setup.directory
    factory = "healthcode.entrypoints.web.app:create_app"
    with uvicorn("hello_app:create_app", workers, hello_env, BENCH, where) as hello, \
         uvicorn(factory, workers, env, where, where) as ours:  # fmt: skip
        for round_no in range(1, repeats + 1):
            con.print(f"[dim]{kind}, {workers} worker(s): round {round_no}/{repeats}[/dim]")
            for path in ["hello", *paths]:
                port, pid = hello if path == "hello" else ours
                url, requests = {
                    "hello": ("/hello", None),
                    "health": ("/health", None),
                    "checkpoint": ("/log/checkpoint", None),
                }.get(path, ("/", None))
                if path == "verify":
                    requests = verify_file(setup)
                elif path in setup.files:
                    requests = setup.files[path]
                if round_no == 1:
                    wrk(port, requests, WARMUP_SECONDS, pid, url)
                result.runs[path].append(wrk(port, requests, seconds, pid, url))
    return result


# --- Output --------------------------------------------------------------------------------------


HEADER = [
    "Path", "Database", "Workers", "Median req/s", "Range", "vs hello-world", "p50 ms",
    "p99 ms", "Errors", "Server CPU per request", "Target", "Result",
]  # fmt: skip


def _median(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.rate)[len(runs) // 2]


def verdict(path: str, workers: int, run: Run, hello: float) -> tuple[str, str]:
    share, absolute = TARGETS.get(path, (0.0, 0))
    wants, ok = [], True
    if share:
        wants.append(f"≥ {share:.0%} of hello")
        ok &= run.rate >= share * hello
    if absolute and workers == 2:
        wants.append(f"≥ {absolute:,}/s")
        ok &= run.rate >= absolute
    if not wants:
        return "informative", "—"
    wants.append(f"p99 ≤ {P99_TARGET_MS:g} ms, 0 errors")
    ok &= run.p99_ms <= P99_TARGET_MS and run.errors == 0
    return ", ".join(wants), "PASS" if ok else "FAIL"


def rows(results: list[Result]) -> list[list[str]]:
    out = []
    for r in results:
        hello = _median(r.runs["hello"]).rate
        for path, runs in r.runs.items():
            run = _median(runs)
            target, result = verdict(path, r.workers, run, hello) if path != "hello" else (
                "baseline", "—")  # fmt: skip
            cpu = f"{1000 * run.server_cpu / max(1, run.requests):.2f} ms" if run.server_cpu else ""
            out.append([
                LABELS[path], r.kind if path != "hello" else "—", str(r.workers),
                f"{run.rate:,.0f}",
                f"{min(x.rate for x in runs):,.0f}–{max(x.rate for x in runs):,.0f}",
                f"{run.rate / hello:.0%}" if path != "hello" else "100%",
                f"{run.p50_ms:.1f}", f"{run.p99_ms:.1f}", str(run.errors), cpu, target, result,
            ])  # fmt: skip
    return out


def console_table(console: Console, body: list[list[str]]) -> None:
    table = Table(title="HTTP hot paths")
    for i, name in enumerate(HEADER):
        table.add_column(name, justify="left" if i < 3 else "right")
    for row in body:
        table.add_row(*row)
    console.print(table)


def section(results: list[Result], args: argparse.Namespace, machine: str, notes: str) -> str:
    command = " ".join([".venv/bin/python", "bench/http_load.py", *args.argv])
    table = markdown_table(HEADER, rows(results), "lllrrrrrrrll")
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[:2]  # noqa: S607
    return f"""\
The hot paths through the real server under a real load generator, each next to a hello-world on
the same server stack (FastAPI on uvicorn with uvloop and httptools, the same worker count)
measured in the same run: {" ".join(wrk_version)}, {THREADS} threads, {CONNECTIONS} keep-alive
connections, on the same machine as the server (the client's CPU comes out of the same 2 cores).
"Show my code" is each request by a different signed-in resident, 1 in 20 of them yellow; a
check-in scans one of 50 real posters; verify checks a valid code without a trust list; health
and checkpoint are the public reads. Errors are non-2xx answers and socket errors. Server CPU is
the CPU time of the server's processes per request.

{machine}
{notes}

Command: `{command}`: median of {args.repeats} repetitions of {args.seconds:g} s per row (after a
{WARMUP_SECONDS:g} s warm-up), repetitions interleaved across rows.

{table}

{PROFILE}
"""


# What the profiles under this load show (py-spy on the server, cProfile in-process); kept next
# to the table so that each figure says what stands between it and its target.
PROFILE = """\
### Where the time goes

Show my code (py-spy sampling the use case in process, SQLite, about 280 µs a code on a machine
whose hello-world gave 8,000/s with two workers): the one statement 18 % (13 % inside SQLite:
the session, the person, the status, the sealed name, the active rule set, the key generation
and the colour queue, joined on primary keys), the ES256 signature 15 %, opening the session's
sealed ref 10 %, sealing the person's id to find their status 8 %, opening the name 6 %, the
claims' CBOR 5 %, the envelope (zlib, base45) 4 %, the key files' `stat` calls 5 % (three a
request, so that a key another process destroyed is never used), the session's liveness 4 %,
masking the name 3 %. No part dominates: at half the hello-world's rate a request may cost
about twice the hello-world's (see "Server CPU per request"), and the statement, the signature
and the encoding alone take most of that. On PostgreSQL the statement also costs the database
about 130 µs of CPU a code, out of the same two cores.

Single check-in (py-spy on both workers, every thread, idle samples included, PostgreSQL): the
event loop is idle 78 % of the time and the group commit's writer waits for PostgreSQL 55 % of
its time (the moment's reads in one pipeline, their insert, the commit): the rate is bound by
the writer's round trips and PostgreSQL's work per batch, not by the server's CPU; with 16
connections a batch holds a few check-ins. Over PostgreSQL's Unix socket instead of TCP on
127.0.0.1 a check-in cost 694 instead of 848 µs of the server's CPU and 281 instead of 350 µs
of PostgreSQL's (8 s runs, the processes' CPU read from /proc), but in interleaved runs the rates
moved less than their noise (check-in 1,122 and 1,165/s over TCP, 1,237/s over the socket;
show my code 2,281 and 2,490/s against 2,645/s; 30-31 % of the hello-world all three). On
SQLite with two workers the processes take turns at the one write lock: each writer waited 37 %
of its time for the other's, and took its batch before that wait, so the check-ins that came in
meanwhile waited for the next round (batches of one or two). Since this run the batch is taken
once the transaction is open (services/group_commit.py), so they ride along. Interleaved, the
code before and after on the same database (4 rounds of 5 s, two workers, wrk as above): 1,272
→ 1,723 check-ins/s at the median (1,228-1,450 → 1,447-1,905), the server's CPU per check-in
0.86 → 0.69 ms; PostgreSQL, which has no such wait, 1,480 → 1,518 (within the noise). After
the change, py-spy of SQLite's writers: idle 38 % (waiting for work), waiting for the other
process 21 %, the commit's flush 18 %, the work 15 %: the rate is now bound by how fast the
requests come round, 16 connections at about 8 ms each. On PostgreSQL two writers a process
instead of one gave 1,116 against 1,119/s (three rounds each): there the server's CPU per
check-in (about 1 ms with PostgreSQL's own) is what stands in the way. Public reads are served
from memory in front of the framework, with one background read a second per process.

Show my code under load (py-spy on the server, one worker, SQLite, 2,562/s against a hello-world
of 7,997/s on a faster day than the paragraph above): the use case 59 % of the server's samples,
the one statement 20 % of them (16 % inside SQLite), sending the answer 14 % (as for the
hello-world), issuing (the claims' CBOR, the signature, the envelope) 13 %. In process the use
case took 178 µs a code that day. What no design of this request avoids is about 75 µs of it: the
ES256 signature (24-27 µs with `cryptography` alone), the statement (about 30 µs with its rows),
the CBOR and the envelope (about 18 µs). Half the hello-world's rate leaves a code about twice
the hello-world's server CPU (2 × 0.13 ms with two workers), and the HTTP part of our request
costs what the hello-world does, so about 120 µs for the use case: 45 µs beyond the floor, where
opening the session's and the name's seals, masking the name, the key files' checks and the
liveness take about 100 µs now. Larger SQLite page caches and memory-mapped reads were tried: no
change in alternating runs (5,458 and 4,699/s without, 4,713 and 4,703/s with `mmap_size`;
5,384/s without, 5,746 and 5,440/s with a 64 MiB cache). On PostgreSQL the database's own CPU
per code comes out of the same two cores, hence 2,857/s against SQLite's 5,233/s.\
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--postgres", default=os.environ.get("HEALTHCODE_BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    if shutil.which("wrk") is None:
        raise SystemExit("bench/http_load.py needs wrk (apt-get install wrk)")
    console = Console(width=220)
    paths = [p for p in args.paths.split(",") if p]
    unknown = set(paths) - set(PATHS)
    if unknown:
        raise SystemExit(f"unknown paths: {', '.join(sorted(unknown))}")
    workers = [int(w) for w in args.workers.split(",")]
    admin_url = None if args.postgres == "off" else args.postgres
    kinds = ["SQLite"] + (["PostgreSQL"] if admin_url else [])
    started = utc_now()
    budget = int(3000 * args.seconds * (args.repeats + 1) * len(workers))
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="hc-http-") as tmp:
        for kind in kinds:
            directory = Path(tmp) / kind
            directory.mkdir()
            setup = prepare(kind, directory, admin_url, budget, console)
            try:
                for n in workers:
                    results.append(
                        measure(setup, kind, n, paths, args.seconds, args.repeats, console)
                    )
            finally:
                setup.db.drop()
    body = rows(results)
    console_table(console, body)
    if args.no_write:
        return
    machine = machine_description(("fastapi", "uvicorn", "sqlalchemy"), when=started)
    machine += "\n" + versions(admin_url)
    notes = textwrap.fill(
        "Targets (on 2 cores, client included): show my code ≥ 50 % of hello-world and "
        "≥ 4,000/s with 2 workers; single check-in ≥ 2,000/s with 2 workers on both databases; "
        "public reads ≥ 70 % of hello-world; p99 ≤ 50 ms at those rates; zero errors.",
        width=100,
    )
    replace_section(BENCHMARKS_MD, HEADING, section(results, args, machine, notes))
    console.print(f"wrote the section '{HEADING}' of {BENCHMARKS_MD.name}")


if __name__ == "__main__":
    main()
