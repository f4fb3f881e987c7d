"""Stored-hash Merkle trees (domain) checked against RFC 6962/9162 vectors and the verifier."""

from __future__ import annotations

import hashlib

import pytest

from healthcode.domain import merkle
from healthcode.verifier import merkle as vmerkle

# The Certificate Transparency reference leaves and roots (RFC 6962 test data, also used by
# transparency-dev/merkle): RFC 9162 keeps the same hashing, so a log that disagrees with these
# proves nothing to anyone else.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


class Store:
    """A dict-backed hash store that counts reads (proofs must stay O(log n))."""

    def __init__(self) -> None:
        self.hashes: dict[tuple[int, int], bytes] = {}
        self.size = 0
        self.reads = 0

    def read(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.hashes[(level, index)]

    def read_many(self, positions: object) -> list[bytes]:
        assert isinstance(positions, list)
        return [self.hashes[p] for p in positions]

    def append(self, entry: bytes) -> None:
        for level, index, h in merkle.hashes_to_store_for_entry(self.size, entry, self.read):
            assert (level, index) not in self.hashes, "stored hashes are write-once"
            self.hashes[(level, index)] = h
        self.size += 1


def build(entries: list[bytes]) -> Store:
    store = Store()
    for e in entries:
        store.append(e)
    return store


def entries(n: int) -> list[bytes]:
    return [f"entry-{i}".encode() for i in range(n)]


def test_hash_primitives() -> None:
    assert hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT
    assert merkle.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert merkle.leaf_hash(b"x") == vmerkle.leaf_hash(b"x")


def test_reference_roots() -> None:
    store = build(CT_LEAVES)
    for size, want in enumerate(CT_ROOTS):
        assert merkle.tree_hash(size, store.read).hex() == want
        hashes = [merkle.leaf_hash(e) for e in CT_LEAVES[:size]]
        assert vmerkle.root_from_leaf_hashes(hashes).hex() == want


def test_reference_proofs() -> None:
    store = build(CT_LEAVES)
    assert [p.hex() for p in merkle.inclusion_proof(0, 8, store.read)] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]
    assert [p.hex() for p in merkle.inclusion_proof(5, 8, store.read)] == [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    assert [p.hex() for p in merkle.consistency_proof(2, 5, store.read)] == [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]


def test_hashes_to_store_completes_subtrees() -> None:
    store = build(entries(7))
    new = merkle.hashes_to_store_for_entry(7, b"entry-7", store.read)
    # Leaf 7 closes the pairs (6,7), (4..7) and (0..7).
    assert [(level, index) for level, index, _ in new] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert new[-1][2] == vmerkle.root_from_leaf_hashes(
        [merkle.leaf_hash(e) for e in [*entries(7), b"entry-7"]]
    )
    assert len(merkle.hashes_to_store_for_entry(8, b"x", store.read)) == 1


def test_proofs_for_sizes_1_to_20_verify() -> None:
    data = entries(20)
    store = build(data)
    leaves = [merkle.leaf_hash(e) for e in data]
    for size in range(1, 21):
        root = merkle.tree_hash(size, store.read)
        assert root == vmerkle.root_from_leaf_hashes(leaves[:size])
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, store.read)
            assert vmerkle.verify_inclusion(leaves[index], index, size, proof, root)
            assert not vmerkle.verify_inclusion(leaves[index], index, size, proof, bytes(32))
            assert not vmerkle.verify_inclusion(leaves[index], index, size, [*proof, root], root)
            if size > 1:
                other = (index + 1) % size
                assert not vmerkle.verify_inclusion(leaves[other], index, size, proof, root)
        for old in range(1, size + 1):
            old_root = merkle.tree_hash(old, store.read)
            proof = merkle.consistency_proof(old, size, store.read)
            assert vmerkle.verify_consistency(old, size, old_root, root, proof)
            if old < size:
                assert not vmerkle.verify_consistency(old, size, root, root, proof)
                assert not vmerkle.verify_consistency(old, size, old_root, old_root, proof)


