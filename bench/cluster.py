"""Benchmark: the cluster's paths that the embedded default does not have, on PostgreSQL.

    .venv/bin/python bench/cluster.py [--people N] [--checkins N] [--repeats R]
                                      [--postgres URL] [--redis URL] [--no-write]

1. **Show my code from the status read model.** `show_own_code` for `--people` signed-in
   residents (default 2,000), each once per repetition: reading the status from the database
   (the embedded default's path: one statement) and from Redis (adapters/status_view.py: one
   HMGET, then the same statement for the session and the rest). Baseline in the same run: one
   bare HMGET round trip to the same Redis.
2. **Write-through.** What the read model adds to a status change: `status.refresh` of one
   person per transaction, and of 1,000 people in one transaction, with and without the view.
3. **Check-ins through the ingest buffer.** `check_in_own` for `--checkins` check-ins (default
   4,000), 32 at a time: written by the API process itself (group commit into PostgreSQL, the
   default) and published to a JetStream stream on three NATS servers (the cluster), then one
   consumer draining the stream into PostgreSQL. Baseline in the same run: bare JetStream
   publications of messages of the same size with a message id, 32 at a time (nats-py).

Median of `--repeats` repetitions. Three nats-server processes are started on free ports and
stopped at the end. The result replaces the section "Cluster: status read model and ingest
buffer" of docs/BENCHMARKS.md unless `--no-write` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from concurrent.futures import Future, wait
from pathlib import Path

import nats
import redis
from rich.console import Console
from sqlalchemy import make_url

from healthcode.adapters.ingest_stream import NatsCheckInStream
from healthcode.adapters.status_view import RedisStatusView
from healthcode.bootstrap import App, build, initialise
from healthcode.domain.audit import SYSTEM
from healthcode.domain.checkins import CheckInSource, new_checkin
from healthcode.domain.venues import VenueType
from healthcode.services import checkins, codes, status
from healthcode.services import venues as venue_service
from ingest import (
    ADMIN,
    DEFAULT_PG,
    add_subjects,
    new_database,
    pg_host,
    settings_for,
    sign_in,
    versions,
)
from report import BENCHMARKS_MD, machine_description, markdown_table, replace_section, utc_now

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.nats_cluster import NatsCluster

HEADING = "Cluster: status read model and ingest buffer"
AT_ONCE = 32


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all processes), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def code_display(app: App, people: list[str], tokens: dict[str, str]) -> tuple[float, float, float]:
    """µs per code shown: wall time, this process's CPU time, and the other processes' (the
    database's and Redis's: nothing else runs meanwhile)."""
    busy0, cpu0 = machine_busy(), time.process_time()
    t0 = time.perf_counter()
    for who in people:
        shown = codes.show_own_code(app.ctx, tokens[who], who)
        assert shown is not None
    wall = (time.perf_counter() - t0) / len(people) * 1e6
    mine = time.process_time() - cpu0
    theirs = max(0.0, machine_busy() - busy0 - mine)
    return wall, mine / len(people) * 1e6, theirs / len(people) * 1e6


def hmget(view: RedisStatusView, people: list[str]) -> float:
    keys = [view.key(p) for p in people]
    t0 = time.perf_counter()
    for key in keys:
        view.client.hmget(key, ["v", "n"])
    return (time.perf_counter() - t0) / len(people) * 1e6


def refreshes(app: App, people: list[str], per_transaction: int) -> float:
    """µs per person re-derived and stored, `per_transaction` people a transaction."""
    now = app.ctx.clock.now()
    t0 = time.perf_counter()
    for start in range(0, len(people), per_transaction):
        with app.ctx.uow() as uow:
            status.refresh(app.ctx, uow, people[start : start + per_transaction], now, SYSTEM,
                           "bench")  # fmt: skip
            uow.commit()
    return (time.perf_counter() - t0) / len(people) * 1e6


def check_ins(app: App, people: list[str], tokens: dict[str, str], places: list[str],
              count: int, offset: int) -> tuple[float, float]:  # fmt: skip
    """Check-ins per second, AT_ONCE in flight; and this process's CPU µs per check-in (the
    API process's share: the database's and the NATS servers' are theirs)."""
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    pending: list[Future[object]] = []
    for i in range(count):
        who = people[(offset + i) % len(people)]
        pending.append(checkins.check_in_own(app.ctx, tokens[who], who, places[i % len(places)]))  # type: ignore[arg-type]
        if len(pending) >= AT_ONCE:
            done, _ = wait(pending[:1])
            for f in done:
                assert f.result() is not None
            pending = pending[1:]
    for f in pending:
        assert f.result() is not None
    elapsed = time.perf_counter() - t0
    return count / elapsed, (time.process_time() - cpu0) / count * 1e6


