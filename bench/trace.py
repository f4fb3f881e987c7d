"""Benchmark: tracing cases in a synthetic city, against brute-force numpy on the same data.

    .venv/bin/python bench/trace.py [--checkins N | --quick] [--sample S] [--batch B]
                                    [--postgres URL | --postgres off] [--no-write]

A synthetic city (seeded numpy): one resident per 10 check-ins, one venue per 500, 14 days of
visits ending now; Zipf-like venue popularity (weight 1/rank^0.8), residents of lognormal
activity, visits by day and time of day with a stay typical of the venue type (about 60 % with a
check-out, the rest closing at the type's maximum dwell). It is written with `import_checkins`
(in chunks of 1,000,000: setup, not measured; residents and venues straight into their
tables). Positive lab results for residents who were out in the last three days are imported
with `import_results`, which opens their cases (infectious window: two days before the sample
until now).

Measured, on SQLite and PostgreSQL:

- latency of `trace_case(ctx, case_id, actor, depth=1, settle=False)` over `--sample` cases
  (p50, p95, p99): the tracer's answer, as the API and the tracer's page give it: the real
  service with its transaction, its queries, its log entries, the exposures it stores and the
  colour work it queues;
- the colour work that follows each answer (`status_queue.settle` for that case's contacts:
  derive, store and log their colours, send their notices), timed on its own;
- the time to trace `--batch` other cases in one batch (`trace_outbreak`, depth 1): until every
  contact is found and stored and the batch's log entries are sequenced, and until the batch's
  colour work is done (left out with `--no-batch-colours`: over an hour on PostgreSQL at
  10,000,000 check-ins);
- the baseline, in the same run and interleaved case by case: brute-force numpy over arrays
  (venue, subject, start, end) of the same check-ins in memory: for each case, a boolean mask
  over all check-ins finds its visits in the window; for each visit, a boolean mask over all
  check-ins finds who overlapped at that venue by at least the minimum overlap, with the case's
  stay extended for airborne spread (the rules of domain/tracing.py). Informative: the same
  numpy work on check-ins pre-grouped by subject and by venue (sorted once, outside the timing).

Every traced case's close contacts are compared with the numpy reference; any difference is
reported. `--checkins` defaults to 10,000,000; `--quick` is 1,000,000. The result replaces the
section "Tracing: cases in a synthetic city" of docs/BENCHMARKS.md unless `--no-write` is given.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gc
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.contact_archive import DuckArchive
from healthcode.adapters.db.tables import subjects, venues
from healthcode.bootstrap import App, build, initialise
from healthcode.domain.access import Role
from healthcode.domain.accounts import Principal, PrincipalKind
from healthcode.domain.audit import Actor
from healthcode.domain.checkins import HOUR, MAX_DWELL_SECONDS
from healthcode.domain.identity import DocumentType, mod11_2_check_char
from healthcode.domain.venues import VenueType
from healthcode.services import lab_registry, labs, staff, status_queue, trace, trace_search
from healthcode.services.checkin_import import CheckInRow, import_checkins
from healthcode.services.ports import Identity
from ingest import DEFAULT_PG, Database, new_database, settings_for, versions
from report import (
    BENCHMARKS_MD,
    machine_description,
    markdown_table,
    profile_shares,
    replace_section,
    utc_now,
)

HEADING = "Tracing: cases in a synthetic city"
DAY = 86400
DAYS = 14
QUICK = 1_000_000
P50_TARGET_MS = 50.0
RATIO_TARGET = 3.0  # ours / numpy brute force, p50
BATCH_RATIO_TARGET = 10.0  # a batch of cases, ours / numpy brute force (moonshot: 3×)
ZIPF = 0.8
IMPORT_CHUNK = 1_000_000
PROFILED = 20  # cases traced under cProfile (not in the sample nor the batch)
TRACER = Actor("tracer", "bench")
T = VenueType
# Venue types of the city: (share of venues, typical stay in minutes, busiest hour of arrival).
CITY_TYPES: dict[VenueType, tuple[float, float, float]] = {
    T.RESTAURANT: (0.22, 55, 15.0), T.SHOP: (0.20, 25, 15.0), T.SUPERMARKET: (0.05, 35, 16.0),
    T.MARKET: (0.03, 40, 9.0), T.OFFICE: (0.10, 300, 9.0), T.FACTORY: (0.02, 420, 8.0),
    T.SCHOOL: (0.03, 360, 8.0), T.HOSPITAL: (0.01, 120, 10.0), T.CLINIC: (0.03, 60, 10.0),
    T.PHARMACY: (0.04, 12, 14.0), T.TRANSPORT: (0.04, 35, 12.0), T.HOTEL: (0.02, 90, 18.0),
    T.WORSHIP: (0.02, 70, 10.0), T.ENTERTAINMENT: (0.05, 120, 19.0), T.GYM: (0.04, 75, 18.0),
    T.GOVERNMENT: (0.03, 45, 10.0), T.OTHER: (0.07, 45, 14.0),
}  # fmt: skip


# --- The city ------------------------------------------------------------------------------------


def bench_lab(app: App) -> Principal:
    """BENCHLAB, registered as every lab is: its own key, asked for by one of the city's two
    founding admins and approved by the other."""
    made = [
        staff.bootstrap_staff(app.ctx, f"bench.admin{i}", "authority_admin", "bench password 1")
        for i in (1, 2)
    ]
    first, second = (
        Principal(PrincipalKind.STAFF, m.account.staff_id, Role.AUTHORITY_ADMIN) for m in made
    )
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    asked = lab_registry.request_lab(
        app.ctx, first, "BENCHLAB", "Bench lab", base64.b64encode(public).decode()
    )
    return labs.lab_principal(lab_registry.approve_lab(app.ctx, second, asked.lab_id))


@dataclass
class City:
    now: int
    subject_ids: list[str]
    venue_ids: list[str]
    venue_types: list[VenueType]
    venue: np.ndarray  # int32 index into venue_ids, per check-in
    subject: np.ndarray  # int32 index into subject_ids
    start: np.ndarray  # int64 epoch seconds
    time_out: np.ndarray  # int64, -1 where there is no check-out
    end: np.ndarray  # int64: the check-out, or the automatic close

    @property
    def size(self) -> int:
        return len(self.venue)


CITY_HOUR = 20  # the city's clock stands at 20:00 UTC of the day before the run


def city_clock(wall: int) -> int:
    """The instant the city is made for and traced at: the same time of day in every run, so
    that a seed makes the same city whenever it runs. (At the wall clock's own time, a run just
    after midnight squeezed the whole last day's visits into its first hour, and its busiest
    case had half as many contacts again as one run in the afternoon.)"""
    return (wall // DAY - 1) * DAY + CITY_HOUR * HOUR


def make_city(checkins: int, now: int, seed: int) -> City:
    rng = np.random.default_rng(seed)
    residents = max(100, checkins // 10)
    places = max(50, checkins // 500)
    kinds = list(CITY_TYPES)
    shares = np.array([CITY_TYPES[k][0] for k in kinds])
    kind_of = rng.choice(len(kinds), size=places, p=shares / shares.sum())
    popularity = 1.0 / rng.permutation(np.arange(1, places + 1)) ** ZIPF
    venue = rng.choice(places, size=checkins, p=popularity / popularity.sum()).astype(np.int32)
    activity = rng.lognormal(0.0, 0.6, size=residents)
    subject = rng.choice(residents, size=checkins, p=activity / activity.sum()).astype(np.int32)
    kind = kind_of[venue]
    stay_min = np.array([CITY_TYPES[k][1] for k in kinds])[kind]
    peak = np.array([CITY_TYPES[k][2] for k in kinds])[kind]
    longest = np.array([MAX_DWELL_SECONDS[k] for k in kinds])[kind]
    hour = np.clip(rng.normal(peak, 2.5), 6.0, 23.0)
    day = rng.integers(0, DAYS, size=checkins)
    midnight = (now // DAY - DAYS + 1) * DAY  # 14 local days (UTC) ending today
    start = (midnight + day * DAY + (hour * HOUR).astype(np.int64)).astype(np.int64)
    start = np.minimum(start, now - 60 - rng.integers(0, HOUR, size=checkins))
    stay = np.clip(rng.lognormal(np.log(stay_min * 60), 0.4), 300, longest).astype(np.int64)
    checked_out = rng.random(checkins) < 0.6
    time_out = np.where(checked_out, np.minimum(start + stay, now), -1).astype(np.int64)
    time_out = np.where(checked_out & (time_out < start), start, time_out)
    end = np.where(checked_out, time_out, start + longest).astype(np.int64)
    return City(
        now,
        [secrets.token_hex(16) for _ in range(residents)],
        ["v" + secrets.token_hex(8) for _ in range(places)],
        [kinds[k] for k in kind_of],
        venue,
        subject,
        start,
        time_out,
        end,
    )


def prc_id(number: int) -> str:
    born = dt.date(1950, 1, 1) + dt.timedelta(days=number % 20000)
    body = f"110105{born:%Y%m%d}{100 + number // 20000:03d}"
    return body + mod11_2_check_char(body)


def pick_cases(city: City, count: int, seed: int) -> list[int]:
    """Residents who checked in somewhere in the last three days (so their window has visits)."""
    rng = np.random.default_rng(seed + 1)
    recent = np.unique(city.subject[city.end > city.now - 3 * DAY])
    if len(recent) < count:
        raise SystemExit(f"only {len(recent)} residents went out lately; ask for fewer cases")
    return [int(s) for s in rng.choice(recent, size=count, replace=False)]


# --- Writing the city ----------------------------------------------------------------------------


def write_city(app: App, city: City, cases: list[int], console: Console) -> tuple[list[str], float]:
    """Residents and venues straight into their tables, the future cases' identities through
    the vault repository; check-ins with import_checkins; positives with import_results.
    Returns the opened case ids (in the order of `cases`) and the seconds the import took."""
    now = city.now
    with app.engine.begin() as conn:
        for start in range(0, len(city.subject_ids), 100_000):
            conn.execute(
                insert(subjects),
                [
                    {"subject_id": s, "kind": "resident", "created_at": now - 30 * DAY}
                    for s in city.subject_ids[start : start + 100_000]
                ],
            )
        conn.execute(
            insert(venues),
            [
                {
                    "venue_id": v,
                    "name_zh": None,
                    "name_en": f"Venue {i}",
                    "address": f"{i} City Road",
                    "district": "Bench",
                    "venue_type": k.value,
                    "operator": app.ctx.uow.seals.seal_text("venue_operator", v, "City Ltd"),  # type: ignore[attr-defined]
                    "created_at": now - 30 * DAY,
                }
                for i, (v, k) in enumerate(zip(city.venue_ids, city.venue_types, strict=True))
            ],
        )
    with app.ctx.uow() as uow:  # the future cases' identities, through the vault repository
        for n, s in enumerate(cases):
            uow.vault.add(
                Identity(
                    city.subject_ids[s],
                    "张三",
                    DocumentType.PRC_ID,
                    prc_id(n),
                    None,
                    secrets.token_bytes(32),
                    now - 30 * DAY,
                )
            )
        uow.commit()
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("importing check-ins", total=city.size)
        for lo in range(0, city.size, IMPORT_CHUNK):
            hi = min(city.size, lo + IMPORT_CHUNK)
            rows = [
                CheckInRow(app_venue, app_subject, s, o if o >= 0 else None)
                for app_venue, app_subject, s, o in zip(
                    [city.venue_ids[v] for v in city.venue[lo:hi].tolist()],
                    [city.subject_ids[s] for s in city.subject[lo:hi].tolist()],
                    city.start[lo:hi].tolist(),
                    city.time_out[lo:hi].tolist(),
                    strict=True,
                )
            ]
            import_checkins(app.ctx, rows, Actor("authority_admin", "bench"))
            progress.advance(task, hi - lo)
    seconds = time.perf_counter() - started
    rows_in = [
        labs.LabRow(
            n + 2,
            f"B-{n:07d}",
            "prc_id",
            prc_id(n),
            str(now - DAY - (n % 12) * HOUR),
            "positive",
            "BENCHLAB",
        )
        for n in range(len(cases))
    ]
    opened = labs.import_results(app.ctx, rows_in, bench_lab(app)).cases_opened
    by_subject = {}
    with app.ctx.uow(read_only=True) as uow:
        for case_id in opened:
            case = uow.cases.get_case(case_id)
            assert case is not None
            by_subject[case.subject_id] = case_id
    return [by_subject[city.subject_ids[s]] for s in cases], seconds


# --- The numpy reference -------------------------------------------------------------------------


@dataclass
class Reference:
    """Brute force over all check-ins, and the same with check-ins grouped (informative)."""

    city: City
    min_overlap: int
    extension: int
    by_subject: np.ndarray = field(init=False)
    subject_edges: np.ndarray = field(init=False)
    by_venue: np.ndarray = field(init=False)
    venue_edges: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        c = self.city
        self.by_subject = np.argsort(c.subject, kind="stable")
        self.subject_edges = np.searchsorted(
            c.subject[self.by_subject], np.arange(len(c.subject_ids) + 1)
        )
        self.by_venue = np.argsort(c.venue, kind="stable")
        self.venue_edges = np.searchsorted(c.venue[self.by_venue], np.arange(len(c.venue_ids) + 1))

    def _contacts(
        self, person: int, window: tuple[int, int], visits: np.ndarray, at: Callable[[int], Any]
    ) -> set[int]:
        c, lo, hi = self.city, window[0], window[1]
        need = max(self.min_overlap, 1)
        found: set[int] = set()
        for i in visits.tolist():
            s, e = max(int(c.start[i]), lo), min(int(c.end[i]), hi)
            if e <= s:
                continue
            others = at(int(c.venue[i]))
            overlap = np.minimum(e + self.extension, c.end[others]) - np.maximum(s, c.start[others])
            hit = others[(overlap >= need) & (c.subject[others] != person)]
            found.update(c.subject[hit].tolist())
        return found

    def brute(self, person: int, window: tuple[int, int]) -> set[int]:
        c = self.city
        mine = np.flatnonzero((c.subject == person) & (c.start < window[1]) & (c.end > window[0]))
        return self._contacts(person, window, mine, lambda v: np.flatnonzero(c.venue == v))

    def grouped(self, person: int, window: tuple[int, int]) -> set[int]:
        c = self.city
        mine = self.by_subject[self.subject_edges[person] : self.subject_edges[person + 1]]
        mine = mine[(c.start[mine] < window[1]) & (c.end[mine] > window[0])]
        return self._contacts(
            person,
            window,
            mine,
            lambda v: self.by_venue[self.venue_edges[v] : self.venue_edges[v + 1]],
        )


# --- Measuring -----------------------------------------------------------------------------------


@dataclass
class Result:
    kind: str
    checkins: int
    import_seconds: float
    ours_ms: list[float] = field(default_factory=list)
    settle_ms: list[float] = field(default_factory=list)
    search_ms: list[float] = field(default_factory=list)
    brute_ms: list[float] = field(default_factory=list)
    grouped_ms: list[float] = field(default_factory=list)
    contacts: list[int] = field(default_factory=list)
    mismatches: int = 0
    batch_cases: int = 0
    batch_seconds: float = 0.0
    batch_settle_seconds: float | None = 0.0  # None: the batch's colour work not run
    batch_brute_seconds: float = 0.0
    export_seconds: float = 0.0  # the contact archive written (closed days), once
    archived_days: int = 0
    search_db_seconds: float = 0.0  # the batch's contact search from the database
    search_archive_seconds: float = 0.0  # ... from the archive (DuckDB) and the database
    archive_mismatches: int = -1  # cases whose contacts differ (database, archive, numpy)
    profile: list[tuple[str, float]] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)
    database_mb: float = 0.0


def search_only(app: App, case_id: str) -> set[str]:
    """The search inside trace_case alone (its own functions, read-only): the case's visits in
    its window, then who overlapped them; nothing stored, nothing logged."""
    rules = trace.rules_of(app.ctx)
    with app.ctx.uow(read_only=True) as uow:
        case = uow.cases.get_case(case_id)
        assert case is not None
        reader = trace_search.SqlVisits(uow.checkins)
        (found,) = trace_search.search(reader, [case], rules, app.ctx.clock.now(), 1)
        return set(found.close)


def _reference(
    app: App, city: City, case_ids: list[str]
) -> tuple[Reference, dict[str, tuple[int, int]], dict[str, int]]:
    """numpy's reference on the city, each case's infectious window, each subject's index."""
    policy = app.ctx.policy
    ref = Reference(city, policy.trace_min_overlap_seconds, policy.trace_extension_seconds)
    windows: dict[str, tuple[int, int]] = {}
    with app.ctx.uow(read_only=True) as uow:
        for case_id in case_ids:
            case = uow.cases.get_case(case_id)
            assert case is not None
            windows[case_id] = (case.window_start, case.window_end)
    return ref, windows, {s: i for i, s in enumerate(city.subject_ids)}


