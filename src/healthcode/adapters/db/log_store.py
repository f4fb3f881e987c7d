"""The transparency log in SQL: entries, stored subtree hashes and signed checkpoints.

Appends run inside the caller's transaction, so a state change and its entry commit together or
not at all (AUD-4). Appends are serialised: SQLite's BEGIN IMMEDIATE holds the write lock; on
PostgreSQL a transaction-scoped advisory lock does, so sequence numbers never race.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, insert, select, tuple_

from healthcode.adapters.db.repositories import from_row
from healthcode.adapters.db.tables import log_checkpoints, log_entries, log_hashes
from healthcode.domain import merkle
from healthcode.domain.audit import LogEntry, canonical_entry, checkpoint_due
from healthcode.services.ports import Checkpoint

LOG_LOCK_ID = 0x6C6F67  # "log": the advisory lock that serialises appends on PostgreSQL

# (size, root, time) -> signed checkpoint note
CheckpointSigner = Callable[[int, bytes, int], str]


@dataclass(frozen=True)
class CheckpointPolicy:
    every_entries: int
    every_seconds: int


def _about(entry: LogEntry) -> str | None:
    """The person an entry is about, by commitment: its object, or the `subject` it names in its
    details (an appeal, say, whose object is the appeal)."""
    if entry.object_kind == "subject":
        return entry.object_ref
    named = entry.details.get("subject")
    return named if isinstance(named, str) and named.startswith("c:") else None


class SqlAuditLog:
    def __init__(self, conn: Connection, signer: CheckpointSigner, policy: CheckpointPolicy):
        self.conn = conn
        self.signer = signer
        self.policy = policy

    def _lock(self) -> None:
        if self.conn.dialect.name == "postgresql":
            self.conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOG_LOCK_ID})")

    def _read(self, level: int, idx: int) -> bytes:
        value = self.conn.execute(
            select(log_hashes.c.hash).where(
                and_(log_hashes.c.level == level, log_hashes.c.idx == idx)
            )
        ).scalar_one()
        return bytes(value)

    def _read_many(self, positions: Sequence[tuple[int, int]]) -> list[bytes]:
        found: dict[tuple[int, int], bytes] = {}
        for start in range(0, len(positions), 200):
            batch = positions[start : start + 200]
            rows = self.conn.execute(
                select(log_hashes).where(tuple_(log_hashes.c.level, log_hashes.c.idx).in_(batch))
            )
            found.update({(r.level, r.idx): bytes(r.hash) for r in rows})
        return [found[pos] for pos in positions]

    def size(self) -> int:
        last = self.conn.execute(select(func.max(log_entries.c.seq))).scalar_one()
        return 0 if last is None else int(last) + 1

    def append(self, entry: LogEntry, now: int) -> int:
        return self.append_many([entry], now)[0]

    def append_many(self, entries: Sequence[LogEntry], now: int) -> list[int]:
        """Append entries in order, in the caller's transaction, with the rows and hashes of
        each stretch written at once; a checkpoint still falls every N entries inside a batch."""
        if not entries:
            return []
        self._lock()
        size = self.size()
        last = self.latest_checkpoint()
        last_size = last.size if last else 0
        seqs: list[int] = []
        todo = list(entries)
        while todo:
            # Stop each stretch where a checkpoint by entry count falls due.
            room = max(1, self.policy.every_entries - (size - last_size))
            part, todo = todo[:room], todo[room:]
            seqs += self._write(part, size, now)
            size += len(part)
            made = self.checkpoint(now)
            if made is not None:
                last_size = made.size
        return seqs

    def _write(self, part: Sequence[LogEntry], start: int, now: int) -> list[int]:
        fresh: dict[tuple[int, int], bytes] = {}

        def read(level: int, idx: int) -> bytes:
            found = fresh.get((level, idx))
            return found if found is not None else self._read(level, idx)

        rows: list[dict[str, object]] = []
        for seq, entry in enumerate(part, start):
            text = canonical_entry(entry, seq, now)
            leaf = merkle.leaf_hash(text.encode())
            for level, idx, h in merkle.hashes_to_store(seq, leaf, read):
                fresh[(level, idx)] = h
            about = _about(entry)
            rows.append(
                {"seq": seq, "time": now, "entry": text, "leaf_hash": leaf, "subject_ref": about}
            )
        self.conn.execute(insert(log_entries), rows)
        self.conn.execute(
            insert(log_hashes),
            [{"level": lv, "idx": ix, "hash": h} for (lv, ix), h in fresh.items()],
        )
        return [row["seq"] for row in rows]  # type: ignore[misc]

    def entries(self, start: int, end: int) -> list[tuple[int, str, bytes]]:
        rows = self.conn.execute(
            select(log_entries)
            .where(and_(log_entries.c.seq >= start, log_entries.c.seq < end))
            .order_by(log_entries.c.seq)
        )
        return [(r.seq, r.entry, bytes(r.leaf_hash)) for r in rows]

    def first_at(self, time: int) -> int:
        """The first sequence number whose entry time is at or after `time` (the size if none).
        Entry times follow the order of appends, so a binary search over the primary key finds
        it in about log2(size) reads; no index on time is needed."""
        lo, hi = 0, self.size()
        while lo < hi:
            mid = (lo + hi) // 2
            at = self.conn.execute(
                select(log_entries.c.time).where(log_entries.c.seq == mid)
            ).scalar_one()
            if at < time:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def lock(self) -> None:
        """Serialise with every append until this transaction ends (a writer that reads the
        log before it decides what to append, such as the anomaly watch)."""
        self._lock()

    def about(self, subject_ref: str, limit: int) -> list[tuple[int, str]]:
        """The newest entries about one person (by their commitment), newest first."""
        rows = self.conn.execute(
            select(log_entries.c.seq, log_entries.c.entry)
            .where(log_entries.c.subject_ref == subject_ref)
            .order_by(log_entries.c.seq.desc())
            .limit(limit)
        )
        return [(r.seq, r.entry) for r in rows]

    def root(self, size: int) -> bytes:
        return merkle.tree_hash_batch(size, self._read_many)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof_batch(index, size, self._read_many)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return merkle.consistency_proof_batch(old, new, self._read_many)

    def checkpoints(self, after: int = 0) -> list[Checkpoint]:
        rows = self.conn.execute(
            select(log_checkpoints)
            .where(log_checkpoints.c.size > after)
            .order_by(log_checkpoints.c.size)
        )
        return [from_row(Checkpoint, r) for r in rows]

    def latest_checkpoint(self) -> Checkpoint | None:
        row = self.conn.execute(
            select(log_checkpoints).order_by(log_checkpoints.c.size.desc()).limit(1)
        ).first()
        return from_row(Checkpoint, row) if row else None

    def checkpoint(self, now: int, *, force: bool = False) -> Checkpoint | None:
        self._lock()
        size = self.size()
        last = self.latest_checkpoint()
        last_size, last_time = (last.size, last.time) if last else (0, None)
        due = checkpoint_due(
            size, last_size, last_time, now, self.policy.every_entries, self.policy.every_seconds
        )
        if not due and not (force and size > last_size):
            return None
        root = self.root(size)
        note = self.signer(size, root, now)
        self.conn.execute(insert(log_checkpoints).values(size=size, time=now, root=root, note=note))
        return Checkpoint(size, now, root, note)