def drain(app: App, stream: NatsCheckInStream, count: int) -> tuple[float, float, float]:
    """Check-ins per second, one consumer from the stream into PostgreSQL; µs of CPU per
    check-in in this process and in the others (PostgreSQL and the NATS servers)."""
    added = [0]
    busy0, cpu0 = machine_busy(), time.process_time()

    def stored(_messages: int, n: int) -> None:
        added[0] += n

    t0 = time.perf_counter()
    stream.consume(lambda found: checkins.store_streamed(app.ctx, found),
                   lambda: added[0] >= count, batch=500, stored=stored)  # fmt: skip
    elapsed = time.perf_counter() - t0
    mine = time.process_time() - cpu0
    theirs = max(0.0, machine_busy() - busy0 - mine)
    return added[0] / elapsed, mine / added[0] * 1e6, theirs / added[0] * 1e6


def bare_publish(urls: list[str], count: int, size: int) -> float:
    async def run() -> float:
        nc = await nats.connect(urls)
        js = nc.jetstream()
        from nats.js.api import StreamConfig

        await js.add_stream(StreamConfig(name="BENCH_BARE", subjects=["bench.bare"],
                                         num_replicas=3))  # fmt: skip
        body = b"x" * size
        t0 = time.perf_counter()
        for start in range(0, count, AT_ONCE):
            await asyncio.gather(*[
                js.publish("bench.bare", body, headers={"Nats-Msg-Id": f"{start}-{i}"})
                for i in range(min(AT_ONCE, count - start))
            ])  # fmt: skip
        rate = count / (time.perf_counter() - t0)
        await js.delete_stream("BENCH_BARE")
        await nc.close()
        return rate

    return asyncio.run(run())


