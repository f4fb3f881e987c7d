"""A pooled PostgreSQL connection is pinged before use only after it has lain idle
(adapters/db/engine.py: PING_AFTER_IDLE_SECONDS): a busy one goes straight to work, an idle one
whose server session ended is replaced before anyone uses it, and one that ended while busy
fails one statement, after which the pool starts afresh."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from healthcode.adapters.db import engine as engines
from healthcode.bootstrap import App


@pytest.fixture
def pool(app: App) -> Iterator[tuple[Engine, list[int]]]:
    """An engine of our own on the test database, and the pings it sends."""
    if app.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs in the process: no connection to ping")
    engine = engines.make_engine(app.engine.url.render_as_string(hide_password=False))
    pings: list[int] = []
    through = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return through(dbapi_connection)

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    yield engine, pings
    engine.dispose()


def _pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _end_session(app: App, pid: int) -> None:
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        conn.commit()


def test_a_connection_in_use_is_not_pinged_each_time(
    pool: tuple[Engine, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, pings = pool
    monkeypatch.setattr(engines, "PING_AFTER_IDLE_SECONDS", 3600.0)  # never idle long enough
    first = _pid(engine)  # made a moment ago: not pinged
    for _ in range(5):
        assert _pid(engine) == first
    assert pings == []
    monkeypatch.setattr(engines, "PING_AFTER_IDLE_SECONDS", 0.0)  # now it has lain idle
    assert _pid(engine) == first
    assert len(pings) == 1


def test_an_idle_connection_whose_session_ended_is_replaced_before_use(
    app: App, pool: tuple[Engine, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, pings = pool
    ended = _pid(engine)
    _end_session(app, ended)
    monkeypatch.setattr(engines, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has lain idle long enough
    assert _pid(engine) != ended  # the ping found it gone: another connection, no error
    assert len(pings) == 2  # the failed one, then the new one (idle for 0 s counts here)


def test_a_connection_that_ended_while_in_use_fails_once(
    app: App, pool: tuple[Engine, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, pings = pool
    monkeypatch.setattr(engines, "PING_AFTER_IDLE_SECONDS", 3600.0)  # used a moment ago
    ended = _pid(engine)
    _end_session(app, ended)
    with pytest.raises(OperationalError):
        _pid(engine)  # not pinged: its first statement fails
    assert _pid(engine) != ended  # the failed connection was discarded
    assert pings == []
