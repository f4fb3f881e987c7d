"""Background work runs in one process of a city, however many serve it
(adapters/db/leadership.py), on SQLite and PostgreSQL: one leader at a time, another takes over
when it ends or dies (kill -9), and a leader whose lock went away stops leading."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from healthcode.adapters.db.engine import make_engine
from healthcode.adapters.db.leadership import AdvisoryLeadership, leadership_for
from healthcode.bootstrap import App
from healthcode.entrypoints.web.app import every

HOLDER = """
import sys
from healthcode.adapters.db.engine import make_engine
from healthcode.adapters.db.leadership import leadership_for
leader = leadership_for(make_engine(sys.argv[1]))
print("led" if leader.lead() else "not", flush=True)
sys.stdin.read()  # until the test closes our input (or kills us)
"""


def _url(app: App) -> str:
    return app.engine.url.render_as_string(hide_password=False)


def test_one_leader_at_a_time_and_the_next_takes_over(app: App) -> None:
    first, second = leadership_for(app.engine), leadership_for(make_engine(_url(app)))
    try:
        assert first.lead()
        assert first.lead()  # and keeps leading
        assert not second.lead()
        first.close()
        assert second.lead()
        assert not first.lead()  # the old leader asks again like anyone else
    finally:
        first.close()
        second.close()


def test_a_leader_killed_with_sigkill_lets_the_next_lead(app: App) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, _url(app)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    mine = leadership_for(app.engine)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "led"
        assert not mine.lead()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        deadline = time.monotonic() + 10  # PostgreSQL ends the session when it sees the socket go
        while not mine.lead():
            assert time.monotonic() < deadline, "nobody took over from a killed leader"
            time.sleep(0.05)
    finally:
        process.kill()
        mine.close()


def test_a_leader_whose_session_ended_stops_leading(app: App) -> None:
    if app.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's lock is the process's own file descriptor: nothing to end")
    first, second = AdvisoryLeadership(app.engine), AdvisoryLeadership(app.engine)
    try:
        assert first.lead()
        with app.engine.connect() as conn:  # an operator (or a failover) ends its session
            ended = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'healthcode-jobs' AND datname = current_database()"
                )
            ).all()
        assert ended == [(True,)]
        deadline = time.monotonic() + 10
        while not second.lead():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert not first.lead()  # it found its lock gone, and someone else holds it now
    finally:
        first.close()
        second.close()


def test_a_closed_leadership_never_takes_the_lock_again(app: App) -> None:
    """A job's thread that was still running when its server stopped asks after close: no."""
    first, second = leadership_for(app.engine), leadership_for(make_engine(_url(app)))
    try:
        assert first.lead()
        first.close()
        assert not first.lead()
        assert second.lead()
    finally:
        first.close()
        second.close()


def test_each_job_runs_only_where_the_lock_is(app: App) -> None:
    """`every` (the background jobs' timer of each server process) runs its job only while its
    process leads: two processes' timers, one job's runs, then the other's once the first ends."""
    leaders = [leadership_for(app.engine), leadership_for(make_engine(_url(app)))]
    runs = [0, 0]

    async def scene() -> None:
        assert leaders[0].lead()
        timers = [
            asyncio.create_task(every(0.02, lambda i=i: runs.__setitem__(i, runs[i] + 1),
                                      f"job {i}", leaders[i]))
            for i in (0, 1)
        ]  # fmt: skip
        deadline = time.monotonic() + 20  # five ticks of 0.02 s, however loaded the machine
        while runs[0] < 5:
            assert time.monotonic() < deadline, "the leader's job never ran five times"
            await asyncio.sleep(0.05)
        assert runs[1] == 0  # five of the leader's runs, none of the other's
        leaders[0].close()  # the first server stops
        timers[0].cancel()
        before = runs[1]
        deadline = time.monotonic() + 20  # at its next tick once the lock is free (loaded CI)
        while runs[1] == before:
            assert time.monotonic() < deadline, "the second process never took over"
            await asyncio.sleep(0.05)
        timers[1].cancel()
        await asyncio.gather(*timers, return_exceptions=True)

    try:
        asyncio.run(scene())
    finally:
        for leader in leaders:
            leader.close()
