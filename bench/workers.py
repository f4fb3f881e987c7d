"""Benchmark: colour work by worker processes, one and two, on PostgreSQL.

    .venv/bin/python bench/workers.py [--contacts N] [--repeats R] [--postgres URL] [--no-write]

A case and `--contacts` people (default 3,000) who met them at one venue; the case is traced
(`trace_case`, depth 1, `settle=False`), which queues one piece of colour work per contact. Then
the queue is emptied, timed from the trace's commit to the last piece done:
- in this process, `status_queue.settle` (baseline: no process to start, one settler);
- by one `healthcode worker` process, and by two side by side (each `--poll 0.05`, started and
  ready before the trace, stopped with SIGTERM after).
People settled per second, median of `--repeats` repetitions, each on a fresh database. On two
cores the workers share them with PostgreSQL and this process. The result replaces the section
"Colour work: worker processes" of docs/BENCHMARKS.md unless `--no-write` is given.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from healthcode.bootstrap import App, build, initialise
from healthcode.domain.audit import Actor
from healthcode.domain.cases import Case
from healthcode.domain.checkins import CheckIn, CheckInSource
from healthcode.services import enrolment, status_queue, trace
from ingest import CITY, DEFAULT_PG, new_database, settings_for, versions
from report import (
    BENCHMARKS_MD,
    machine_description,
    markdown_table,
    ratio_rows,
    replace_section,
    utc_now,
)

HEADING = "Colour work: worker processes"
TRACER = Actor("tracer", "bench")
DAY = 86400


def city(directory: Path, admin_url: str, contacts: int) -> tuple[App, str, str]:
    db = new_database("PostgreSQL", directory, admin_url)
    app = build(settings_for(directory, db.url))
    initialise(app)
    now = app.ctx.clock.now()
    people = [
        enrolment.enrol_resident(
            app.ctx, enrolment.EnrolResident("张三", "passport", f"E{n:07d}", f"138{n:08d}")
        ).subject_id
        for n in range(contacts + 1)
    ]
    with app.ctx.uow() as uow:
        for i, who in enumerate(people):
            start = now - 5 * 3600 + i % 600
            uow.checkins.add(CheckIn("vmarket", f"c{i:06d}", who, start, start + 3 * 3600,
                                     CheckInSource.PLACE_SCAN, start + 3600))  # fmt: skip
        uow.cases.add_case(Case("kone", people[0], "LAB/x", now - 2 * DAY, now, now))
        uow.commit()
    return app, "kone", db.url


def worker(directory: Path, url: str) -> subprocess.Popen[str]:
    env = {**os.environ, **{k: str(v) for k, v in server_env(directory, url).items()}}
    command = [str(Path(sys.executable).parent / "healthcode"), "worker", "--poll", "0.05"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)  # noqa: S603
    assert process.stdout is not None
    process.stdout.readline()  # "colour worker ready"
    return process


def server_env(directory: Path, url: str) -> dict[str, str]:
    return {
        "HEALTHCODE_PROFILE": "dev",
        "HEALTHCODE_DATA_DIR": str(directory / "data"),
        "HEALTHCODE_DATABASE_URL": url,
        "HEALTHCODE_CITY": CITY,
    }


def run(kind: str, admin_url: str, contacts: int, console: Console) -> float:
    with tempfile.TemporaryDirectory(prefix="hc-workers-") as tmp:
        directory = Path(tmp)
        app, case_id, url = city(directory, admin_url, contacts)
        try:
            processes = [worker(directory, url) for _ in range({"one": 1, "two": 2}.get(kind, 0))]
            try:
                t0 = time.perf_counter()
                trace.trace_case(app.ctx, case_id, TRACER, depth=1, settle=False)
                if not processes:
                    status_queue.settle(app.ctx)
                while status_queue.state(app.ctx).pending:
                    time.sleep(0.02)
                seconds = time.perf_counter() - t0
            finally:
                for process in processes:
                    process.send_signal(signal.SIGTERM)
                    process.communicate(timeout=60)
        finally:
            app.close()
    console.print(f"[dim]{kind}: {contacts / seconds:,.0f} people/s[/dim]")
    return contacts / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("HEALTHCODE_BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    console = Console()
    started = utc_now()
    rates: dict[str, list[float]] = {"this process": [], "one": [], "two": []}
    for _ in range(args.repeats):
        for kind in rates:
            rates[kind].append(run(kind, args.postgres, args.contacts, console))
    base = statistics.median(rates["this process"])
    labels = {
        "this process": "`status_queue.settle` in this process (baseline)",
        "one": "one `healthcode worker`",
        "two": "two `healthcode worker` side by side",
    }
    body = ratio_rows(labels, rates, base)
    table = markdown_table(["Colour work by", "People/s", "Range", "vs baseline"], body, "lrrr")
    console.print(table)
    if args.no_write:
        return
    command = " ".join([".venv/bin/python", "bench/workers.py", *sys.argv[1:]])
    machine = machine_description(("sqlalchemy", "psycopg"), when=started)
    replace_section(
        BENCHMARKS_MD,
        HEADING,
        f"""\
An outbreak's colour work emptied from the queue: a case with {args.contacts:,} contacts at one
venue, traced (`trace_case`, depth 1, `settle=False`), then every contact's colour re-derived,
stored and logged and their notice sent, timed from the trace's commit to the last piece done:
in this process (baseline), by one `healthcode worker` process, and by two side by side,
PostgreSQL, each run on a fresh database.

{machine}
{versions(args.postgres)}

Command: `{command}`: median of {args.repeats} repetitions.

{table}

On two cores the workers share them with PostgreSQL and this process, so a second worker adds
what the cores have left; on a cluster each worker has its own cores, and the queue splits
between them as they go (`FOR UPDATE SKIP LOCKED`).
""",
    )
    console.print(f"wrote the section '{HEADING}' of {BENCHMARKS_MD.name}")


if __name__ == "__main__":
    main()
