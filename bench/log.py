"""Benchmark: the log's sequencer, against the bare driver writing the same rows.

    .venv/bin/python bench/log.py [--entries N] [--repeats R]
                                  [--postgres URL | --postgres off] [--no-write]

`--entries` entries (default 50,000) of the kinds a busy day writes (status changes, uploads,
reads of records) are queued by writers (not timed), then the sequencer (`sequence()`: batches of
5,000 per transaction, under the log's lock) numbers them, writes each with its leaf hash and the
Merkle subtree hashes it completes, signs checkpoints every 64 entries and empties the queue:
entries per second. Baseline, in the same run: the bare driver (sqlite3 `executemany`, psycopg
`COPY`) writing the same entry rows and hash rows, computed beforehand, into bare tables with the
same keys, in one transaction. Also measured: N writers queuing their entries side by side
(PostgreSQL), entries per second committed.

The result replaces the section "Log: the sequencer" of docs/BENCHMARKS.md unless `--no-write`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from sqlalchemy.engine import make_url

from healthcode.domain import merkle
from healthcode.domain.audit import SYSTEM, Actor, LogEntry, canonical_entry
from ingest import DEFAULT_PG, make_app, new_database, versions
from report import BENCHMARKS_MD, machine_description, markdown_table, replace_section, utc_now

HEADING = "Log: the sequencer"
TARGET = 20_000  # entries/s integrated (from the issue)


def entries(count: int) -> list[LogEntry]:
    made = []
    for i in range(count):
        if i % 3 == 0:
            details: dict[str, str | int] = {
                "from": "green", "to": "yellow", "rule": "default@1#sympt", "evidence": 1,
                "reason": "symptoms",
            }  # fmt: skip
            made.append(LogEntry("status.changed", SYSTEM, "subject", f"c:{i:032x}",
                                 "colour_derivation", "published_rules",
                                 details=details))  # fmt: skip
        elif i % 3 == 1:
            counts: dict[str, str | int] = {"accepted": 1000, "duplicates": 0, "rejected": 0}
            made.append(LogEntry("checkins.uploaded", Actor("venue_device", f"d{i:016x}"),
                                 "venue", f"v{i:016x}", "contact_tracing", "act",
                                 details=counts))  # fmt: skip
        else:
            read: dict[str, str | int] = {"action": "case.trace", "case": f"k{i:016x}"}
            made.append(LogEntry("personal_data.read", Actor("tracer", f"s{i:016x}"),
                                 "subject", f"c:{i:032x}", "case_investigation", "act",
                                 details=read))  # fmt: skip
    return made


def queue(app: Any, made: list[LogEntry], now: int) -> None:
    for start in range(0, len(made), 5000):
        with app.ctx.uow() as uow:
            uow.log.append_many(made[start : start + 5000], now)
            uow.commit()


def ours(kind: str, directory: Path, admin_url: str | None, made: list[LogEntry]) -> float:
    db = new_database(kind, directory, admin_url)
    app = make_app(directory / f"app-{db.name}", db.url)
    try:
        app.ctx.uow.queue_entries = True  # SQLite too: the sequencer is what is measured
        app.ctx.uow.sequence_after_commit = False
        now = int(time.time())
        queue(app, made, now)
        start = time.perf_counter()
        done = app.ctx.uow.sequence()
        elapsed = time.perf_counter() - start
        if done != len(made):
            raise SystemExit(f"sequenced {done} of {len(made)}")
        return len(made) / elapsed
    finally:
        app.close()
        db.drop()


Rows = list[tuple[Any, ...]]


def final_rows(made: list[LogEntry], now: int) -> tuple[Rows, Rows]:
    rows, hashes = [], {}

    def read(level: int, idx: int) -> bytes:
        return hashes[(level, idx)]

    for seq, entry in enumerate(made):
        text = canonical_entry(entry, seq, now)
        leaf = merkle.leaf_hash(text.encode())
        for level, idx, h in merkle.hashes_to_store(seq, leaf, read):
            hashes[(level, idx)] = h
        rows.append((seq, now, text, leaf, None))
    # As the sequencer stores them: a leaf's hash in its entry's row, the levels above apart.
    return rows, [(lv, ix, h) for (lv, ix), h in hashes.items() if lv]


BARE = [
    "CREATE TABLE bare_entries (seq BIGINT PRIMARY KEY, time BIGINT NOT NULL, entry TEXT NOT NULL,"
    " leaf_hash {blob} NOT NULL, subject_ref VARCHAR(40))",
    "CREATE INDEX ix_bare_entries_subject ON bare_entries (subject_ref)",
    "CREATE TABLE bare_hashes (level SMALLINT, idx BIGINT, hash {blob} NOT NULL,"
    " PRIMARY KEY (level, idx))",
]


def bare(kind: str, directory: Path, admin_url: str | None, made: list[LogEntry]) -> float:
    rows, hashes = final_rows(made, int(time.time()))
    db = new_database(kind, directory, admin_url)
    try:
        if kind == "SQLite":
            conn = sqlite3.connect(make_url(db.url).database or "", isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            for statement in BARE:
                conn.execute(statement.format(blob="BLOB"))
            start = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO bare_entries VALUES (?, ?, ?, ?, ?)", rows)
            conn.executemany("INSERT INTO bare_hashes VALUES (?, ?, ?)", hashes)
            conn.execute("COMMIT")
            elapsed = time.perf_counter() - start
            conn.close()
            return len(made) / elapsed
        import psycopg

        info = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(info) as conn:
            for statement in BARE:
                conn.execute(statement.format(blob="BYTEA"))
            conn.commit()
            start = time.perf_counter()
            with conn.cursor() as cur:
                with cur.copy("COPY bare_entries FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                with cur.copy("COPY bare_hashes FROM STDIN") as copy:
                    for row in hashes:
                        copy.write_row(row)
            conn.commit()
            return len(made) / (time.perf_counter() - start)
    finally:
        db.drop()


def side_by_side(directory: Path, admin_url: str, writers: int, each: int) -> float:
    """`writers` threads, each committing `each` transactions of one queued entry."""
    db = new_database("PostgreSQL", directory, admin_url)
    app = make_app(directory / f"app-{db.name}", db.url)
    try:
        app.ctx.uow.sequence_after_commit = False
        entry = entries(1)[0]

        def write() -> None:
            for _ in range(each):
                with app.ctx.uow() as uow:
                    uow.log.append(entry, int(time.time()))
                    uow.commit()

        threads = [threading.Thread(target=write) for _ in range(writers)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return writers * each / (time.perf_counter() - start)
    finally:
        app.close()
        db.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("HEALTHCODE_BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    console = Console(width=160)
    admin_url = None if args.postgres == "off" else args.postgres
    kinds = ["SQLite"] + (["PostgreSQL"] if admin_url else [])
    started = utc_now()
    made = entries(args.entries)
    results: dict[str, dict[str, list[float]]] = {k: {"ours": [], "bare": []} for k in kinds}
    writers: list[float] = []
    with tempfile.TemporaryDirectory(prefix="hc-log-") as tmp, Progress(console=console) as bar:
        task = bar.add_task("sequencing", total=args.repeats * len(kinds) * 2)
        for _ in range(args.repeats):
            for kind in kinds:
                directory = Path(tmp) / kind
                directory.mkdir(exist_ok=True)
                results[kind]["ours"].append(ours(kind, directory, admin_url, made))
                bar.advance(task)
                results[kind]["bare"].append(bare(kind, directory, admin_url, made))
                bar.advance(task)
            if admin_url:
                writers.append(side_by_side(Path(tmp) / "PostgreSQL", admin_url, 8, 250))
    header = ["Row", "Median entries/s", "Range", "vs bare driver", "Target", "Result"]
    body = []
    for kind in kinds:
        mine, floor = results[kind]["ours"], results[kind]["bare"]
        rate = statistics.median(mine)
        body.append([f"sequencer, {kind}", f"{rate:,.0f}", f"{min(mine):,.0f}–{max(mine):,.0f}",
                     f"{rate / statistics.median(floor):.0%}", f"≥ {TARGET:,}/s",
                     "PASS" if rate >= TARGET else "FAIL"])  # fmt: skip
        driver = "sqlite3 executemany" if kind == "SQLite" else "psycopg COPY"
        body.append([f"bare {driver}, same rows, {kind}", f"{statistics.median(floor):,.0f}",
                     f"{min(floor):,.0f}–{max(floor):,.0f}", "baseline", "—", "—"])  # fmt: skip
    if writers:
        body.append(["8 writers queuing side by side (one entry per transaction), PostgreSQL",
                     f"{statistics.median(writers):,.0f}",
                     f"{min(writers):,.0f}–{max(writers):,.0f}", "", "informative",
                     "—"])  # fmt: skip
    table = markdown_table(header, body, "lrrrll")
    console.print(table)
    if args.no_write:
        return
    command = " ".join([".venv/bin/python", "bench/log.py", *sys.argv[1:]])
    machine = machine_description(when=started) + "\n" + versions(admin_url)
    replace_section(
        BENCHMARKS_MD,
        HEADING,
        f"""\
The log's sequencer (adapters/db/log_store.py: `integrate`, run by `sequence()`): {args.entries:,}
queued entries numbered, written with their Merkle hashes (a leaf's in its entry's row, the
subtrees above it in `log_hashes`) and checkpoints every 64 entries, and deleted from the queue,
in batches of 5,000 per transaction, against the bare driver writing the same entry and hash rows
(computed beforehand) into bare tables with the same keys, in the same run. Writers queue their
entries without the log's lock; the last row shows 8 of them committing side by side on
PostgreSQL.

{machine}

Command: `{command}`: median of {args.repeats} repetitions.

{table}
""",
    )
    console.print(f"wrote the section '{HEADING}' of {BENCHMARKS_MD.name}")


if __name__ == "__main__":
    main()
