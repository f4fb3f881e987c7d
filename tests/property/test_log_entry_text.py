"""A queued entry's text, numbered by the sequencer (domain/audit.py: sequenced), is exactly the
canonical text of the entry with that number and time: the log's leaves do not depend on whether
an entry waited in the queue. And the canonical text, written field by field, is what json.dumps
gives for the entry with sorted keys, whatever its texts hold."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from healthcode.domain.audit import (
    ENTRY_VERSION,
    PENDING_SEQ,
    Actor,
    LogEntry,
    canonical_entry,
    sequenced,
)

tokens = st.from_regex(r"[a-z][a-z0-9_.:]{0,20}", fullmatch=True)
texts = st.text(max_size=40)  # actor and object references are not tokens: quotes, commas, ...
entries = st.builds(
    LogEntry,
    tokens,
    st.builds(Actor, texts, texts),
    tokens,
    texts,
    tokens,
    tokens,
    st.sampled_from(["ok", "refused:not_permitted"]),
    st.dictionaries(
        tokens, st.one_of(tokens, st.integers(-(2**70), 2**70), st.booleans()), max_size=4
    ),
)


@given(entry=entries, appended=st.integers(0, 2**40), seq=st.integers(0, 2**50),
       time=st.integers(0, 2**40))  # fmt: skip
def test_a_numbered_queued_text_is_the_canonical_text(
    entry: LogEntry, appended: int, seq: int, time: int
) -> None:
    queued = canonical_entry(entry, PENDING_SEQ, appended)
    assert sequenced(queued, seq, time) == canonical_entry(entry, seq, time)


@given(entry=entries, seq=st.integers(-1, 2**50), time=st.integers(0, 2**40))
def test_the_canonical_text_is_json_with_sorted_keys(entry: LogEntry, seq: int, time: int) -> None:
    body = {
        "v": ENTRY_VERSION,
        "seq": seq,
        "time": time,
        "actor": {"role": entry.actor.role, "ref": entry.actor.ref},
        "action": entry.action,
        "object": {"kind": entry.object_kind, "ref": entry.object_ref},
        "purpose": entry.purpose,
        "basis": entry.basis,
        "outcome": entry.outcome,
        "details": dict(entry.details),
    }
    expected = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_entry(entry, seq, time) == expected
