"""AUD-3: a signed checkpoint at least every N entries or every T seconds; AUD-9 consistency."""

from __future__ import annotations

import itertools

import pytest

from healthcode.adapters.clock import FixedClock
from healthcode.adapters.db.migrate import downgrade, newest_revision, stored_revisions, upgrade
from healthcode.bootstrap import App
from healthcode.domain.audit import SYSTEM, LogEntry, checkpoint_due
from healthcode.services import audit, enrolment
from healthcode.verifier.checkpoint import verify_checkpoint
from healthcode.verifier.merkle import root_from_leaf_hashes, verify_consistency, verify_inclusion

DOCS = ["11010519491231002X", "110105194912310021"]


def test_checkpoint_rule() -> None:
    assert checkpoint_due(5, 0, None, 100, 64, 60)  # never signed: sign now
    assert not checkpoint_due(5, 5, 90, 100, 64, 60)  # nothing new
    assert not checkpoint_due(10, 5, 90, 100, 64, 60)  # new, but neither N nor T reached
    assert checkpoint_due(69, 5, 90, 100, 64, 60)  # N entries
    assert checkpoint_due(6, 5, 30, 100, 64, 60)  # T seconds


def test_every_n_entries_and_every_t_seconds(app: App, clock: FixedClock) -> None:
    every = app.settings.checkpoint_every_entries  # 4 in tests
    start = audit.latest_checkpoint(app.ctx)
    assert start is not None
    for number in range(every):
        clock.advance(1)
        enrolment.enrol_resident(
            app.ctx,
            enrolment.EnrolResident("孙七", "passport", f"E1234567{number}", f"1351234567{number}"),
        )
    after_n = audit.latest_checkpoint(app.ctx)
    assert after_n is not None
    assert after_n.size >= start.size + every  # the N-entry rule signed inside the appends
    assert audit.checkpoint_now(app.ctx) is None  # nothing waiting
    enrolment.enrol_resident(
        app.ctx, enrolment.EnrolResident("孙八", "passport", "G98765432", "13512345670")
    )
    assert audit.checkpoint_now(app.ctx) is None  # waiting, but T has not passed
    clock.advance(app.settings.checkpoint_every_seconds)
    by_time = audit.checkpoint_now(app.ctx)
    assert by_time is not None
    assert by_time.size == audit.log_size(app.ctx)


def test_successive_checkpoints_are_signed_and_consistent(app: App, clock: FixedClock) -> None:
    for number in range(9):
        clock.advance(7)
        enrolment.enrol_resident(
            app.ctx,
            enrolment.EnrolResident(
                "周九", "passport", f"P00000{number:03d}", f"1391234500{number}"
            ),
        )
    audit.checkpoint_now(app.ctx, force=True)
    vkey = app.keyring.log_vkey()
    signed = [verify_checkpoint(c.note, vkey) for c in audit.checkpoints(app.ctx)]
    assert len(signed) >= 3
    for older, newer in itertools.pairwise(signed):
        assert newer.size > older.size
        proof = audit.consistency_proof(app.ctx, older.size, newer.size)
        assert verify_consistency(older.size, newer.size, older.root, newer.root, proof)
    latest = signed[-1]
    assert audit.root(app.ctx, latest.size) == latest.root