def measure(
    kind: str,
    app: App,
    city: City,
    case_ids: list[str],
    cases: list[int],
    sample: int,
    import_seconds: float,
    console: Console,
    batch_colours: bool = True,
) -> Result:
    ref, windows, index = _reference(app, city, case_ids)
    result = Result(kind, city.size, import_seconds)
    console.print(f"{kind}: tracing {sample} cases one by one, numpy alongside")
    for case_id, person in zip(case_ids[:sample], cases[:sample], strict=True):
        gc.collect()
        t0 = time.perf_counter()
        traced = trace.trace_case(app.ctx, case_id, TRACER, depth=1, settle=False)
        answered = time.perf_counter()
        status_queue.settle(app.ctx, [c.subject_id for c in traced.close])
        t1 = time.perf_counter()
        result.settle_ms.append((t1 - answered) * 1000)
        searched = search_only(app, case_id)
        t2 = time.perf_counter()
        expected = ref.brute(person, windows[case_id])
        t3 = time.perf_counter()
        grouped = ref.grouped(person, windows[case_id])
        t4 = time.perf_counter()
        # The tracer's answer alone: until trace_case returned (the colour work is its own row).
        result.ours_ms.append((answered - t0) * 1000)
        result.search_ms.append((t2 - t1) * 1000)
        result.brute_ms.append((t3 - t2) * 1000)
        result.grouped_ms.append((t4 - t3) * 1000)
        ours = {index[c.subject_id] for c in traced.close}
        result.contacts.append(len(ours))
        if ours != expected or grouped != expected or {index[s] for s in searched} != expected:
            result.mismatches += 1
    profiled = case_ids[sample : sample + PROFILED]
    console.print(f"{kind}: profiling the tracing of {len(profiled)} other cases")
    result.profile = profile_traces(app, profiled)
    batch = case_ids[sample + PROFILED :]
    if batch:
        console.print(f"{kind}: the batch's contact search, database against archive")
        batch_people = cases[sample + PROFILED :]
        wanted = [ref.brute(p, windows[c]) for c, p in zip(batch, batch_people, strict=True)]
        search_archive(app, result, batch, wanted, index)
        console.print(f"{kind}: tracing {len(batch)} cases in one batch")
        gc.collect()
        t0 = time.perf_counter()
        report = trace.trace_outbreak(app.ctx, batch, TRACER, depth=1, settle=False)
        app.ctx.uow.sequence()  # the batch's log entries too (the sequencer thread's share)
        result.batch_seconds = time.perf_counter() - t0
        result.batch_cases = report.cases
        if batch_colours:
            t0 = time.perf_counter()
            status_queue.settle(app.ctx)
            result.batch_settle_seconds = time.perf_counter() - t0
        else:
            result.batch_settle_seconds = None
        t0 = time.perf_counter()
        for case_id, person in zip(batch, cases[sample + PROFILED :], strict=True):
            ref.brute(person, windows[case_id])
        result.batch_brute_seconds = time.perf_counter() - t0
    result.plans = query_plans(app)
    return result


