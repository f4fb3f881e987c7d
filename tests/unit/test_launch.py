"""The `healthcode` command loads with the cycle collector paused, then freezes what it loaded
(entrypoints/launch.py)."""

from __future__ import annotations

import gc
from importlib.metadata import entry_points

import pytest

from healthcode.entrypoints.launch import loading


def test_the_collector_is_paused_while_loading_and_what_was_loaded_is_frozen() -> None:
    frozen = gc.get_freeze_count()
    try:
        with loading():
            assert not gc.isenabled()
            loaded = [[n] for n in range(1000)]  # objects the collector would track
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + len(loaded)
    finally:
        gc.enable()


def test_a_paused_collector_stays_paused_and_a_failure_still_freezes() -> None:
    gc.disable()
    try:
        frozen = gc.get_freeze_count()
        kept: list[list[int]] = []

        def fails_to_load() -> None:
            with loading():
                kept.extend([n] for n in range(1000))
                raise RuntimeError("a module failed to load")

        with pytest.raises(RuntimeError):
            fails_to_load()
        assert not gc.isenabled()  # as it was before
        assert gc.get_freeze_count() >= frozen + len(kept) > frozen
    finally:
        gc.enable()


def test_the_command_starts_in_the_launcher() -> None:
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "healthcode"]
    assert script.value == "healthcode.entrypoints.launch:main"
