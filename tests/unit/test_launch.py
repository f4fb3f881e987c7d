"""The `healthcode` command loads with the cycle collector paused, then collects once and
freezes what is still alive (entrypoints/launch.py). The freeze is watched, not done: frozen
objects would stay in this test process for the rest of the run."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from importlib.metadata import entry_points

import pytest

from healthcode.entrypoints.launch import loading


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, bool]]]:
    """Each collection and freeze, with whether the collector was running then."""
    seen: list[tuple[str, bool]] = []
    collect = gc.collect

    def collected(*_: object) -> int:
        seen.append(("collect", gc.isenabled()))
        return 0

    monkeypatch.setattr(gc, "collect", collected)
    monkeypatch.setattr(gc, "freeze", lambda: seen.append(("freeze", gc.isenabled())))
    yield seen
    monkeypatch.undo()
    collect()


def test_the_collector_is_paused_while_loading_then_collects_once_and_freezes(
    calls: list[tuple[str, bool]],
) -> None:
    assert gc.isenabled()
    with loading():
        assert not gc.isenabled()
        assert calls == []
    assert gc.isenabled()
    assert calls == [("collect", False), ("freeze", False)]  # before the collector resumes


def test_a_paused_collector_stays_paused_and_a_failure_still_collects_and_freezes(
    calls: list[tuple[str, bool]],
) -> None:
    def fails_to_load() -> None:
        with loading():
            raise RuntimeError("a module failed to load")

    gc.disable()
    try:
        with pytest.raises(RuntimeError):
            fails_to_load()
        assert not gc.isenabled()  # as it was before
        assert calls == [("collect", False), ("freeze", False)]
    finally:
        gc.enable()


def test_the_command_starts_in_the_launcher() -> None:
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "healthcode"]
    assert script.value == "healthcode.entrypoints.launch:main"
