"""The stored-hash Merkle code against a naive one written literally from RFC 9162.

The naive functions below transcribe RFC 9162 §2.1.1 (MTH), §2.1.3.1 (PATH) and §2.1.4.1
(PROOF/SUBPROOF) recursively on lists of entries, with no cleverness, so a disagreement points
at the optimised code. The verifier must accept the naive proofs and reject mutated ones.
"""

from __future__ import annotations

import hashlib

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from healthcode.domain import merkle
from healthcode.verifier import merkle as vmerkle


def _hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (RFC 9162 §2.1.1), by counting up."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1."""
    n = len(d)
    if n == 0:
        return _hash(b"")
    if n == 1:
        return _hash(b"\x00" + d[0])
    k = _k(n)
    return _hash(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1."""
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1."""
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def proof(m: int, d: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.4.1: PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
    return subproof(m, d, True)


def stored(d: list[bytes]) -> merkle.HashReader:
    """Append every entry into a dict store, as the server does; return its reader."""
    store: dict[tuple[int, int], bytes] = {}

    def read(level: int, index: int) -> bytes:
        return store[(level, index)]

    for n, entry in enumerate(d):
        for level, index, h in merkle.hashes_to_store_for_entry(n, entry, read):
            store[(level, index)] = h
    return read


entry_lists = st.lists(st.binary(max_size=8), min_size=1, max_size=70)


def _mutations(p: list[bytes]) -> list[list[bytes]]:
    """Proofs that must not verify: each element flipped, one dropped, one added."""
    out = []
    for i, h in enumerate(p):
        out.append([*p[:i], bytes([h[0] ^ 1]) + h[1:], *p[i + 1 :]])
    if p:
        out.append(p[:-1])
        out.append(p[1:])
    out.append([*p, bytes(32)])
    return out


@settings(max_examples=150, deadline=None)
@given(entry_lists, st.data())
def test_tree_hash_matches_naive(d: list[bytes], data: st.DataObject) -> None:
    read = stored(d)
    size = data.draw(st.integers(0, len(d)))
    assert merkle.tree_hash(size, read) == mth(d[:size])


@settings(max_examples=200, deadline=None)
@given(entry_lists, st.data())
def test_inclusion_matches_naive(d: list[bytes], data: st.DataObject) -> None:
    read = stored(d)
    size = data.draw(st.integers(1, len(d)))
    index = data.draw(st.integers(0, size - 1))
    want = path(index, d[:size])
    assert merkle.inclusion_proof(index, size, read) == want
    leaf, root = merkle.leaf_hash(d[index]), mth(d[:size])
    assert vmerkle.verify_inclusion(leaf, index, size, want, root)
    for bad in _mutations(want):
        assert not vmerkle.verify_inclusion(leaf, index, size, bad, root)
    assert not vmerkle.verify_inclusion(leaf, index, size, want, mth(d[: size - 1]))
    other = (index + 1) % size
    if d[other] != d[index]:  # equal leaves legitimately share proofs
        assert not vmerkle.verify_inclusion(merkle.leaf_hash(d[other]), index, size, want, root)


@settings(max_examples=200, deadline=None)
@given(entry_lists, st.data())
def test_consistency_matches_naive(d: list[bytes], data: st.DataObject) -> None:
    read = stored(d)
    new = data.draw(st.integers(1, len(d)))
    old = data.draw(st.integers(1, new))
    want = proof(old, d[:new])
    assert merkle.consistency_proof(old, new, read) == want
    old_root, new_root = mth(d[:old]), mth(d[:new])
    assert vmerkle.verify_consistency(old, new, old_root, new_root, want)
    for bad in _mutations(want):
        assert not vmerkle.verify_consistency(old, new, old_root, new_root, bad)
    if old < new:
        assert not vmerkle.verify_consistency(old, new, new_root, new_root, want)
        assert not vmerkle.verify_consistency(old, new, old_root, old_root, want)


@settings(max_examples=100, deadline=None)
@given(entry_lists, st.data())
def test_forked_history_is_not_consistent(d: list[bytes], data: st.DataObject) -> None:
    """A new tree that rewrote an old entry must fail consistency with the old root."""
    new = data.draw(st.integers(2, max(2, len(d))))
    assume(new <= len(d))
    old = data.draw(st.integers(1, new - 1))
    victim = data.draw(st.integers(0, old - 1))
    forked = [*d[:victim], d[victim] + b"!", *d[victim + 1 :]]
    p = proof(old, forked[:new])
    assert not vmerkle.verify_consistency(old, new, mth(d[:old]), mth(forked[:new]), p)


@settings(max_examples=300)
@given(size=st.integers(0, 5000), more=st.integers(1, 300))
def test_appends_read_only_the_frontier_or_their_own_hashes(size: int, more: int) -> None:
    """Appending leaves after a tree of `size` reads, as left siblings, only the perfect
    subtrees of that tree (`frontier`, which the sequencer reads in one round trip) and hashes
    the same appends stored before; the frontier's subtrees cover the tree's leaves exactly."""
    front = merkle.frontier(size)
    covered = 0
    for level, idx in front:  # largest first, left to right, no gaps
        assert idx << level == covered
        covered += 1 << level
    assert covered == size
    held = set(front)
    for n in range(size, size + more):

        def read(level: int, idx: int) -> bytes:
            assert (level, idx) in held, (level, idx)
            return b"\0" * merkle.HASH_SIZE

        for level, idx, _ in merkle.hashes_to_store(n, b"\1" * merkle.HASH_SIZE, read):
            held.add((level, idx))