SEARCH_HEADING = "Tracing: the batch's contact search at scale"


def search_measure(
    kind: str,
    app: App,
    city: City,
    case_ids: list[str],
    cases: list[int],
    import_seconds: float,
    console: Console,
) -> Result:
    """--search-only: every picked case's contacts (--sample + 20 + --batch of them) searched
    in one batch from the database and from the contact archive, against numpy brute force on
    the same cases."""
    ref, windows, index = _reference(app, city, case_ids)
    result = Result(kind, city.size, import_seconds)
    console.print(f"{kind}: the contact search of {len(case_ids)} cases, database and archive")
    wanted = [ref.brute(p, windows[c]) for c, p in zip(case_ids, cases, strict=True)]
    search_archive(app, result, case_ids, wanted, index)
    gc.collect()
    t0 = time.perf_counter()
    for case_id, person in zip(case_ids, cases, strict=True):
        ref.brute(person, windows[case_id])
    result.batch_brute_seconds = time.perf_counter() - t0
    result.batch_cases = len(case_ids)
    result.contacts = [len(w) for w in wanted]
    return result


def search_section(
    results: list[Result], args: argparse.Namespace, machine: str, load: tuple[float, float]
) -> str:
    rows = [
        [r.kind, f"{r.batch_cases:,}", str(r.archived_days), f"{r.export_seconds:.1f}",
         f"{r.search_db_seconds:.2f}", f"{r.search_archive_seconds:.2f}",
         f"{r.batch_brute_seconds:.2f}", f"{r.search_db_seconds / r.batch_brute_seconds:.2f}×",
         f"{r.search_archive_seconds / r.batch_brute_seconds:.2f}×", str(r.archive_mismatches)]
        for r in results
    ]  # fmt: skip
    table = markdown_table(
        ["Database", "Cases", "Days archived", "Archive written s", "Search, database s",
         "Search, archive s", "numpy s", "database / numpy", "archive / numpy",
         "Contacts differ"],
        rows, "lrrrrrrrrr",
    )  # fmt: skip
    sizes = "; ".join(
        f"{r.kind} {r.database_mb / 1000:.1f} GB written by import_checkins in "
        f"{r.import_seconds:.0f} s ({r.checkins / r.import_seconds:,.0f} check-ins/s)"
        for r in results
    )
    contacts = "; ".join(
        f"{r.kind} {statistics.median(r.contacts):,.0f} / {max(r.contacts):,}" for r in results
        if r.contacts
    )  # fmt: skip
    return f"""The contact search of a batch of cases (depth 1: the close contacts, nothing stored
and no colour work, as `trace_outbreak` does it before it stores anything) in the synthetic city
of **{args.checkins:,} check-ins** (the city of "Tracing: cases in a synthetic city"), from the
database question by question and from the contact archive (`adapters/contact_archive.py`:
closed days as Parquet files searched by DuckDB in one join per round of questions, the days
still open from the database), after writing the archive once; against brute-force numpy on
the same cases in the same run. The close contacts of every case are compared across the
three.

{machine}

Command: `.venv/bin/python bench/trace.py {" ".join(args.argv)}`; seed {args.seed}, the city's
clock at {CITY_HOUR}:00 UTC of the day before the run. Databases:
{sizes}. Load average (1 min) at start and end: {load[0]:.2f} and {load[1]:.2f}.

{table}

Close contacts per case (p50 / max): {contacts}.
"""