def test_reads_are_logarithmic() -> None:
    store = build(entries(1000))
    store.reads = 0
    merkle.tree_hash(1000, store.read)
    assert store.reads <= 10
    store.reads = 0
    merkle.inclusion_proof(517, 1000, store.read)
    assert store.reads <= 2 * 10 * 10  # each of <= 10 proof nodes is <= 10 stored hashes
    store.reads = 0
    merkle.consistency_proof(333, 1000, store.read)
    assert store.reads <= 2 * 10 * 10


def test_batch_variants_match() -> None:
    store = build(entries(37))
    for size in (1, 2, 13, 37):
        assert merkle.tree_hash_batch(size, store.read_many) == merkle.tree_hash(size, store.read)
        for index in (0, size // 2, size - 1):
            assert merkle.inclusion_proof_batch(
                index, size, store.read_many
            ) == merkle.inclusion_proof(index, size, store.read)
        for old in (1, size // 2 or 1, size):
            assert merkle.consistency_proof_batch(
                old, size, store.read_many
            ) == merkle.consistency_proof(old, size, store.read)
    assert merkle.tree_hash_batch(0, store.read_many) == merkle.EMPTY_ROOT


def test_subtree_hash_and_edges() -> None:
    store = build(entries(8))
    leaves = [merkle.leaf_hash(e) for e in entries(8)]
    assert merkle.subtree_hash(4, 7, store.read) == vmerkle.root_from_leaf_hashes(leaves[4:7])
    assert merkle.tree_hash(0, store.read) == merkle.EMPTY_ROOT
    assert merkle.consistency_proof(5, 5, store.read) == []
    assert merkle.inclusion_proof(0, 1, store.read) == []


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (merkle.inclusion_proof, (5, 5)),
        (merkle.inclusion_proof, (-1, 5)),
        (merkle.inclusion_proof, (0, 0)),
        (merkle.consistency_proof, (0, 5)),
        (merkle.consistency_proof, (6, 5)),
        (merkle.consistency_proof, (-1, 5)),
        (merkle.tree_hash, (-1,)),
        (merkle.subtree_hash, (3, 3)),
        (merkle.subtree_hash, (1, 3)),  # not aligned: no stored hashes make it
        (merkle.subtree_hash, (-2, 3)),
    ],
)
def test_argument_errors(call: object, args: tuple[int, ...]) -> None:
    store = build(entries(8))
    with pytest.raises(ValueError, match=r"."):
        call(*args, store.read)  # type: ignore[operator]


def test_hashes_to_store_argument_errors() -> None:
    store = build(entries(2))
    with pytest.raises(ValueError, match="leaf number"):
        merkle.hashes_to_store(-1, bytes(32), store.read)
    with pytest.raises(ValueError, match="leaf hash"):
        merkle.hashes_to_store(2, b"entry bytes, not a hash", store.read)


def test_verifier_never_raises_on_garbage() -> None:
    h = bytes(32)
    assert not vmerkle.verify_inclusion(h, 0, 0, [], h)
    assert not vmerkle.verify_inclusion(h, -1, 3, [], h)
    assert not vmerkle.verify_inclusion(b"short", 0, 1, [], h)
    assert not vmerkle.verify_inclusion(h, 0, 1, [b"x"], h)
    assert not vmerkle.verify_inclusion(h, 0, 1, b"", h)  # type: ignore[arg-type]
    assert not vmerkle.verify_inclusion(h, True, 2, [h], h)
    assert vmerkle.verify_inclusion(h, 0, 1, [], h)  # a one-leaf tree's root is its leaf
    assert not vmerkle.verify_consistency(2, 1, h, h, [])
    assert not vmerkle.verify_consistency(1, 2, h, h, [])
    assert not vmerkle.verify_consistency(1, 2, h, h, None)  # type: ignore[arg-type]
    assert vmerkle.verify_consistency(3, 3, h, h, [])
    assert not vmerkle.verify_consistency(3, 3, h, bytes(31) + b"\x01", [])
    assert not vmerkle.verify_consistency(3, 3, h, h, [h])
    assert vmerkle.verify_consistency(0, 3, vmerkle.EMPTY_ROOT, h, [])
    assert not vmerkle.verify_consistency(0, 3, h, h, [])
    assert not vmerkle.verify_inclusion(h, 0, 2, [h, h], h)  # too long a path
