"""Merkle tree arithmetic of the transparency log (RFC 9162 §2.1), over stored subtree hashes.

The log never keeps a tree in memory. Like golang.org/x/mod/sumdb/tlog, it stores the hash of
every *complete perfect subtree* once, when that subtree is completed:

    (level L, index i)  ->  MTH of leaves [i * 2**L, (i + 1) * 2**L)

Level 0 holds the leaf hashes. Every tree head and every proof RFC 9162 defines is made of such
perfect subtrees, so each needs O(log n) reads and no write ever changes a stored hash: that is
what makes the store append-only (an UPDATE on a stored hash is always an attack or a bug).

Standard library only: this module is domain code (checked by import-linter).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32

# RFC 9162 §2.1.1: the hash of an empty list is the hash of an empty string.
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()

# (level, index) -> stored hash. A missing hash is a broken store, so readers should raise.
HashReader = Callable[[int, int], bytes]
# Batch variant: fetch many (level, index) positions in one round trip, results in order.
HashBatchReader = Callable[[Sequence[tuple[int, int]]], Sequence[bytes]]


def leaf_hash(entry: bytes) -> bytes:
    """MTH of one entry (RFC 9162 §2.1.1). The 0x00 prefix separates leaves from nodes (§2.1)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node (RFC 9162 §2.1.1); the 0x01 prefix stops second-preimage leaf forgeries."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The k of RFC 9162 §2.1.1: the largest power of two strictly smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def hashes_to_store(n: int, leaf: bytes, read: HashReader) -> list[tuple[int, int, bytes]]:
    """Everything to store when appending leaf number `n` (0-based; the tree had n leaves).

    `leaf` is the leaf's *hash* (see `leaf_hash`), so the caller hashes the entry exactly once
    and can record that same value next to the entry. Returns the level-0 hash and then each
    perfect subtree this leaf completes, bottom up; completing one needs its left sibling,
    which was stored earlier and is fetched with `read`.
    """
    if n < 0:
        raise ValueError(f"leaf number must be >= 0, got {n}")
    if len(leaf) != HASH_SIZE:
        raise ValueError(f"leaf must be a {HASH_SIZE}-byte leaf hash, got {len(leaf)} bytes")
    out = [(0, n, leaf)]
    level, index, h = 0, n, leaf
    # A subtree is completed exactly when this leaf is the right child at that level.
    while index & 1:
        h = node_hash(read(level, index - 1), h)
        level, index = level + 1, index >> 1
        out.append((level, index, h))
    return out