def search_archive(
    app: App, result: Result, batch: list[str], expected: list[set[int]], index: dict[str, int]
) -> None:
    """The batch's contact search (depth 1, nothing stored) from the database, question by
    question, and from the contact archive (closed days from DuckDB over Parquet, the others
    from the database), after writing the archive; contacts checked against numpy."""
    archive = DuckArchive(app.settings.data_dir / "archive", app.keyring.checkin_keys)
    archived = replace(app.ctx, archive=archive)
    t0 = time.perf_counter()
    trace.archive_days(archived)
    result.export_seconds = time.perf_counter() - t0
    rules, now = trace.rules_of(app.ctx), app.ctx.clock.now()
    with app.ctx.uow(read_only=True) as uow:
        cases = [uow.cases.get_case(case_id) for case_id in batch]
        present = [case for case in cases if case is not None]
        gc.collect()
        t0 = time.perf_counter()
        from_db = trace_search.search(trace_search.SqlVisits(uow.checkins), present, rules, now, 1)
        result.search_db_seconds = time.perf_counter() - t0
        gc.collect()
        t0 = time.perf_counter()
        reader = archive.reader(uow)
        try:
            from_archive = trace_search.search(reader, present, rules, now, 1)
        finally:
            reader.close()
        result.search_archive_seconds = time.perf_counter() - t0
        result.archived_days = len(reader.archived)
    result.archive_mismatches = sum(
        {index[s] for s in a.close} != want or {index[s] for s in b.close} != want
        for a, b, want in zip(from_db, from_archive, expected, strict=True)
    )


