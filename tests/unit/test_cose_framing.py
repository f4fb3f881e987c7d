"""Our hand-written CBOR framing equals cbor2's encoding of the same COSE structures."""

from __future__ import annotations

import cbor2
import pytest

from healthcode.verifier.cose import (
    COSE_SIGN1_TAG,
    cbor_bstr,
    encode_sign1,
    loads_exact,
    sig_structure,
)


@pytest.mark.parametrize("size", [0, 1, 23, 24, 255, 256, 65535, 65536, 70000])
def test_byte_string_head_matches_cbor2_for_every_length_class(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    assert cbor_bstr(data) == cbor2.dumps(data)


def test_sig_structure_and_sign1_match_cbor2() -> None:
    protected, payload, signature = b"\xa1\x01\x26", b"claims" * 30, bytes(64)
    assert sig_structure(protected, payload) == cbor2.dumps(["Signature1", protected, b"", payload])
    assert encode_sign1(protected, payload, signature) == cbor2.dumps(
        cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature])
    )


def test_exactly_one_cbor_item_is_accepted() -> None:
    assert loads_exact(cbor2.dumps({1: 2})) == {1: 2}
    with pytest.raises(ValueError, match="trailing"):
        loads_exact(cbor2.dumps({1: 2}) + b"\x00")
    with pytest.raises(ValueError, match="not CBOR"):
        loads_exact(b"\x82\x01")  # an array of two items with only one
