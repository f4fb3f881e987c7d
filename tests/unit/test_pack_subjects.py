"""Many subject ids packed at once give the blocks of packing each, and refuse what each would."""

from __future__ import annotations

import secrets

import pytest

from healthcode.adapters.crypto.permutation import pack_subject, pack_subjects


def test_many_ids_pack_as_each_one_does() -> None:
    ids = [secrets.token_hex(16) for _ in range(50)]
    assert pack_subjects(ids) == b"".join(pack_subject(s) for s in ids)
    assert pack_subjects([]) == b""


@pytest.mark.parametrize(
    "bad",
    ["A" * 32, "a" * 31, "a" * 33, "a" * 30 + " a", " " + "a" * 31, "g" * 32, "é" * 32, ""],
)
def test_any_id_that_is_not_one_refuses_the_lot(bad: str) -> None:
    good = [secrets.token_hex(16) for _ in range(3)]
    with pytest.raises(ValueError, match="32 lowercase hex digits"):
        pack_subjects([*good, bad])
    with pytest.raises(ValueError, match="32 lowercase hex digits"):
        pack_subjects(["a" * 31, "a" * 33])  # lengths that add up
