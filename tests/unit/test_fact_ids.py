"""Fact ids: a kind's letter and 64 random bits, made one at a time or many at once alike."""

from __future__ import annotations

import re

import pytest

from healthcode.domain.facts import FactKind, new_fact_id, new_fact_ids


@pytest.mark.parametrize("kind", list(FactKind))
def test_ids_made_together_look_like_ids_made_alone(kind: FactKind) -> None:
    shape = re.compile(re.escape(kind.value[0]) + r"[0-9a-f]{16}")
    together = new_fact_ids(kind, 1000)
    assert len(together) == 1000
    assert all(shape.fullmatch(i) for i in [*together, new_fact_id(kind)])
    assert len(set(together)) == 1000  # 64 random bits each: a repeat is a bug, not luck


def test_none_asked_none_made() -> None:
    assert new_fact_ids(FactKind.EXPOSURE, 0) == []
