"""The first moments of a `healthcode` process: the program loads with the collector paused.

Loading the program (its modules' classes, functions, tables and schemas) and building the web
app make some hundreds of thousands of objects that live as long as the process. Python's cycle
collector runs every 700 new objects and walks the older ones again each time it reaches their
generation: it took a quarter of the time to import the web app (1.2 s, 0.9 s with the collector
paused). So a command loads with the collector paused; then one collection frees what the
loading left behind, and what remains is frozen (`gc.freeze`: left out of every later
collection, which then walks only what the work makes) before the collector resumes. Work that
makes garbage by the row (migrations, the first status rebuild) runs outside the pause.

Only a process's own entry point pauses the collector: frozen objects are never collected, so
code that builds apps again and again (the tests) must not freeze them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def loading() -> Iterator[None]:
    """The collector paused while the block loads; when it ends, one collection frees whatever
    garbage the loading left, and what is still alive is frozen."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.freeze()
        if collecting:
            gc.enable()


def main() -> None:
    """The `healthcode` command."""
    with loading():
        from healthcode.entrypoints.cli import main as command
    command()
