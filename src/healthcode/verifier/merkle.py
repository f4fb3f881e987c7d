"""Verifying RFC 9162 Merkle proofs, with no server code (the verifier is standalone).

The hashing is written again here on purpose rather than imported from the server's domain:
an auditor must be able to check the log with code that shares nothing with the code it is
checking. Every function returns False on malformed input instead of raising, because input
here comes from an untrusted server or file and "not proven" is the only safe answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 9162 §2.1.1: MTH({}) = HASH()


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1 interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    # bool is an int subclass; True as a tree size is a caller bug, not a size of one.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _hashes_ok(proof: object) -> bool:
    if isinstance(proof, bytes | str) or not isinstance(proof, Sequence):
        return False
    return all(_is_hash(p) for p in proof)


class TreeBuilder:
    """Streaming MTH of a growing list of leaf hashes in O(log n) memory.

    Keeps the hashes of the perfect subtrees the leaves so far decompose into (largest first);
    RFC 9162 §2.1.1's split makes the root the right fold of exactly those. An audit of a
    long log copy can so check every checkpoint root in one pass without holding the log.
    """

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash (not the entry)."""
        h = leaf
        n = self.size
        while n & 1:  # each trailing 1 bit is a perfect subtree this leaf completes
            h = node_hash(self._stack.pop(), h)
            n >>= 1
        self._stack.append(h)
        self.size += 1

    def root(self) -> bytes:
        """MTH of all leaves appended so far."""
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (RFC 9162 §2.1.1)."""
    builder = TreeBuilder()
    for h in hashes:
        builder.append(h)
    return builder.root()


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `proof` show leaf `index` of a `size`-leaf tree under `root`?"""
    if not (_is_hash(leaf_hash) and _is_hash(root) and _hashes_ok(proof)):
        return False
    if not (_is_size(index) and _is_size(size)) or index >= size:  # step 1
        return False
    fn, sn, r = index, size - 1, leaf_hash  # steps 2-3
    for p in proof:  # step 4
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:  # climb past levels where we are the right child
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root  # step 5


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the `old_size` tree a prefix of the `new_size` tree?

    Two cases RFC 9162 leaves to the caller are settled the way transparency-dev/merkle does:
    equal sizes need an empty proof and equal roots; the empty tree (whose root must be
    SHA-256 of nothing) is a prefix of every tree with an empty proof.
    """
    if not (_is_hash(old_root) and _is_hash(new_root) and _hashes_ok(proof)):
        return False
    if not (_is_size(old_size) and _is_size(new_size)) or old_size > new_size:
        return False
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    if old_size == 0:
        return len(proof) == 0 and old_root == EMPTY_ROOT
    if len(proof) == 0:  # step 1
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2: a power of two is itself a stored subtree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0  # step 7