def profile_traces(app: App, case_ids: list[str], top: int = 12) -> list[tuple[str, float]]:
    """Where the time of first traces goes: our functions by cumulative time, as a share of
    the time spent in trace_case (under the profiler)."""

    def run() -> None:
        for case_id in case_ids:
            trace.trace_case(app.ctx, case_id, TRACER, depth=1, settle=False)

    return profile_shares(run, "trace_case", top)


def query_plans(app: App) -> list[str]:
    """How the database runs tracing's two range scans (SQLite only)."""
    if app.engine.dialect.name != "sqlite":
        return []
    out = []
    with app.engine.connect() as conn:
        for sql in (
            "SELECT * FROM checkins WHERE venue_id = 'v' AND time_in >= 0 AND time_in <= 1",
            "SELECT * FROM checkins WHERE subject_id = 's' AND time_in >= 0 AND time_in <= 1 "
            "ORDER BY time_in",
        ):
            plan = conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")).fetchall()
            out.append(f"`{sql}`: " + "; ".join(str(row[-1]) for row in plan))
    return out


def database_mb(app: App, db: Database) -> float:
    if db.kind == "SQLite":
        path = Path(make_url(db.url).database or "")
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists()) / 1e6
    with app.engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    return float(size) / 1e6


# --- Output --------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


HEADER = ["Row", "p50 ms", "p95 ms", "p99 ms", "max ms", "vs numpy (p50)", "Target", "Result"]


