"""REL-6: run the suite with the wall clock moved ahead, so that a test that depends on today's
date fails at once instead of on the day that date gets old.

`HEALTHCODE_TEST_CLOCK_AHEAD_DAYS=N` moves the wall clock of the test process N days ahead with
time-machine (time.time, datetime.now and friends; monotonic clocks are left alone) for the
whole session, and `command()` starts a server the tests spawn with the same shift. Chromium is
moved with Playwright's clock (tests/browser/conftest.py). `scripts/test`, and so CI, runs with
the clock a year ahead; a bare `pytest` runs on today's date.

    python -m tests.support.clock_ahead healthcode serve --port 8001

runs a console script of this project with the shift applied.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

import time_machine

ENV = "HEALTHCODE_TEST_CLOCK_AHEAD_DAYS"
DAY = 86400
_started: list[time_machine.travel] = []


def days_ahead() -> int:
    text = os.environ.get(ENV, "0").strip() or "0"
    if not text.lstrip("-").isdigit():
        raise RuntimeError(f"{ENV} is a whole number of days, not {text!r}")
    return int(text)


def start() -> int:
    """Move this process's wall clock ahead (once); return by how many days."""
    days = days_ahead()
    if days and not _started:
        traveller = time_machine.travel(time.time() + days * DAY, tick=True)
        traveller.start()
        _started.append(traveller)
    return days


def command(argv: Sequence[str]) -> list[str]:
    """The command line that runs `argv` (a console script of this project, by path or name)
    with the same shift as this process; unchanged when the clock is not moved."""
    if not days_ahead():
        return list(argv)
    return [sys.executable, "-m", "tests.support.clock_ahead", os.path.basename(argv[0]), *argv[1:]]


def _main(argv: list[str]) -> None:
    from importlib.metadata import entry_points

    if not argv:
        raise SystemExit("usage: python -m tests.support.clock_ahead SCRIPT [ARGS...]")
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == argv[0]]
    start()
    sys.argv = argv
    script.load()()


if __name__ == "__main__":
    _main(sys.argv[1:])
