"""`healthcode ingest`: a consumer of the cluster's ingest buffer (adapters/ingest_stream.py).

With `HEALTHCODE_INGEST_NATS_URLS` set, the API processes acknowledge a resident's check-in once
the stream holds it; consumers write the stream into the database in batches, one transaction
each, acknowledging the messages after the commit. Any number may run: the stream hands each
message to one of them, and one that dies leaves its unacknowledged messages to the others.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from healthcode.entrypoints.cli.common import console, fail, handles_errors, open_app, print_json
from healthcode.services import checkins


@handles_errors
def ingest(
    batch: Annotated[
        int, typer.Option(min=1, max=10_000, help="Check-ins written per transaction at most")
    ] = 500,
) -> None:
    """Write the check-ins of the ingest buffer into the database as they come, until stopped
    (SIGTERM or Ctrl-C: the batch under way is finished first). Prints how many it took and how
    many it added (a check-in delivered again is stored once)."""
    built = open_app()
    stream = built.ctx.ingest
    if stream is None:
        raise fail("no ingest buffer: set HEALTHCODE_INGEST_NATS_URLS")
    stop = threading.Event()

    def stopping(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    for name in (signal.SIGTERM, signal.SIGINT):
        signal.signal(name, stopping)
    counts = {"messages": 0, "added": 0}
    console.print("ingest consumer ready", highlight=False)
    with console.status("waiting for check-ins") as shown:

        def stored(messages: int, added: int) -> None:
            counts["messages"] += messages
            counts["added"] += added
            shown.update(f"{counts['added']:,} check-ins written; waiting for more")

        stream.consume(
            lambda found: checkins.store_streamed(built.ctx, found),
            stop.is_set,
            batch=batch,
            stored=stored,
        )
    print_json(counts)
