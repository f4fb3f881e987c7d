"""Benchmark: what a rate limit costs a request, per process and shared by every process.

    .venv/bin/python bench/ratelimit.py [--takes N] [--repeats R] [--redis URL] [--no-write]

Each of `--takes` takes (default 20,000) is one request's limit for a different resident: the
token bucket in memory of the embedded default (adapters/ratelimit.py), and the sliding window
counter in Redis that every process of a cluster shares (adapters/shared_ratelimit.py: a keyed
hash of the key, then the `limits` library's Lua script). Baseline in the same run: a bare
redis-py PING on the same connection pool (one round trip to the same Redis, nothing else),
and `limits` itself with the same strategy and storage (our part is the keyed hash and the
fallback). Median of `--repeats` repetitions, interleaved. The result replaces the section
"Rate limits: per process and shared" of docs/BENCHMARKS.md unless `--no-write` is given.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import textwrap
import time
import uuid
from collections.abc import Callable

import redis
from limits import RateLimitItemPerSecond
from rich.console import Console

from healthcode.adapters.ratelimit import RateLimiter
from healthcode.adapters.shared_ratelimit import SharedRateLimiter, SharedStore
from report import (
    BENCHMARKS_MD,
    machine_description,
    markdown_table,
    ratio_rows,
    replace_section,
    utc_now,
)

HEADING = "Rate limits: per process and shared"


def per_take(takes: int, take: Callable[[int], object]) -> float:
    """Microseconds per call of `take(i)`, i over `takes` different keys."""
    t0 = time.perf_counter()
    for i in range(takes):
        take(i)
    return (time.perf_counter() - t0) / takes * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--takes", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    console = Console()
    started = utc_now()
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    store = SharedStore(args.redis, namespace, b"k" * 32)
    shared = SharedRateLimiter(store, "resident", 20)
    local = RateLimiter(20)
    item = RateLimitItemPerSecond(20, 60, namespace="bare")
    client = redis.Redis(connection_pool=store.storage.storage.connection_pool)
    keys = [uuid.uuid4().hex for _ in range(args.takes)]
    rows: dict[str, list[float]] = {"memory": [], "shared": [], "limits": [], "ping": []}
    try:
        shared.take("warm")
        for round_no in range(args.repeats):
            console.print(f"[dim]round {round_no + 1}/{args.repeats}[/dim]")
            rows["memory"].append(per_take(args.takes, lambda i: local.take(keys[i])))
            rows["shared"].append(per_take(args.takes, lambda i: shared.take(keys[i])))
            rows["limits"].append(per_take(args.takes, lambda i: store.strategy.hit(item, keys[i])))
            rows["ping"].append(per_take(args.takes, lambda _: client.ping()))
    finally:
        store.clear()
    ping = statistics.median(rows["ping"])
    labels = {
        "memory": "token bucket in memory, per process (embedded default)",
        "shared": "shared in Redis: keyed hash + sliding window counter (cluster)",
        "limits": "`limits` alone, same strategy and storage (library floor)",
        "ping": "redis-py PING, same pool (one round trip: baseline)",
    }
    body = ratio_rows(labels, rows, ping, ".1f")
    table = markdown_table(["Take", "Median µs", "Range", "vs one round trip"], body, "lrrr")
    console.print(table)
    if args.no_write:
        return
    command = " ".join([".venv/bin/python", "bench/ratelimit.py", *sys.argv[1:]])
    shared_us, library_us = statistics.median(rows["shared"]), statistics.median(rows["limits"])
    prose = textwrap.fill(
        f"A shared limit costs a request {shared_us:.0f} µs, {shared_us / ping:.1f} times a bare "
        f"round trip to Redis ({ping:.0f} µs): the library's script call is "
        f"{library_us / ping:.1f} round trips, our keyed hash and fallback add "
        f"{shared_us - library_us:.0f} µs. On the event loop of a server process that is time "
        "no other request of that process is served, which is why the cluster keeps Redis close "
        "(same host or network), and why a Redis that does not answer is given up after 0.5 s "
        "and not asked again for 2 s.",
        width=100,
    )
    machine = machine_description(("limits", "redis"), when=started)
    replace_section(
        BENCHMARKS_MD,
        HEADING,
        f"""\
What one request's rate limit costs: {args.takes:,} takes for different residents, in memory
(each process its own buckets) and shared by every process in Redis (`HEALTHCODE_REDIS_URL`),
against one bare round trip to the same Redis and against the `limits` library alone, in the same
run (Redis on the same machine).

{machine}

Command: `{command}`: median of {args.repeats} repetitions.

{table}

{prose}
""",
    )
    console.print(f"wrote the section '{HEADING}' of {BENCHMARKS_MD.name}")


if __name__ == "__main__":
    main()
