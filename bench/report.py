"""Shared helpers for the benchmarks: describe the machine, replace one section of BENCHMARKS.md.

Each benchmark script owns one `## ...` section of docs/BENCHMARKS.md and rewrites only that
section, so running one benchmark never disturbs the numbers of another. The machine is described
generically (CPU model, core count, versions): never a host name or a path of this machine.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import importlib.metadata
import os
import platform
import pstats
import statistics
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "docs" / "BENCHMARKS.md"

INTRO = """\
# Benchmarks

Throughput benchmarks of healthcode's hot paths. Each one measures our code **against a baseline
measured in the same run, on the same machine** (for example: issuing a health code against a
bare `cryptography` signature), so the ratio says how much our own code costs on top of the work
that cannot be avoided. Absolute rates vary between machines; the ratios are what the targets
are set on.

- **HTTP: hot paths against a hello-world** (`bench/http_load.py`): show my code, a single
  check-in, verify, health and checkpoint through the real server under wrk, 1 and 2 workers,
  SQLite and PostgreSQL, each next to a hello-world on the same server stack in the same run.
- **Log: the sequencer** (`bench/log.py`): queued log entries sequenced per second (numbers,
  Merkle hashes, checkpoints) against the bare driver writing the same rows.
- **Codes: issuance and verification** (`bench/codes.py`): health codes issued and verified per
  second on one core (claims, sealed subject reference, COSE_Sign1, zlib, base45), against raw
  ES256 / PS256 signing and verification with `cryptography`; where the time goes, step by step.
- **Ingest: check-ins over HTTP and in bulk** (`bench/ingest.py`): single check-ins and offline
  device uploads per second through the real server (p50/p99 latency), and the authority's bulk
  import into SQLite and PostgreSQL, against the bare database driver writing the same rows into
  a bare table with the same indexes.
- **Tracing: cases in a synthetic city** (`bench/trace.py`): latency of tracing one case
  (p50/p95/p99) and of 1,000 cases in one batch, in a seeded city of 10,000,000 check-ins
  (`--quick`: 1,000,000), against brute-force numpy on the same check-ins in memory.

How to run: from the repository root, with the development environment installed
(`.venv/bin/python bench/<name>.py`). `--seconds N` sets the length of each repetition (where a
benchmark is timed by repetitions) and `--no-write` prints the results without touching this
file. Each script replaces only its own section below. The ingest and tracing benchmarks also use
PostgreSQL: they create (and drop) their own databases on the server named by `--postgres`
(default: `HEALTHCODE_BENCH_PG_URL`, else postgres on this machine over its Unix socket where it
has one, as a server on the same box connects, and on 127.0.0.1:5432 otherwise; each section names
the one it used); `--postgres off` runs SQLite only.

The numbers below come from one machine on one date, shown at the top of each section; they are
a reference point, not a guarantee. Re-run the benchmark on the machine you care about.
"""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def cpu_model() -> str:
    """The CPU model as /proc/cpuinfo names it (Linux); the platform's guess elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _openssl() -> str | None:
    try:
        from cryptography.hazmat.backends.openssl.backend import backend
    except ImportError:
        return None
    text: str = backend.openssl_version_text()
    return text


def machine_description(
    packages: Iterable[str] = ("cryptography",), *, when: dt.datetime | None = None
) -> str:
    """A Markdown bullet list: CPU, cores, OS family, Python and library versions, UTC date."""
    logical = os.cpu_count() or 1
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = logical
    cores = f"{logical} logical CPU{'s' if logical != 1 else ''}"
    if usable != logical:
        cores += f" ({usable} usable by this process)"
    openssl = _openssl()
    libraries = ", ".join(
        f"{name} {_version(name)}" + (f" ({openssl})" if name == "cryptography" and openssl else "")
        for name in packages
    )
    when = when or utc_now()
    lines = [
        f"- CPU: {cpu_model()}, {cores}",
        f"- OS: {platform.system()} {platform.machine()}",
        f"- Python: {platform.python_implementation()} {platform.python_version()}",
    ]
    if libraries:
        lines.append(f"- Libraries: {libraries}")
    lines.append(f"- Date: {when.strftime('%Y-%m-%d %H:%M')} UTC")
    return "\n".join(lines)


def _split_sections(text: str) -> list[tuple[str | None, list[str]]]:
    """Split Markdown into (level-2 heading or None for the preamble, lines) blocks, ignoring
    headings inside fenced code blocks."""
    blocks: list[tuple[str | None, list[str]]] = [(None, [])]
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            blocks.append((line[3:].strip(), [line]))
        else:
            blocks[-1][1].append(line)
    return blocks


def replace_section(path: Path, heading: str, markdown: str, intro: str = INTRO) -> None:
    """Write `## heading` followed by `markdown` into the file at `path`, replacing the section
    of that heading (up to the next level-2 heading) if present, appending it otherwise.
    A missing file is created with `intro` first."""
    heading = heading.removeprefix("## ").strip()
    text = path.read_text(encoding="utf-8") if path.exists() else intro
    section = [f"## {heading}", "", *markdown.strip("\n").splitlines()]
    blocks = _split_sections(text)
    out: list[str] = []
    replaced = False
    for name, lines in blocks:
        if name == heading and not replaced:
            out.extend([*section, ""])
            replaced = True
            continue
        if name is not None and out and out[-1].strip():
            out.append("")
        out.extend(lines)
    if not replaced:
        while out and not out[-1].strip():
            out.pop()
        out.extend(["", *section])
    while out and not out[-1].strip():
        out.pop()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def markdown_table(header: list[str], rows: list[list[str]], align: str = "") -> str:
    """A GitHub Markdown table; `align` has one letter per column, l or r (default l)."""

    def cell(value: str) -> str:
        return value.replace("|", "\\|").replace("\n", " ")

    marks = [("---:" if align[i : i + 1] == "r" else "---") for i in range(len(header))]
    lines = [
        "| " + " | ".join(cell(h) for h in header) + " |",
        "| " + " | ".join(marks) + " |",
    ]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def ratio_rows(
    labels: dict[str, str], runs: dict[str, list[float]], base: float, number: str = ",.0f"
) -> list[list[str]]:
    """A table row per measured thing: its label, median and range of its repetitions (in the
    format `number`), and the median against `base`."""
    return [
        [labels[name], f"{statistics.median(v):{number}}",
         f"{min(v):{number}}–{max(v):{number}}", f"{statistics.median(v) / base:.2f}×"]
        for name, v in runs.items()
    ]  # fmt: skip


def profile_shares(run: Callable[[], object], root: str, top: int) -> list[tuple[str, float]]:
    """Where `run()`'s time goes: our functions (healthcode's) by cumulative time under the
    profiler, as a share of the time in the function named `root`."""
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    ours = {f: v for f, v in stats.items() if "healthcode" in Path(f[0]).parts}
    total = max((v[3] for f, v in ours.items() if f[2] == root), default=0.0) or 1.0
    ranked = sorted(ours.items(), key=lambda kv: kv[1][3], reverse=True)[:top]
    return [(where(f), v[3] / total) for f, v in ranked]


def where(func: tuple[str, int, str]) -> str:
    """A function named by pstats, without any path of this machine."""
    filename, line, name = func
    if filename == "~":
        return name.strip("{}<>")
    parts = Path(filename).parts
    for anchor in ("site-packages", "src"):
        if anchor in parts:
            return f"{'/'.join(parts[parts.index(anchor) + 1 :])}:{line} {name}"
    return f"{Path(filename).name}:{line} {name}"
