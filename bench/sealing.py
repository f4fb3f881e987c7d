"""Benchmark: what sealing who a row is about costs on the reads a resident's requests make.

    .venv/bin/python bench/sealing.py [--people N] [--seconds S] [--repeats R] [--no-write]

Nothing that says who a row is about is stored in clear (adapters/db/sealing.py): the vault
under AES-SIV, statuses and sessions under the subject-links key, exposures and notices under
the key of their day. Each read of the real repositories is measured next to its baseline in
the same run, with repetitions interleaved:

- the raw primitives (`cryptography`): AES-SIV open of a 16-byte value, one AES block;
- the vault: `SqlVault.get` (three or four SIV opens) against the same SELECT of the same row
  with no opening (what the read cost before the vault was sealed);
- a status: `SqlStatuses.get` (one block sealed to look it up, one opened) against a SELECT by
  primary key;
- a session: `SqlSessions.get` (the subject opened) against a SELECT by primary key;
- a person's exposures: `SqlExposures.of_subject` with 14 day keys (one value per day, then
  the ids opened a day at a time) against a SELECT by the indexed column.

SQLite in a temporary directory, with N residents, each with a status, a session and exposures
over 14 days. The result replaces the section "Sealing: what nothing outliving its key costs" of
docs/BENCHMARKS.md unless `--no-write` is given.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import insert, select

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.db.health_facts import seal_exposures
from healthcode.adapters.db.repositories import from_row
from healthcode.adapters.db.tables import exposures, sessions, statuses
from healthcode.adapters.db.vault_table import vault_identities
from healthcode.bootstrap import build, initialise
from healthcode.config import Settings
from healthcode.domain.identity import DocumentType
from healthcode.services.ports import Identity, StoredExposure, StoredSession, StoredStatus
from report import BENCHMARKS_MD, machine_description, markdown_table, replace_section, utc_now

HEADING = "Sealing: what nothing outliving its key costs"
DAY = 86400
NOW = 1_795_000_000
DAYS = 14


def fixture(directory: Path, people: int, progress: Progress) -> tuple[object, list[str]]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        profile="production",
        data_dir=directory / "data",
        database_url=f"sqlite:///{directory / 'healthcode.db'}",
        key_passphrase=secrets.token_urlsafe(24),
        city="CN-BENCH",
    )
    app = build(settings, clock=FixedClock(NOW))
    initialise(app)
    ids = [secrets.token_hex(16) for _ in range(people)]
    task = progress.add_task("residents, statuses, sessions, exposures", total=people)
    with app.ctx.uow() as uow:
        for i, s in enumerate(ids):
            number = f"{i:017d}"
            key = secrets.token_bytes(32)
            phone = f"+8613{i:09d}"
            uow.vault.add(Identity(s, "张三", DocumentType.PASSPORT, number, phone, key, NOW))
            uow.sessions.add(StoredSession(f"{i:064x}", "resident", s, "resident", None, NOW, NOW))
        status = ("yellow", "default@1#close", "e0", NOW - DAY, NOW + DAY, NOW)
        uow.statuses.put_many([StoredStatus(s, *status) for s in ids])
        found = [
            StoredExposure("e" + secrets.token_hex(8), s, "k" + secrets.token_hex(8), "close",
                           "v" + "0" * 16, NOW - d * DAY - 3600, NOW - d * DAY, "c" + "1" * 16,
                           "c" + "2" * 16, None, NOW)
            for s in ids for d in range(DAYS)
        ]  # fmt: skip
        days = app.ctx.uow.seals.days  # stored as the repository stores them
        for start in range(0, len(found), 10_000):
            rows = list(seal_exposures(days, found[start : start + 10_000]))
            uow.exposures.conn.execute(insert(exposures), rows)
            progress.update(task, completed=min(people, (start + 10_000) // DAYS))
        uow.commit()
        progress.update(task, completed=people)
    return app, ids


def rate(fn: Callable[[int], object], seconds: float) -> float:
    """Operations per second of fn(i), i = 0, 1, ..., for about `seconds`."""
    n, start, deadline = 0, time.perf_counter(), time.perf_counter() + seconds
    while True:
        for _ in range(64):
            fn(n)
            n += 1
        if time.perf_counter() >= deadline:
            return n / (time.perf_counter() - start)


def rows(
    app: object, uow: Any, conn: Any, ids: list[str]
) -> list[tuple[str, str, Callable[[int], object]]]:
    """(row, its baseline's row, the operation of one person i)."""
    ctx = app.ctx  # type: ignore[attr-defined]
    pick = lambda i: ids[i % len(ids)]  # noqa: E731
    siv = AESSIV(secrets.token_bytes(64))
    data = [b"healthcode/vault/1", b"name"]
    sealed = siv.encrypt(b"0123456789abcdef", data)
    block = Cipher(algorithms.AES(secrets.token_bytes(32)), modes.ECB()).encryptor()  # noqa: S305
    sealed_of = dict(zip(ids, ctx.uow.seals.links.seal(ids), strict=True))
    values_of: dict[str, list[str]] = {s: [] for s in ids}  # each person's value per day
    for key in ctx.uow.seals.days.keys().values():
        for s, value in zip(ids, key.find(ids), strict=True):
            values_of[s].append(value)
    return [
        ("raw AES-SIV open (16 bytes)", "", lambda i: siv.decrypt(sealed, data)),
        ("raw AES block", "", lambda i: block.update(b"0123456789abcdef")),
        ("vault: same SELECT, nothing opened (before)", "",
         lambda i: conn.execute(select(vault_identities).where(
             vault_identities.c.subject_id == pick(i))).first()),
        ("vault: SqlVault.get (sealed)", "vault: same SELECT, nothing opened (before)",
         lambda i: uow.vault.get(pick(i))),
        ("status: SELECT by key (before)", "",
         lambda i: conn.execute(select(statuses).where(
             statuses.c.subject_id == sealed_of[pick(i)])).first()),
        ("status: SqlStatuses.get (sealed)", "status: SELECT by key (before)",
         lambda i: uow.statuses.get(pick(i))),
        ("session: SELECT by key (before)", "",
         lambda i: conn.execute(select(sessions).where(
             sessions.c.session_id == f"{i % len(ids):064x}")).first()),
        ("session: SqlSessions.get (sealed)", "session: SELECT by key (before)",
         lambda i: uow.sessions.get(f"{i % len(ids):064x}")),
        (f"exposures: SELECT of the {DAYS} rows, read as exposures (before)", "",
         lambda i: [from_row(StoredExposure, r) for r in conn.execute(
             select(exposures).where(exposures.c.subject_id.in_(values_of[pick(i)]))
             .order_by(exposures.c.start, exposures.c.exposure_id))]),
        (f"day keys: look at the {DAYS} keys (part of the row below)", "",
         lambda i: ctx.uow.seals.days.keys()),
        (f"exposures: SqlExposures.of_subject ({DAYS} day keys)",
         f"exposures: SELECT of the {DAYS} rows, read as exposures (before)",
         lambda i: uow.exposures.of_subject(pick(i))),
    ]  # fmt: skip


def measure(
    table: list[tuple[str, str, Callable[[int], object]]], seconds: float, repeats: int
) -> dict[str, float]:
    found: dict[str, list[float]] = {name: [] for name, _, _ in table}
    for _name, _, fn in table:  # warm-up
        rate(fn, min(seconds, 0.2))
    for _ in range(repeats):  # interleaved rounds
        for name, _, fn in table:
            found[name].append(rate(fn, seconds))
    return {name: statistics.median(r) for name, r in found.items()}


def section(
    table: list[tuple[str, str, Callable[[int], object]]],
    rates: dict[str, float],
    args: argparse.Namespace,
    machine: str,
) -> str:
    body = []
    for name, base, _ in table:
        us = 1e6 / rates[name]
        extra = f"+{us - 1e6 / rates[base]:.1f} µs" if base else "baseline"
        body.append([name, f"{rates[name]:,.0f}", f"{us:.1f}", extra])
    vault, before = (
        rates["vault: SqlVault.get (sealed)"],
        rates["vault: same SELECT, nothing opened (before)"],
    )
    command = " ".join([".venv/bin/python", "bench/sealing.py", *args.argv])
    raw_siv = 1e6 / rates["raw AES-SIV open (16 bytes)"]
    keys_row = f"day keys: look at the {DAYS} keys (part of the row below)"
    sealed_row = f"exposures: SqlExposures.of_subject ({DAYS} day keys)"
    plain_row = f"exposures: SELECT of the {DAYS} rows, read as exposures (before)"
    exposures = 1e6 / rates[sealed_row] - 1e6 / rates[plain_row]
    return f"""\
What sealing who a row is about (docs/SECURITY.md, "Nothing outlives its key") costs on the
reads a resident's requests make, each next to the same read without it, measured in the same
run with repetitions interleaved; one thread, SQLite in a temporary directory with
{args.people:,} residents, each with a status, a session and exposures on {DAYS} days.

{machine}

Command: `{command}`: median of {args.repeats} repetitions of {args.seconds:g} s per row.

{markdown_table(["Read", "per second", "µs/op", "vs the same read unsealed"], body, "lrrr")}

The vault's reads open three or four short AES-SIV values (about {raw_siv:.1f} µs each, the
raw row) after one look at the key's file: {1e6 / vault - 1e6 / before:.0f} µs in all per
identity read. A status or a session seals or opens one AES block (well under a microsecond);
what they add is mostly the look at the key's file that makes sure a key destroyed by another
process is never used (a `stat` call). A person's exposures look at every live day key once
({1e6 / rates[keys_row]:.0f} µs for {DAYS} keys: a directory scan and a `stat` each), seal the
person's value under each, then open the rows a day at a time: {exposures:.0f} µs more than the
same rows read in clear. That is the price of rows nobody can join to anything once their
day's key is gone; caching the directory listing between changes to it would take most of the
key looks away, and is left to the speed work.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    args.argv = argv if argv is not None else sys.argv[1:]
    console = Console()
    with tempfile.TemporaryDirectory() as tmp, Progress(console=console) as progress:
        app, ids = fixture(Path(tmp), args.people, progress)
        ctx = app.ctx  # type: ignore[attr-defined]
        with ctx.uow(read_only=True) as uow, app.engine.connect() as conn:  # type: ignore[attr-defined]
            table = rows(app, uow, conn, ids)
            task = progress.add_task("measuring", total=None)
            rates = measure(table, args.seconds, args.repeats)
            progress.update(task, completed=1, total=1)
    machine = machine_description(("cryptography", "sqlalchemy"), when=utc_now())
    text_out = section(table, rates, args, machine)
    console.print(text_out)
    if not args.no_write:
        replace_section(BENCHMARKS_MD, HEADING, text_out)
        console.print("updated docs/BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