def rows_of(results: list[Result]) -> list[list[str]]:
    rows = []
    for r in results:
        ratio = pct(r.ours_ms, 0.5) / pct(r.brute_ms, 0.5)
        ok = pct(r.ours_ms, 0.5) <= P50_TARGET_MS and ratio <= RATIO_TARGET
        rows.append(
            [
                f"trace_case, depth 1, {r.kind}",
                f"{pct(r.ours_ms, 0.5):.1f}",
                f"{pct(r.ours_ms, 0.95):.1f}",
                f"{pct(r.ours_ms, 0.99):.1f}",
                f"{max(r.ours_ms):.1f}",
                f"{ratio:.2f}×",
                f"p50 ≤ {P50_TARGET_MS:.0f} ms and ≤ {RATIO_TARGET:.0f}×",
                "PASS" if ok else "FAIL",
            ]
        )
        for label, values in (
            ("colour work after each answer (status_queue.settle), same cases", r.settle_ms),
            ("search only (trace_case's own functions, read-only), same cases", r.search_ms),
            ("numpy brute force, same cases", r.brute_ms),
            ("numpy, check-ins pre-grouped by subject and venue", r.grouped_ms),
        ):
            rows.append(
                [
                    label,
                    f"{pct(values, 0.5):.1f}",
                    f"{pct(values, 0.95):.1f}",
                    f"{pct(values, 0.99):.1f}",
                    f"{max(values):.1f}",
                    (
                        "baseline"
                        if "brute" in label
                        else f"{pct(values, 0.5) / pct(r.brute_ms, 0.5):.2f}×"
                    ),
                    "—",
                    "—",
                ]
            )
    return rows


BATCH_HEADER = [
    "Database",
    "Cases",
    "contacts s",
    "then colours s",
    "numpy brute force s",
    "contacts / numpy",
    "all / numpy",
    f"Target ≤ {BATCH_RATIO_TARGET:.0f}×",
]


def batch_rows(results: list[Result]) -> list[list[str]]:
    rows = []
    for r in results:
        if not r.batch_cases or not r.batch_brute_seconds:
            continue
        found = r.batch_seconds / r.batch_brute_seconds
        settled = r.batch_settle_seconds
        everything = (
            None if settled is None else (r.batch_seconds + settled) / r.batch_brute_seconds
        )
        verdict = (
            "PASS"
            if everything is not None and everything <= BATCH_RATIO_TARGET
            else ("contacts only" if found <= BATCH_RATIO_TARGET else "FAIL")
        )
        rows.append(
            [
                r.kind,
                f"{r.batch_cases:,}",
                f"{r.batch_seconds:.1f}",
                "not run" if settled is None else f"{settled:.1f}",
                f"{r.batch_brute_seconds:.1f}",
                f"{found:.2f}×",
                "—" if everything is None else f"{everything:.2f}×",
                verdict,
            ]
        )
    return rows


ARCHIVE_HEADER = [
    "Database",
    "Cases",
    "Days archived",
    "Archive written s",
    "Search, database s",
    "Search, archive s",
    "numpy s",
    "archive / numpy",
    "Contacts differ",
]


def archive_rows(results: list[Result]) -> list[list[str]]:
    return [
        [
            r.kind,
            f"{r.batch_cases:,}",
            str(r.archived_days),
            f"{r.export_seconds:.1f}",
            f"{r.search_db_seconds:.1f}",
            f"{r.search_archive_seconds:.1f}",
            f"{r.batch_brute_seconds:.1f}",
            f"{r.search_archive_seconds / r.batch_brute_seconds:.2f}×",
            str(r.archive_mismatches),
        ]
        for r in results
        if r.batch_cases and r.batch_brute_seconds
    ]


def console_tables(console: Console, results: list[Result]) -> None:
    for title, header, rows in (
        ("Tracing one case", HEADER, rows_of(results)),
        ("Tracing in one batch", BATCH_HEADER, batch_rows(results)),
        (
            "The batch's contact search: database and contact archive",
            ARCHIVE_HEADER,
            archive_rows(results),
        ),
    ):
        table = Table(title=title)
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for r in results:
        console.print(
            f"{r.kind}: {r.mismatches} mismatches with numpy; contacts per case p50 "
            f"{pct([float(c) for c in r.contacts], 0.5):.0f}, max {max(r.contacts)}"
        )


def _wrap(words: str) -> str:
    return textwrap.fill(words, width=100, break_on_hyphens=False, break_long_words=False)


def interpretation(results: list[Result]) -> str:
    """What this run measured, in words: only numbers from the run."""
    parts = []
    for r in results:
        p50, brute, search = pct(r.ours_ms, 0.5), pct(r.brute_ms, 0.5), pct(r.search_ms, 0.5)
        verdict = "meets" if p50 <= P50_TARGET_MS and p50 / brute <= RATIO_TARGET else "misses"
        heavy = sorted(((share, name) for name, share in r.profile[1:]), reverse=True)[:2]
        where = " and ".join(f"`{name.split(' ')[-1]}` {share:.0%}" for share, name in heavy)
        settle = pct(r.settle_ms, 0.5)
        parts.append(
            f"{r.kind}, {r.checkins:,} check-ins: `trace_case` (the tracer's answer) p50 "
            f"{p50:.1f} ms per case, {p50 / brute:.1f}× numpy brute force ({brute:.1f} ms): it "
            f"{verdict} the targets. The colour work that follows each answer takes {settle:.1f} "
            f"ms at p50 (p99 {pct(r.settle_ms, 0.99):,.0f} ms). "
            f"The search inside it takes {search:.1f} ms at p50 ({search / brute:.2f}× numpy "
            f"brute force, {search / pct(r.grouped_ms, 0.5):.0f}× the pre-grouped numpy); "
            f"the rest is what a trace stores after the search (profile: {where} of the time). "
            f"The tail (p99 {pct(r.ours_ms, 0.99):,.0f} ms, search p99 "
            f"{pct(r.search_ms, 0.99):,.0f} ms) is the cases who visited the busiest venues, "
            f"with up to {max(r.contacts):,} close contacts each. {r.batch_cases:,} cases in one "
            f"batch: contacts in {r.batch_seconds:,.0f} s"
            + (
                ", their colour work not run (--no-batch-colours)."
                if r.batch_settle_seconds is None
                else f", then their colours in {r.batch_settle_seconds:,.0f} s."
            )
        )
    return " ".join(parts)


