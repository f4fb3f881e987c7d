"""A queued entry's text, numbered by the sequencer (domain/audit.py: sequenced), is exactly the
canonical text of the entry with that number and time: the log's leaves do not depend on whether
an entry waited in the queue. And the canonical text, written field by field, is what json.dumps
gives for the entry with sorted keys, whatever its texts hold."""

from __future__ import annotations

import json
from dataclasses import replace
from enum import IntEnum, StrEnum

from hypothesis import given
from hypothesis import strategies as st

from healthcode.domain.audit import (
    PENDING_SEQ,
    Actor,
    LogEntry,
    _dumped,
    canonical_entry,
    sequenced,
)
from healthcode.verifier.audit import canonical_json

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
    st.dictionaries(tokens, st.one_of(tokens, st.integers(-(2**70), 2**70)), max_size=4),
)


class Level(IntEnum):
    HIGH = 2


class Word(StrEnum):
    CLOSE = "close"


# What the type hints let through besides plain texts and integers: written as json.dumps
# writes it (canonical_entry hands such an entry to json.dumps whole).
odd_values = st.sampled_from([True, False, Level.HIGH, Word.CLOSE])
odd_entries = st.builds(
    replace,
    entries,
    details=st.dictionaries(tokens, st.one_of(tokens, odd_values), min_size=1, max_size=3),
    actor=st.builds(Actor, st.one_of(texts, st.just(Word.CLOSE)), texts),
    object_ref=st.one_of(texts, st.just(Word.CLOSE)),
)


@given(entry=entries, appended=st.integers(0, 2**40), seq=st.integers(0, 2**50),
       time=st.integers(0, 2**40))  # fmt: skip
def test_a_numbered_queued_text_is_the_canonical_text(
    entry: LogEntry, appended: int, seq: int, time: int
) -> None:
    queued = canonical_entry(entry, PENDING_SEQ, appended)
    assert sequenced(queued, seq, time) == canonical_entry(entry, seq, time)


def _as_json_writes_it(entry: LogEntry, seq: int, time: int) -> None:
    """The text is what json.dumps writes for the entry (`_dumped`: how entries were always
    written), and canonical by the independent verifier's own rule (sorted keys, no spaces,
    UTF-8)."""
    text = canonical_entry(entry, seq, time)
    assert text == _dumped(entry, seq, time)
    assert canonical_json(json.loads(text)) == text


@given(entry=entries, seq=st.integers(-1, 2**50), time=st.integers(0, 2**40))
def test_the_canonical_text_is_json_with_sorted_keys(entry: LogEntry, seq: int, time: int) -> None:
    _as_json_writes_it(entry, seq, time)


@given(entry=odd_entries, seq=st.one_of(st.integers(-1, 2**50), st.just(Level.HIGH)),
       time=st.one_of(st.integers(0, 2**40), st.just(Level.HIGH)))  # fmt: skip
def test_values_of_other_types_are_written_as_json_writes_them(
    entry: LogEntry, seq: int, time: int
) -> None:
    _as_json_writes_it(entry, seq, time)
