"""The transparency log in SQL: a queue, entries, stored subtree hashes and signed checkpoints.

A state change appends its entries to the queue (`log_pending`) in its own transaction, so the
change and its entries commit together or not at all (AUD-4), and it takes no lock to do so:
writers run side by side. The sequencer (`integrate`) takes the log's lock (SQLite's write lock;
on PostgreSQL a transaction-scoped advisory lock, so that two sequencers in any processes can
never run at once), gives the queued entries their sequence numbers in queue order, writes them
with their Merkle hashes, signs checkpoints as they fall due and deletes them from the queue, all
in its one transaction: an entry is sequenced exactly once, and a sequencer killed half way
leaves the queue as it was. The few use cases that need their entry's number at once (a rule
activation request is approved by it) append with `append_sequenced`, which sequences the queue
first and then theirs, under the lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, func, insert, select

from healthcode.adapters.db.bulk import insert_tuples
from healthcode.adapters.db.repositories import each_in, from_row, keys_in
from healthcode.adapters.db.tables import log_checkpoints, log_entries, log_hashes, log_pending
from healthcode.domain import merkle
from healthcode.domain.audit import (
    PENDING_SEQ,
    LogEntry,
    canonical_entry,
    checkpoint_due,
    sequenced,
)
from healthcode.services.ports import Checkpoint

LOG_LOCK_ID = 0x6C6F67  # "log": the advisory lock that serialises appends on PostgreSQL

ENTRY_COLUMNS = ("seq", "time", "entry", "leaf_hash", "subject_ref")
Queued = tuple[str, int, str | None]  # entry text (seq PENDING_SEQ), time appended, about whom

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
    """`queued`: appends go to the queue (PostgreSQL: writers run side by side and the
    sequencer numbers their entries after they commit). Not queued (SQLite, where a writer
    holds the database's one write lock anyway): appends are sequenced in the writer's own
    transaction, as the queue would only add a second transaction to every change."""

    def __init__(
        self,
        conn: Connection,
        signer: CheckpointSigner,
        policy: CheckpointPolicy,
        *,
        queued: bool = True,
    ):
        self.conn = conn
        self.signer = signer
        self.policy = policy
        self.uses_queue = queued
        self.queued = 0  # entries this transaction put in the queue
        self._known: dict[tuple[int, int], bytes] = {}  # subtree hashes read or written here

    def _lock(self) -> None:
        if self.conn.dialect.name == "postgresql":
            self.conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOG_LOCK_ID})")

    def _read(self, level: int, idx: int) -> bytes:
        return self._read_many([(level, idx)])[0]

    def _read_many(self, positions: Sequence[tuple[int, int]]) -> list[bytes]:
        """Stored subtree hashes, each read from the database at most once per transaction
        (they never change; the sequencer's checkpoints mostly need the ones it just wrote).
        A leaf's hash (level 0) is the one its entry's row holds; the levels above are in
        `log_hashes`."""
        found = self._known
        missing = [pos for pos in positions if pos not in found]
        leaves = [idx for level, idx in missing if level == 0]
        for where in each_in(self.conn, log_entries.c.seq, leaves):
            rows = self.conn.execute(
                select(log_entries.c.seq, log_entries.c.leaf_hash).where(where)
            )
            found.update({(0, r.seq): bytes(r.leaf_hash) for r in rows})
        nodes = [pos for pos in missing if pos[0] != 0]
        for start in range(0, len(nodes), 200):
            batch = nodes[start : start + 200]
            where = keys_in(self.conn, (log_hashes.c.level, log_hashes.c.idx), batch)
            rows = self.conn.execute(select(log_hashes).where(where))
            found.update({(r.level, r.idx): bytes(r.hash) for r in rows})
        return [found[pos] for pos in positions]

    def size(self) -> int:
        last = self.conn.execute(select(func.max(log_entries.c.seq))).scalar_one()
        return 0 if last is None else int(last) + 1

    def append(self, entry: LogEntry, now: int) -> None:
        self.append_many([entry], now)

    def append_many(self, entries: Iterable[LogEntry], now: int) -> None:
        """Queue entries in order, in the caller's transaction, without the log's lock (or,
        not queued, sequence them in it). Queued, they stream: each entry's text is made as
        COPY asks for it (`entries` may be a generator making the entries too)."""
        if not self.uses_queue:
            listed = list(entries)
            if listed:
                self.append_many_sequenced(listed, now)
            return
        self.queued += insert_tuples(
            self.conn,
            "log_pending",
            ("appended_at", "entry", "subject_ref"),
            ((now, canonical_entry(e, PENDING_SEQ, now), _about(e)) for e in entries),
        )  # in order: the queue's order is pending_id's

    def append_sequenced(self, entry: LogEntry, now: int) -> int:
        return self.append_many_sequenced([entry], now)[0]

    def append_many_sequenced(self, entries: Sequence[LogEntry], now: int) -> list[int]:
        """Sequence the queue, then append these entries after it with their numbers, in the
        caller's transaction, which holds the log's lock from here until it ends."""
        self.integrate(now)
        size = self.size()
        self._append_texts(
            [(canonical_entry(e, PENDING_SEQ, now), now, _about(e)) for e in entries], now
        )
        return list(range(size, size + len(entries)))

    def integrate(self, now: int, limit: int | None = None) -> int:
        """The sequencer's step: take the log's lock, sequence up to `limit` queued entries
        (all of them if None) in queue order, and delete them from the queue. An entry's time
        is when it was appended, or the previous entry's if later (commits can finish in
        another order than their appends began), so times never go back along the log."""
        self._lock()
        query = select(log_pending).order_by(log_pending.c.pending_id)
        if limit is not None:
            query = query.limit(limit)
        rows = self.conn.execute(query).all()
        if not rows:
            return 0
        self._append_texts([(r.entry, r.appended_at, r.subject_ref) for r in rows], now)
        for where in each_in(self.conn, log_pending.c.pending_id, [r.pending_id for r in rows]):
            self.conn.execute(delete(log_pending).where(where))
        return len(rows)

    def _append_texts(self, queued: Sequence[Queued], now: int) -> None:
        """Write queued entries (text with PENDING_SEQ, time appended, about whom) to the log in
        order. A checkpoint still falls every N entries inside a batch: its root comes from the
        subtree hashes held in memory; the rows and hashes of the whole batch are written at
        once, before the checkpoints that cover them."""
        if not queued:
            return
        size = self.size()  # the callers hold the log's lock (integrate takes it)
        # The subtrees the new leaves complete lean on the frontier of the tree as it stands
        # (its perfect subtrees, one per bit of its size): read in one round trip, not one each.
        self._read_many(merkle.frontier(size))
        last = self.latest_checkpoint()
        last_size = last.size if last else 0
        latest = self._last_time()
        fresh: dict[tuple[int, int], bytes] = {}
        marks: list[tuple[int, int]] = []  # (size, time) of the checkpoints that fall due

        def rows() -> Iterator[tuple[object, ...]]:
            """The entries' rows, made as they are stored (adapters/db/bulk.py)."""
            nonlocal size, latest, last_size
            for text, at, about in queued:
                latest = max(latest, at)
                yield self._row(text, size, latest, about, fresh)
                size += 1
                if size - last_size >= self.policy.every_entries:
                    marks.append((size, max(now, latest)))
                    last_size = size

        insert_tuples(self.conn, "log_entries", ENTRY_COLUMNS, rows())
        # A leaf's hash is in its entry's row (`leaf_hash`): only the levels above are stored
        # apart. (Logs written before kept level 0 here too; it is never read from here.)
        insert_tuples(self.conn, "log_hashes", ("level", "idx", "hash"),
                          [(lv, ix, h) for (lv, ix), h in fresh.items() if lv])  # fmt: skip
        self._known.update(fresh)
        signed = [self._signed(at_size, at_time) for at_size, at_time in marks]
        # The T-seconds half, if it is due: from what this batch knows, not read again.
        last_time = signed[-1].time if signed else (last.time if last else None)
        at = max(now, latest)
        if checkpoint_due(size, last_size, last_time, at, self.policy.every_entries,
                          self.policy.every_seconds):  # fmt: skip
            signed.append(self._signed(size, at))
        self._store(signed)

    def _row(
        self, queued: str, seq: int, time: int, about: str | None,
        fresh: dict[tuple[int, int], bytes],
    ) -> tuple[object, ...]:  # fmt: skip
        text = sequenced(queued, seq, time)
        leaf = merkle.leaf_hash(text.encode())

        def read(level: int, idx: int) -> bytes:
            found = fresh.get((level, idx))
            return found if found is not None else self._read(level, idx)

        for level, idx, h in merkle.hashes_to_store(seq, leaf, read):
            fresh[(level, idx)] = h
        return (seq, time, text, leaf, about)  # ENTRY_COLUMNS

    def _last_time(self) -> int:
        found = self.conn.execute(
            select(log_entries.c.time).order_by(log_entries.c.seq.desc()).limit(1)
        ).scalar()
        return int(found) if found is not None else 0

    def pending(self) -> tuple[int, int | None]:
        """How many entries wait in the queue, and since when the oldest has waited."""
        row = self.conn.execute(
            select(func.count(), func.min(log_pending.c.appended_at)).select_from(log_pending)
        ).one()
        return int(row[0]), (int(row[1]) if row[1] is not None else None)

    def pending_about(self, subject_ref: str, limit: int) -> list[tuple[int, str]]:
        """Queued entries about one person (by commitment), newest first: (appended at, text)."""
        rows = self.conn.execute(
            select(log_pending.c.appended_at, log_pending.c.entry)
            .where(log_pending.c.subject_ref == subject_ref)
            .order_by(log_pending.c.pending_id.desc())
            .limit(limit)
        )
        return [(r.appended_at, r.entry) for r in rows]

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
        return self._sign(size, now)

    def _sign(self, size: int, now: int) -> Checkpoint:
        signed = self._signed(size, now)
        self._store([signed])
        return signed

    def _signed(self, size: int, now: int) -> Checkpoint:
        root = self.root(size)
        return Checkpoint(size, now, root, self.signer(size, root, now))

    def _store(self, signed: Sequence[Checkpoint]) -> None:
        """Checkpoints, in one statement (a batch of the sequencer falls due every N entries)."""
        if signed:
            self.conn.execute(
                insert(log_checkpoints),
                [{"size": c.size, "time": c.time, "root": c.root, "note": c.note} for c in signed],
            )