def engine_floors(
    admin_url: str, redis_url: str, directory: Path, seconds: int
) -> dict[str, float]:
    """The engines' own rates on this machine, for the per-core arithmetic of docs/SCALING.md:
    pgbench's select-only run (one primary-key read per transaction, 8 clients) and
    redis-benchmark's HMGET (50 clients, no pipelining)."""
    db = new_database("PostgreSQL", directory, admin_url)
    url = make_url(db.url)
    where = [
        "-h", pg_host(url), "-p", str(url.port or 5432),
        "-U", url.username or "postgres",
    ]  # fmt: skip
    pgbench = shutil.which("pgbench") or "pgbench"
    try:
        init = [pgbench, *where, "-i", "-q", "-s", "10", url.database or ""]
        subprocess.run(init, check=True, capture_output=True)  # noqa: S603 - our own command
        select = [pgbench, *where, "-S", "-c", "8", "-j", "2", "-T", str(seconds), "-n",
                  url.database or ""]  # fmt: skip
        out = subprocess.run(select, check=True, capture_output=True, text=True).stdout  # noqa: S603
        tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    finally:
        db.drop()
    client = redis.Redis.from_url(redis_url)
    key = f"bench-floor-{uuid.uuid4().hex[:8]}"
    client.hset(key, mapping={"v": "green|default@1#none|", "n": 0})
    address = client.connection_pool.connection_kwargs
    command = [
        shutil.which("redis-benchmark") or "redis-benchmark",
        "-h", str(address.get("host", "127.0.0.1")), "-p", str(address.get("port", 6379)),
        "-n", "200000", "-c", "50", "-q", "HMGET", key, "v", "n",
    ]  # fmt: skip
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603
    client.delete(key)
    hmget_rate = float(re.findall(r"([0-9.]+) requests per second", out)[-1])
    return {"pgbench_select": tps, "redis_hmget": hmget_rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--checkins", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", default=DEFAULT_PG)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    console = Console()
    started = utc_now()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        cluster = NatsCluster(directory / "nats")
        cluster.start_all()
        db = new_database("PostgreSQL", directory, args.postgres)
        base = settings_for(directory, db.url)
        plain = build(base)
        initialise(plain)
        viewed = build(base.model_copy(update={"redis_url": args.redis}))
        streamed = build(base.model_copy(update={"ingest_nats_urls": cluster.urls}))
        try:
            now = plain.ctx.clock.now()
            console.print(f"{args.people:,} residents, signed in; 20 venues")
            people = add_subjects(plain, args.people, now, vault=True)
            tokens = sign_in(plain, people, [], now)
            places = [
                venue_service.register_venue(plain.ctx, venue_service.RegisterVenue(
                    f"店{i}", None, f"{i} Bench Road", "Bench", "restaurant", "Bench Ltd"),
                    ADMIN).poster.payload
                for i in range(20)
            ]  # fmt: skip
            view = viewed.ctx.status_view
            assert isinstance(view, RedisStatusView)
            code_display(viewed, people, tokens)  # fills the view
            stream = streamed.ctx.ingest
            assert isinstance(stream, NatsCheckInStream)
            sample = new_checkin("v" + "0" * 16, VenueType.RESTAURANT, people[0], now,
                                 CheckInSource.PLACE_SCAN)  # fmt: skip
            body_size = len(stream._encode(sample))
            per_round = args.checkins
            for r in range(args.repeats):
                console.print(f"[dim]round {r + 1}/{args.repeats}[/dim]")
                for name, app in (("code_db", plain), ("code_view", viewed)):
                    wall, cpu, engines = code_display(app, people, tokens)
                    results.setdefault(name, []).append(wall)
                    results.setdefault(f"{name}_cpu", []).append(cpu)
                    results.setdefault(f"{name}_engines", []).append(engines)
                for name, run in (
                    ("hmget", lambda: hmget(view, people)),
                    ("refresh1_db", lambda: refreshes(plain, people[:300], 1)),
                    ("refresh1_view", lambda: refreshes(viewed, people[:300], 1)),
                    ("refresh1k_db", lambda: refreshes(plain, people[:1000], 1000)),
                    ("refresh1k_view", lambda: refreshes(viewed, people[:1000], 1000)),
                ):
                    results.setdefault(name, []).append(run())
                offset = r * per_round * 2
                for name, app, at in (
                    ("checkin_db", plain, offset),
                    ("checkin_stream", streamed, offset + per_round),
                ):
                    rate, cpu = check_ins(app, people, tokens, places, per_round, at)
                    results.setdefault(name, []).append(rate)
                    results.setdefault(f"{name}_cpu", []).append(cpu)  # fmt: skip
                rate, cpu, engines = drain(streamed, stream, per_round)
                results.setdefault("drain", []).append(rate)
                results.setdefault("drain_cpu", []).append(cpu)
                results.setdefault("drain_engines", []).append(engines)
                results.setdefault("bare", []).append(
                    bare_publish(cluster.urls.split(","), per_round, body_size))  # fmt: skip
        finally:
            for app in (plain, viewed, streamed):
                app.close()
            cluster.stop_all()
            db.drop()
        console.print("engine floors: pgbench -S, redis-benchmark HMGET")
        floors = engine_floors(args.postgres, args.redis, directory, 10)
    med = {k: statistics.median(v) for k, v in results.items()}
    rng = {k: f"{min(v):,.0f}–{max(v):,.0f}" for k, v in results.items()}

    def row(label: str, key: str, baseline: str = "—") -> list[str]:
        return [label, f"{med[key]:,.0f}", rng[key], baseline]

    def more(key: str, than: str) -> str:
        return f"{med[key] - med[than]:+,.0f} µs"

    table = markdown_table(
        ["Path", "Median", "Range", "Baseline in the same run"],
        [
            row("show my code, status from the database (µs/code)", "code_db"),
            row("… its CPU in this process (µs/code)", "code_db_cpu"),
            row("… CPU in PostgreSQL and Redis (µs/code)", "code_db_engines"),
            row("show my code, status from Redis (µs/code)", "code_view",
                f"bare HMGET round trip {med['hmget']:,.0f} µs"),
            row("… its CPU in this process (µs/code)", "code_view_cpu"),
            row("… CPU in PostgreSQL and Redis (µs/code)", "code_view_engines"),
            row("status change, 1 person a transaction, no view (µs/person)", "refresh1_db"),
            row("status change, 1 person a transaction, written through (µs/person)",
                "refresh1_view", more("refresh1_view", "refresh1_db")),
            row("status change, 1,000 a transaction, no view (µs/person)", "refresh1k_db"),
            row("status change, 1,000 a transaction, written through (µs/person)",
                "refresh1k_view", more("refresh1k_view", "refresh1k_db")),
            row("check-in written by the API process (group commit; /s)", "checkin_db"),
            row("… its API process's CPU per check-in (µs)", "checkin_db_cpu"),
            row("check-in acknowledged by the stream, 3 NATS servers (/s)", "checkin_stream",
                f"bare JetStream publish {med['bare']:,.0f}/s ({rng['bare']})"),
            row("… its API process's CPU per check-in (µs)", "checkin_stream_cpu"),
            row("one consumer, stream → PostgreSQL (check-ins/s)", "drain"),
            row("… its CPU in the consumer (µs/check-in)", "drain_cpu"),
            row("… CPU in PostgreSQL and the NATS servers (µs/check-in)", "drain_engines"),
        ],
        "lrrl",
    )  # fmt: skip  # fmt: skip
    floor_table = markdown_table(
        ["Engine alone, same machine (clients included)", "Per second"],
        [["PostgreSQL point reads: pgbench -S, scale 10, 8 clients, 10 s (transactions)",
          f"{floors['pgbench_select']:,.0f}"],
         ["Redis HMGET of one status: redis-benchmark, 50 clients, 200,000 requests",
          f"{floors['redis_hmget']:,.0f}"]],
        "lr",
    )  # fmt: skip
    console.print(table)
    console.print(floor_table)
    if args.no_write:
        return
    command = " ".join([".venv/bin/python", "bench/cluster.py", *sys.argv[1:]])
    extra_code = med["code_view_cpu"] - med["code_db_cpu"]
    extra_change = med["refresh1k_view"] - med["refresh1k_db"]
    stream_cpu, db_cpu = med["checkin_stream_cpu"], med["checkin_db_cpu"]
    prose = textwrap.fill(
        f"Reading the status from Redis costs this process {extra_code:,.0f} µs "
        f"of CPU a code more than reading it in the statement it runs anyway "
        f"({med['code_view_cpu']:,.0f} against {med['code_db_cpu']:,.0f} µs): redis-py's round "
        "trip. What it buys is not speed on one machine but that the primary is not asked: the "
        "statement goes to a replica, and the colour, which a replica may hold seconds late, "
        "comes from a copy that every change writes through before it is acknowledged. The "
        "write-through costs a change about three round trips to Redis and one read of the "
        "database after the commit, for a whole transaction: within the noise of a "
        f"one-person transaction's synchronous commit, {extra_change:,.0f} µs "
        "a person at 1,000 a transaction. A check-in through the stream costs the API process "
        f"{stream_cpu:,.0f} µs of CPU against {db_cpu:,.0f} µs written "
        "by itself (nats-py's publication and the day key's seal, against one row in a shared "
        "commit); the stream is there to absorb peaks and database failovers, not for speed, "
        f"and one consumer writes {med['drain']:,.0f} check-ins a second from it. Everything "
        "here shares two cores with PostgreSQL, Redis and three NATS servers.",
        width=100,
    )
    machine = machine_description(("redis", "nats-py", "sqlalchemy"), when=started)
    replace_section(
        BENCHMARKS_MD,
        HEADING,
        f"""\
What the cluster's own paths cost, in one process on PostgreSQL, each next to its baseline in
the same run: code display with the status from Redis (adapters/status_view.py), the write-through
that every status change pays, and check-ins acknowledged by a JetStream stream replicated on
three NATS servers (adapters/ingest_stream.py) and drained by one consumer. Redis, PostgreSQL and
the three NATS servers on the same machine ({args.people:,} residents, {args.checkins:,}
check-ins a round, {AT_ONCE} at a time).

{machine}
{versions(args.postgres)}

Command: `{command}`: median of {args.repeats} repetitions.

{table}

{prose}

The engines alone on the same two cores, for the per-core arithmetic of docs/SCALING.md:

{floor_table}
""",
    )
    console.print(f"wrote the section '{HEADING}' of {BENCHMARKS_MD.name}")


if __name__ == "__main__":
    main()
