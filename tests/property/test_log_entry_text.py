"""A queued entry's text, numbered by the sequencer (domain/audit.py: sequenced), is exactly the
canonical text of the entry with that number and time: the log's leaves do not depend on whether
an entry waited in the queue."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from healthcode.domain.audit import PENDING_SEQ, Actor, LogEntry, canonical_entry, sequenced

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
    st.dictionaries(tokens, st.one_of(tokens, st.integers(-(2**40), 2**40)), max_size=4),
)


@given(entry=entries, appended=st.integers(0, 2**40), seq=st.integers(0, 2**50),
       time=st.integers(0, 2**40))  # fmt: skip
def test_a_numbered_queued_text_is_the_canonical_text(
    entry: LogEntry, appended: int, seq: int, time: int
) -> None:
    queued = canonical_entry(entry, PENDING_SEQ, appended)
    assert sequenced(queued, seq, time) == canonical_entry(entry, seq, time)