@pytest.mark.parametrize("how", ["sequenced", "queued"])
def test_a_batch_append_matches_single_appends_and_keeps_the_n_entry_rule(
    app: App, clock: FixedClock, how: str
) -> None:
    """A batch of entries is written as a stretch at once (numbered in the writer's
    transaction, or queued and then sequenced), yet the tree is the one single appends build
    and a checkpoint still falls at least every N entries inside the batch."""
    every = app.settings.checkpoint_every_entries  # 4 in tests
    entries = [
        LogEntry("test.batch", SYSTEM, "subject", f"c{n}", "test", "test", details={"n": n})
        for n in range(3 * every + 1)
    ]
    app.ctx.uow.queue_entries = how == "queued"  # type: ignore[attr-defined]
    with app.ctx.uow() as uow:
        start = uow.log.size()
        before = uow.log.latest_checkpoint()
        if how == "sequenced":
            seqs = uow.log.append_many_sequenced(entries, clock.now())
            assert seqs == list(range(start, start + len(entries)))
        else:
            uow.log.append_many(entries, clock.now())
        uow.commit()  # queued: sequenced once committed
    assert audit.log_size(app.ctx) == start + len(entries)
    signed = audit.checkpoints(app.ctx, before.size if before else 0)
    sizes = [c.size for c in signed]
    marks = [before.size if before else 0, *sizes]
    assert max(b - a for a, b in itertools.pairwise(marks)) <= every
    size = audit.log_size(app.ctx)
    # Exactly: one every N entries from the last checkpoint, at the batch's time, and none to
    # close the batch (neither N entries nor T seconds since the last of them).
    assert sizes == list(range(marks[0] + every, size + 1, every))
    assert {c.time for c in signed} == {clock.now()}
    assert all(c.root == audit.root(app.ctx, c.size) for c in signed)
    # T seconds later, one entry: a checkpoint closes the batch, at its size and time.
    clock.advance(app.settings.checkpoint_every_seconds)
    one = LogEntry("test.batch", SYSTEM, "subject", "c-late", "test", "test")
    with app.ctx.uow() as uow:
        if how == "sequenced":
            uow.log.append_many_sequenced([one], clock.now())
        else:
            uow.log.append_many([one], clock.now())
        uow.commit()
    closing = audit.checkpoints(app.ctx, sizes[-1])
    assert [(c.size, c.time) for c in closing] == [(size + 1, clock.now())]
    leaves = [bytes.fromhex(e.leaf_hash) for e in audit.read_entries(app.ctx, 0, size)]
    assert audit.root(app.ctx, size) == root_from_leaf_hashes(leaves)
    for index in (start, size - 1):
        proof = audit.inclusion_proof(app.ctx, index, size)
        assert verify_inclusion(leaves[index], index, size, proof, root_from_leaf_hashes(leaves))


def test_a_leaf_hash_is_stored_once_in_its_entry_row(app: App, clock: FixedClock) -> None:
    """The level-0 hash of the tree is the leaf hash its entry's row holds: `log_hashes` keeps
    only the subtrees above the leaves (one row each), and roots and proofs read afresh, in
    another transaction, take the leaves from the entries."""
    size = _appended(app, clock, 13)
    with app.engine.connect() as conn:
        levels = [row[0] for row in conn.exec_driver_sql("SELECT level FROM log_hashes")]
    assert 0 not in levels
    # Every perfect subtree of two or more leaves, once: size - popcount(size) of them.
    assert len(levels) == size - size.bit_count()
    leaves = [bytes.fromhex(e.leaf_hash) for e in audit.read_entries(app.ctx, 0, size)]
    root = root_from_leaf_hashes(leaves)
    assert audit.root(app.ctx, size) == root
    for index in range(size):  # every leaf, with its sibling leaf read from the entries
        proof = audit.inclusion_proof(app.ctx, index, size)
        assert verify_inclusion(leaves[index], index, size, proof, root)
    for old in (1, 3, size - 1):
        proof = audit.consistency_proof(app.ctx, old, size)
        assert verify_consistency(old, size, root_from_leaf_hashes(leaves[:old]), root, proof)


def test_a_downgrade_writes_back_the_leaves_older_code_reads(app: App, clock: FixedClock) -> None:
    """Revision 0015 marks the change; going back to 0014 writes the level-0 rows the code of
    that revision reads, each the leaf hash of its entry, and going forward again leaves the
    log as it was."""
    size = _appended(app, clock, 5)
    leaves = {e.seq: bytes.fromhex(e.leaf_hash) for e in audit.read_entries(app.ctx, 0, size)}
    root = audit.root(app.ctx, size)
    downgrade(app.engine, "0014")
    with app.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT idx, hash FROM log_hashes WHERE level = 0").all()
    assert {idx: bytes(h) for idx, h in rows} == leaves
    upgrade(app.engine)
    assert stored_revisions(app.engine) == [newest_revision()]
    assert audit.root(app.ctx, size) == root == root_from_leaf_hashes(list(leaves.values()))


def _appended(app: App, clock: FixedClock, count: int) -> int:
    """`count` entries appended in one transaction; the log's size after them."""
    entries = [
        LogEntry("test.leaf", SYSTEM, "subject", f"c{n}", "test", "test", details={"n": n})
        for n in range(count)
    ]
    with app.ctx.uow() as uow:
        uow.log.append_many(entries, clock.now())
        uow.commit()
    return audit.log_size(app.ctx)
