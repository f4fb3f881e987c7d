"""`healthcode worker`: colour work as a process of its own, beside the API processes.

A trace answers with its contacts and queues their colour work (services/status_queue.py); the
trace's own request, the server's job and a contact asking for their code do it too, but an
outbreak's thousands of contacts are better done by workers that do nothing else. Any number
of them share the queue: each batch of work leaves the queue in the transaction that does it,
and on PostgreSQL a worker takes only work no other worker holds (`FOR UPDATE SKIP LOCKED`), so
workers split the queue by subject between them as they go, with no shard waiting on another.
On SQLite, with one writer, they take turns.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from healthcode.entrypoints.cli.common import console, handles_errors, open_app, print_json
from healthcode.services import status_queue


@handles_errors
def worker(
    poll: Annotated[
        float, typer.Option(min=0.05, max=60, help="Seconds between looks at an empty queue")
    ] = 0.5,
    once: Annotated[bool, typer.Option(help="Do what is queued now, then stop")] = False,
) -> None:
    """Do colour work as it is queued (re-derive, store and log the colours a trace queued,
    send the exposure notices), until stopped (SIGTERM or Ctrl-C: the batch under way is
    finished first). Prints how many people it settled."""
    ctx = open_app().ctx
    stop = threading.Event()

    def stopping(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    for name in (signal.SIGTERM, signal.SIGINT):
        signal.signal(name, stopping)
    settled = [0]

    def progress(count: int) -> None:
        settled[0] += count

    console.print("colour worker ready", highlight=False)
    with console.status("waiting for colour work") as shown:
        while not stop.is_set():
            status_queue.settle(ctx, progress=progress, stop=stop.is_set)
            shown.update(f"{settled[0]:,} people settled; waiting for colour work")
            if once:
                break
            stop.wait(poll)
    print_json({"people_settled": settled[0]})
