"""Where a public read comes from: the replica within its staleness bound, else the primary.

The public reads (the log's checkpoints and proofs, the transparency report, the trust lists)
are the same for everyone and may be a moment old: in a cluster they come from a streaming
replica while it holds everything the primary had committed `ctx.replica.bound` seconds ago
(adapters/db/replica.py). A read about a part of the log the replica does not hold yet (a
proof up to a size that a checkpoint from the primary announced) is answered by the primary,
and so is every read while the replica fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from healthcode.services.context import ServiceContext
from healthcode.services.ports import UnitOfWork


@contextmanager
def public_read(ctx: ServiceContext, log_size: int = 0) -> Iterator[UnitOfWork]:
    """A read-only unit of work for a public read that needs the log to hold at least
    `log_size` entries."""
    if ctx.replica is not None:
        with ExitStack() as stack:
            try:
                uow = stack.enter_context(ctx.replica(read_only=True))
                usable = log_size <= 0 or uow.log.size() >= log_size
            except Exception:  # the replica failed (a restart, a cancelled query): the primary
                ctx.replica.failed()  # answers, until the next reading says it is back
                usable = False
            if usable:
                yield uow
                return
    with ctx.uow(read_only=True) as uow:
        yield uow