def _paragraphs(*texts: str) -> str:
    """Each text as one wrapped paragraph (the sources below break lines anywhere)."""
    return "\n\n".join(_wrap(" ".join(t.split())) for t in texts)


def scale_note(results: list[Result], disk_free_gb: float) -> str:
    """Why the 70,000,000-check-in city was not run, from this run's own numbers."""
    big = 70_000_000
    parts = [
        f"{r.kind} about {r.database_mb / 1000 * big / r.checkins:.0f} GB and "
        f"{big / (r.checkins / r.import_seconds) / 3600:.1f} h of import at this run's rate"
        for r in results
    ]
    need = sum(r.database_mb / 1000 * big / r.checkins for r in results)
    return (
        f"The default run is 10,000,000 check-ins; `--quick` (1,000,000) checks the set-up in "
        f"minutes. A city of {big:,} check-ins was not run: it would need {'; '.join(parts)} "
        f"(more in practice: index inserts slow down as the tables grow), {need:.0f} GB in all "
        f"with {disk_free_gb:.0f} GB free here; and tracing there costs at least what it costs "
        f"at 10,000,000 per case. Run `--checkins {big} --skip postgresql` (one database at a "
        f"time) on a machine with the room and the time."
    )


def section(
    results: list[Result],
    args: argparse.Namespace,
    machine: str,
    load: tuple[float, float],
    city: City,
    notes: str,
) -> str:
    command = " ".join([".venv/bin/python", "bench/trace.py", *args.argv])
    profiles = "\n\n".join(
        f"{r.kind}:\n\n"
        + markdown_table(
            ["Function", "Share"], [[f"`{n}`", f"{s:.0%}"] for n, s in r.profile], "lr"
        )
        for r in results
    )
    plans = "\n".join(f"- {p}" for r in results for p in r.plans)
    sizes = ", ".join(
        f"{r.kind} {r.database_mb / 1000:.1f} GB (written by import_checkins in "
        f"{r.import_seconds:.0f} s, {r.checkins / r.import_seconds:,.0f} check-ins/s)"
        for r in results
    )
    contacts = "; ".join(
        f"{r.kind} {pct([float(c) for c in r.contacts], 0.5):,.0f} / {max(r.contacts):,}"
        for r in results
    )
    mismatches = ", ".join(f"{r.kind} {r.mismatches} of {len(r.ours_ms)}" for r in results)
    intro = _paragraphs(
        f"""Tracing a case (`trace_case`, depth 1: the close contacts, each with its evidence)
        in a synthetic city of **{city.size:,} check-ins** over {DAYS} days:
        {len(city.subject_ids):,} residents, {len(city.venue_ids):,} venues of
        {len(CITY_TYPES)} types with Zipf-like popularity (1/rank^{ZIPF}) and stays typical of
        their type (about 60 % checked out, the rest closing at the type's maximum dwell). Cases
        are opened by positive lab results (`import_results`) of residents who went out in the
        last three days; infectious window from two days before the sample until now. Each
        traced case is timed end to end as the tracer waits for it (`settle=False`, as the API
        and the tracer's page call it): its transaction, the queries, the log entries, the
        exposures it stores and the colour work it queues. On PostgreSQL the trace's log
        entries are queued with it and sequenced right after its answer, by the process's
        sequencer thread. The colour work is timed right after it, on its own
        (`status_queue.settle` for the case's contacts: their colours derived, stored and
        logged, their notices sent, and whatever of the trace's entries the sequencer thread
        has not sequenced yet). "Search only" times the search inside it alone (its
        own functions `visits_in`, `met` and `group` in a read-only unit of work, right after
        the trace, so on warm pages).""",
        f"""The baseline, in the same run and interleaved case by case, is brute-force numpy on
        arrays of the same check-ins in memory (boolean masks over all check-ins: the case's
        visits in its window, then for each visit everyone at that venue who overlapped by at
        least {args.min_overlap} s with the case's stay extended by {args.extension} s); a
        second numpy variant works on check-ins pre-grouped by subject and by venue
        (informative). The close contacts of every case, from both of our rows and both numpy
        variants, are checked to be the same.""",
    )
    run = _paragraphs(
        f"""Command: `{command}`; seed {args.seed}, the city's clock at {CITY_HOUR}:00 UTC of
        the day before the run (the same city in every run). Databases: {sizes}. Load average
        (1 min) at start and end: {load[0]:.2f} and {load[1]:.2f} (other processes shared the
        machine when this is well above 1).""",
        f"""Targets (from the issue): p50 ≤ {P50_TARGET_MS:.0f} ms per case at 10,000,000
        check-ins, and ≤ {RATIO_TARGET:.0f}× numpy; a batch of 1,000 cases ≤
        {BATCH_RATIO_TARGET:.0f}× numpy; on SQLite and on PostgreSQL.""",
    )
    after = _paragraphs(
        f"""Close contacts per case (p50 / max): {contacts}. Cases whose contacts differ from
        the numpy reference: {mismatches}.""",
        f"""cProfile of tracing {PROFILED} other cases (their first trace, the tracer's
        answer): our functions by cumulative time, as a share of the time in `trace_case`:""",
    )
    return f"""\
{intro}

{machine}
{versions(args.postgres if args.postgres != "off" else None)}

{run}

{markdown_table(HEADER, rows_of(results), "lrrrrrrr")}

Tracing in one batch (`trace_outbreak`, depth 1, other cases than above: every contact found
and stored and the batch's log entries sequenced, then the batch's colour work; numpy brute
force on the same cases):

{markdown_table(BATCH_HEADER, batch_rows(results), "lrrrrrrr")}

The same batch's contact search alone (depth 1, nothing stored), from the database question by
question and from the contact archive (`adapters/contact_archive.py`: the closed days, those
whose every visit has ended, as Parquet files searched by DuckDB in one join per round of
questions; the days still open from the database), after writing the archive once; numpy brute
force on the same cases; cases whose close contacts differ between the three:

{markdown_table(ARCHIVE_HEADER, archive_rows(results), "lrrrrrrrr")}

{after}

{profiles}

Query plans (SQLite):

{plans or "- (no SQLite run)"}

### Interpretation

{_wrap(interpretation(results))}

{notes}
"""


