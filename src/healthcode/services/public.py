"""Where a public read comes from: the replica within its staleness bound, else the primary.

The public reads (the log's checkpoints and proofs, the transparency report, the trust lists)
are the same for everyone and may be a moment old: in a cluster they come from a streaming
replica while it holds everything the primary had committed `ctx.replica.bound` seconds ago
(adapters/db/replica.py). A read about a part of the log the replica does not hold yet (a
proof up to a size that a checkpoint from the primary announced) is answered by the primary.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from healthcode.services.context import ServiceContext
from healthcode.services.ports import UnitOfWork


@contextmanager
def public_read(ctx: ServiceContext, log_size: int = 0) -> Iterator[UnitOfWork]:
    """A read-only unit of work for a public read that needs the log to hold at least
    `log_size` entries."""
    if ctx.replica is not None:
        with ctx.replica(read_only=True) as uow:
            if log_size <= 0 or uow.log.size() >= log_size:
                yield uow
                return
    with ctx.uow(read_only=True) as uow:
        yield uow