def frontier(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees a tree of `size` leaves is made of (one per set bit of `size`),
    largest first: the only stored hashes that appending leaves after them reads as left
    siblings (`hashes_to_store`); every other sibling it needs is one those appends store."""
    return [
        (level, (size >> level) - 1)
        for level in reversed(range(size.bit_length()))
        if size >> level & 1
    ]


def hashes_to_store_for_entry(
    n: int, entry: bytes, read: HashReader
) -> list[tuple[int, int, bytes]]:
    """`hashes_to_store` for the raw entry bytes."""
    return hashes_to_store(n, leaf_hash(entry), read)


def _subtree_positions(lo: int, hi: int) -> list[tuple[int, int]]:
    """Stored positions whose right fold is MTH(D[lo:hi]).

    RFC 9162 §2.1.1 splits n leaves into a perfect left part of k = largest power of two < n
    leaves and the rest, so MTH is the right fold of the binary decomposition of hi - lo,
    largest part first. Each part is a stored hash only when lo is aligned to the first part,
    which holds for every subtree of an RFC 9162 tree; anything else is a caller bug.
    """
    if not 0 <= lo < hi:
        raise ValueError(f"need 0 <= lo < hi, got lo={lo}, hi={hi}")
    first = 1 << ((hi - lo).bit_length() - 1)
    if lo % first:
        raise ValueError(f"range [{lo}, {hi}) is not a subtree of any Merkle tree")
    positions = []
    while lo < hi:
        width = 1 << ((hi - lo).bit_length() - 1)
        level = width.bit_length() - 1
        positions.append((level, lo >> level))
        lo += width
    return positions


def _fold(hashes: Sequence[bytes]) -> bytes:
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = node_hash(left, h)
    return h


def subtree_hash(lo: int, hi: int, read: HashReader) -> bytes:
    """MTH(D[lo:hi]) (RFC 9162 §2.1.1) from at most log2(hi - lo) + 1 stored hashes."""
    return _fold([read(level, index) for level, index in _subtree_positions(lo, hi)])


def tree_hash(size: int, read: HashReader) -> bytes:
    """MTH of the first `size` leaves (RFC 9162 §2.1.1): the root a checkpoint signs."""
    if size < 0:
        raise ValueError(f"tree size must be >= 0, got {size}")
    return EMPTY_ROOT if size == 0 else subtree_hash(0, size, read)


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtrees of PATH(m, D[n]) (RFC 9162 §2.1.3.1), leaf level first."""
    if not 0 <= index < size:
        raise ValueError(f"need 0 <= index < size, got index={index}, size={size}")
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:  # PATH(m, D[0:k]) : MTH(D[k:n])
            ranges.append((lo + k, hi))
            hi = lo + k
        else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            ranges.append((lo, lo + k))
            lo += k
    # Descending builds the path root first; RFC 9162 lists it from the leaf up.
    ranges.reverse()
    return ranges


def _consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The subtrees of PROOF(m, D[n]) = SUBPROOF(m, D[n], true) (RFC 9162 §2.1.4.1)."""
    if not 0 < old <= new:
        raise ValueError(f"need 0 < old <= new, got old={old}, new={new}")
    ranges: list[tuple[int, int]] = []
    lo, hi, m, whole = 0, new, old, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            ranges.append((lo + k, hi))
            hi = lo + k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            ranges.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:  # m == n and b is false: the old tree's own subtree opens the proof
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def _read_ranges(ranges: Sequence[tuple[int, int]], read: HashReader) -> list[bytes]:
    return [subtree_hash(lo, hi, read) for lo, hi in ranges]


def inclusion_proof(index: int, size: int, read: HashReader) -> list[bytes]:
    """Audit path of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1)."""
    return _read_ranges(_inclusion_ranges(index, size), read)


def consistency_proof(old: int, new: int, read: HashReader) -> list[bytes]:
    """Proof that the tree of `old` leaves is a prefix of the tree of `new` (RFC 9162 §2.1.4.1).

    old == new gives the empty proof. old == 0 is refused: every tree extends the empty one,
    so there is nothing to prove, and RFC 9162 defines PROOF only for 0 < m.
    """
    return _read_ranges(_consistency_ranges(old, new), read)


# --- batch support: plan the reads, fetch them in one round trip, then assemble ---------------


def _plan(ranges: Sequence[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    return [_subtree_positions(lo, hi) for lo, hi in ranges]


def _assemble(plan: list[list[tuple[int, int]]], read_many: HashBatchReader) -> list[bytes]:
    wanted = sorted({pos for group in plan for pos in group})
    fetched = list(read_many(wanted))
    if len(fetched) != len(wanted):
        raise ValueError(f"batch reader returned {len(fetched)} hashes for {len(wanted)} asked")
    found = dict(zip(wanted, fetched, strict=True))
    return [_fold([found[pos] for pos in group]) for group in plan]


def tree_hash_batch(size: int, read_many: HashBatchReader) -> bytes:
    """`tree_hash` with a single batch read."""
    if size < 0:
        raise ValueError(f"tree size must be >= 0, got {size}")
    return EMPTY_ROOT if size == 0 else _assemble(_plan([(0, size)]), read_many)[0]


def inclusion_proof_batch(index: int, size: int, read_many: HashBatchReader) -> list[bytes]:
    """`inclusion_proof` with a single batch read."""
    return _assemble(_plan(_inclusion_ranges(index, size)), read_many)


def consistency_proof_batch(old: int, new: int, read_many: HashBatchReader) -> list[bytes]:
    """`consistency_proof` with a single batch read."""
    return _assemble(_plan(_consistency_ranges(old, new)), read_many)
