"""Our Base45 codec (RFC 9285) against the RFC's examples and the `base45` package."""

from __future__ import annotations

import base45 as reference
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthcode.verifier.base45 import _DIV45, _SHIFT, Base45Error, b45decode, b45encode

RFC_EXAMPLES = [
    (b"AB", "BB8"),
    (b"Hello!!", "%69 VD92EX0"),
    (b"base-45", "UJCLQE7W581"),
    (b"ietf!", "QED8WEX0"),
    (b"", ""),
]


@pytest.mark.parametrize(("raw", "text"), RFC_EXAMPLES)
def test_rfc_9285_examples(raw: bytes, text: str) -> None:
    assert b45encode(raw) == text
    assert b45decode(text) == raw


def test_the_multiply_shift_divides_every_16_bit_word_by_45() -> None:
    assert all((w * _DIV45) >> _SHIFT == w // 45 for w in range(65536))


def test_every_16_bit_group_round_trips() -> None:
    every_word = b"".join(w.to_bytes(2, "big") for w in range(65536))
    text = b45encode(every_word)
    assert text == reference.b45encode(every_word).decode()
    assert b45decode(text) == every_word


@settings(max_examples=500)
@given(st.binary(max_size=600))
def test_agrees_with_the_base45_package(data: bytes) -> None:
    text = b45encode(data)
    assert text == reference.b45encode(data).decode()
    assert b45decode(text) == data


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("GGW", "exceeds 65535"),
        (":::", "exceeds 65535"),
        ("A", "3n + 1"),
        ("abc", "character"),
        ("ZZ", "exceeds one byte"),
        ("ÄBC", "ASCII"),
        ("AB\x00", "character"),
        ("ABCD", "3n + 1"),
    ],
)
def test_invalid_text_is_refused_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(Base45Error, match=why.replace("+", r"\+")):
        b45decode(text)


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_arbitrary_text_decodes_or_raises_base45_error(text: str) -> None:
    try:
        data = b45decode(text)
    except Base45Error:
        return
    assert b45encode(data) == text
