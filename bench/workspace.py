"""Benchmark: the tracer's pages at 2,000 contacts, against a page that does no work.

    .venv/bin/python bench/workspace.py [--contacts N] [--repeat R] [--no-write]

A case and N close contacts who were at one venue with it (spread over 80 visits of the
case's, 25 contacts each: the shape of a market or a canteen), traced once. Then, through
the whole web stack (TestClient: routing, session, gate, rendering), timed R times each with
repetitions interleaved: the contacts workspace (`/office/cases/{id}/contacts`, its first
page, as the trace page links to it, and one filtered to close contacts of one day), the
trace page itself (`POST .../trace`: a new trace, its graph, its summary; its colour work
settled outside the timing), and the baseline: the home page (`/`, rendered, no database
read). Size is the HTML's bytes. Target (the issue): a trace page ≤ 300 ms and ≤ 200 KB at
2,000 contacts. The result replaces the section "Tracing: the tracer's pages" of
docs/BENCHMARKS.md unless --no-write.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from healthcode.adapters.clock import FixedClock
from healthcode.bootstrap import build, initialise
from healthcode.domain.cases import Case
from healthcode.domain.checkins import CheckIn, CheckInSource
from healthcode.entrypoints.web.app import create_app
from healthcode.services import enrolment, staff, status_queue
from healthcode.services.trace_workspace import Filters, contacts_page
from report import (
    BENCHMARKS_MD,
    machine_description,
    markdown_table,
    profile_shares,
    replace_section,
    utc_now,
)
from tests.conftest import headers_of, make_settings, staff_principal

HEADING = "Tracing: the tracer's pages"
NEW_TRACE = "a new trace (search, store, log; then its page)"
DAY, HOUR = 86400, 3600
START = 1_795_000_000
PER_VISIT = 25


def city(folder: Path, contacts: int) -> tuple[object, str, FixedClock]:
    clock = FixedClock(START)
    # The log's checkpoint cadence as a city runs it (the tests sign one every 4 entries).
    settings = make_settings(folder, f"sqlite:///{folder / 'bench.db'}",
                             checkpoint_every_entries=64)  # fmt: skip
    app = build(settings, clock=clock)
    initialise(app)
    people = [
        enrolment.enrol_resident(
            app.ctx, enrolment.EnrolResident("张三", "passport", f"E{n:08d}", f"139{n:08d}")
        ).subject_id
        for n in range(contacts + 1)
    ]
    case_subject, others = people[0], people[1:]
    noon = START - DAY
    visits = max(1, contacts // PER_VISIT)
    with app.ctx.uow() as uow:
        for v in range(visits):
            start = noon - 2 * DAY + v * 600
            uow.checkins.add(CheckIn("vmarket", f"k{v:06d}", case_subject, start, start + HOUR,
                                     CheckInSource.PLACE_SCAN, start + HOUR))  # fmt: skip
        for i, who in enumerate(others):
            start = noon - 2 * DAY + (i % visits) * 600 + 60
            uow.checkins.add(CheckIn("vmarket", f"c{i:06d}", who, start, start + HOUR,
                                     CheckInSource.PLACE_SCAN, start + HOUR))  # fmt: skip
        uow.cases.add_case(Case("kbench", case_subject, "LAB/b", noon - 3 * DAY, noon + DAY,
                                START))  # fmt: skip
        uow.commit()
    return app, "kbench", clock


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        app, case_id, _clock = city(Path(tmp), args.contacts)
        officer = staff_principal(app, "health_officer")  # type: ignore[arg-type]
        staff.assign_case(app.ctx, staff_principal(app, "health_officer"), case_id,  # type: ignore[arg-type]
                          officer.ref)  # fmt: skip
        headers = headers_of(app, officer)  # type: ignore[arg-type]
        with TestClient(create_app(built=app)) as client:  # type: ignore[arg-type]
            first = client.post(f"/office/cases/{case_id}/trace", data={"depth": "1"},
                                headers=headers)  # fmt: skip
            assert first.status_code == 200, first.text[:500]
            status_queue.settle(app.ctx)  # type: ignore[attr-defined]
            with app.ctx.uow(read_only=True) as uow:  # type: ignore[attr-defined]
                stored = len(uow.exposures.of_case(case_id))
            day = time.strftime("%Y-%m-%d", time.gmtime(START - 3 * DAY + 8 * HOUR))
            pages = {
                "baseline: home page (rendered, no database)": ("GET", "/", None),
                "contacts workspace, first page": ("GET", f"/office/cases/{case_id}/contacts",
                                                   None),
                "contacts workspace, close contacts of one day": (
                    "GET", f"/office/cases/{case_id}/contacts?level=close&day={day}", None),
                "trace page (the stored trace: summary, graph)": (
                    "GET", f"/office/cases/{case_id}/trace", None),
                NEW_TRACE: ("POST", f"/office/cases/{case_id}/trace", {"depth": "1"}),
            }  # fmt: skip
            runs: dict[str, list[float]] = {name: [] for name in pages}
            sizes: dict[str, int] = {}
            for _ in range(args.repeat):
                for name, (method, url, data) in pages.items():
                    t0 = time.perf_counter()
                    answer = client.request(method, url, data=data, headers=headers)
                    runs[name].append((time.perf_counter() - t0) * 1000)
                    assert answer.status_code == 200, (name, answer.status_code)
                    sizes[name] = len(answer.content)
                    if method == "POST":
                        status_queue.settle(app.ctx)  # type: ignore[attr-defined]
        profile = profiled(app, officer, case_id)
        app.close()  # type: ignore[attr-defined]
    base = statistics.median(runs["baseline: home page (rendered, no database)"])
    rows = []
    for name, values in runs.items():
        med = statistics.median(values)
        target = "" if name.startswith("baseline") or name == NEW_TRACE else (
            "PASS" if med <= 300 and sizes[name] <= 200_000 else "FAIL")  # fmt: skip
        rows.append([name, f"{med:.1f}", f"{min(values):.1f}–{max(values):.1f}",
                     f"{sizes[name] / 1000:.1f}", f"{med / base:.1f}×", target])  # fmt: skip
    header = ["Page", "Median ms", "Range ms", "KB", "vs baseline", "≤ 300 ms, ≤ 200 KB"]
    table = markdown_table(header, rows, "lrrrrl")
    visits = max(1, args.contacts // PER_VISIT)
    text = f"""The tracer's pages at **{args.contacts:,} close contacts** of one case (one venue,
{visits} visits of the case's with {PER_VISIT} contacts each), through the whole web stack in one
process (FastAPI's TestClient: routing, session, gate, rendering; no network), {args.repeat}
repetitions each, interleaved. The baseline is the home page, rendered with no database read.
The trace page is the stored trace (its summary and the graph of chains; a GET, so a reload
traces nothing again) and links to the workspace, which shows each contact once, 100 a page.
Both read each person once (the database picks each one's best exposure and counts theirs:
`people_of_cases`), not the {stored:,} exposures behind them. A new
trace is an action, not a page: its post searches, stores and logs, then answers with the trace
page (the redirect followed, in the same timing); its cost per contact is issue 12's, so the
page target is not applied to it.

{machine_description(("fastapi", "jinja2", "sqlalchemy"), when=utc_now())}

Command: `.venv/bin/python bench/workspace.py` (SQLite).

{table}

Where the workspace's time goes (cProfile of three views through the service, our functions by
cumulative time, as a share of `contacts_page`):

{markdown_table(["Function", "Share"], [[f"`{f}`", f"{v:.0%}"] for f, v in profile], "lr")}
"""
    print(text)
    if not args.no_write:
        replace_section(BENCHMARKS_MD, HEADING, text)


def profiled(app: object, officer: object, case_id: str, top: int = 8) -> list[tuple[str, float]]:
    def run() -> None:
        for _ in range(3):
            contacts_page(app.ctx, officer, case_id, "Asia/Shanghai", Filters())  # type: ignore[attr-defined,arg-type]

    return profile_shares(run, "contacts_page", top)


if __name__ == "__main__":
    main()