# --- Main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--checkins", type=int, default=10_000_000, help="size of the city")
    parser.add_argument("--quick", action="store_true", help=f"--checkins {QUICK:,}")
    parser.add_argument("--sample", type=int, default=200, help="cases traced one by one")
    parser.add_argument("--batch", type=int, default=1000, help="cases traced in one batch")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("HEALTHCODE_BENCH_PG_URL", DEFAULT_PG),
        help="admin URL of a PostgreSQL server to create a database on, or 'off'",
    )
    parser.add_argument("--skip", default="", help="databases to leave out: sqlite, postgresql")
    parser.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md alone")
    parser.add_argument(
        "--no-batch-colours",
        action="store_true",
        help="leave out the batch's colour work (over an hour on PostgreSQL at 10,000,000 "
        "check-ins and a batch of 1,000)",
    )
    parser.add_argument(
        "--search-only",
        action="store_true",
        help="only the batch's contact search (database, contact archive, numpy), in its own "
        "section: no trace stored, no colour work (minutes, not hours, at 10,000,000)",
    )
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.checkins = QUICK
    if args.checkins < 10_000 or args.sample < 10 or args.batch < 0:
        parser.error("--checkins ≥ 10,000, --sample ≥ 10, --batch ≥ 0")
    skip = {s.strip().lower() for s in args.skip.split(",") if s.strip()}
    admin = None if args.postgres == "off" else args.postgres
    kinds = [k for k in ("SQLite", "PostgreSQL") if k.lower() not in skip]
    if not admin and "PostgreSQL" in kinds:
        kinds.remove("PostgreSQL")

    console = Console()
    machine = machine_description(("sqlalchemy", "psycopg", "numpy"), when=utc_now())
    load_start = os.getloadavg()[0]
    now = city_clock(int(time.time()))
    console.print(f"generating a city of {args.checkins:,} check-ins")
    city = make_city(args.checkins, now, args.seed)
    cases = pick_cases(city, args.sample + PROFILED + args.batch, args.seed)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="hc-bench-") as tmp:
        for kind in kinds:
            directory = Path(tmp) / kind.lower()
            directory.mkdir()
            db = new_database(kind, directory, admin)
            app = build(settings_for(directory, db.url), clock=FixedClock(now))
            try:
                initialise(app)
                args.min_overlap = app.ctx.policy.trace_min_overlap_seconds
                args.extension = app.ctx.policy.trace_extension_seconds
                console.print(f"{kind}: writing the city")
                case_ids, seconds = write_city(app, city, cases, console)
                console.print(f"{kind}: {args.checkins / seconds:,.0f} check-ins/s imported")
                if args.search_only:
                    result = search_measure(kind, app, city, case_ids, cases, seconds, console)
                    result.database_mb = database_mb(app, db)
                    results.append(result)
                    continue
                result = measure(
                    kind, app, city, case_ids, cases, args.sample, seconds, console,
                    batch_colours=not args.no_batch_colours,
                )  # fmt: skip
                result.database_mb = database_mb(app, db)
                results.append(result)
            finally:
                app.close()
                db.drop()
                shutil.rmtree(directory, ignore_errors=True)

    if args.search_only:
        text_ = search_section(results, args, machine, (load_start, os.getloadavg()[0]))
        console.print(text_)
        if not args.no_write:
            replace_section(BENCHMARKS_MD, SEARCH_HEADING, text_)
        return 0
    console_tables(console, results)
    console.print(interpretation(results))
    if not args.no_write:
        load = (load_start, os.getloadavg()[0])
        free = shutil.disk_usage(tempfile.gettempdir()).free / 1e9
        notes = "### Scale\n\n" + _wrap(scale_note(results, free))
        text_ = section(results, args, machine, load, city, notes)
        replace_section(BENCHMARKS_MD, HEADING, text_)
        console.print("updated docs/BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
