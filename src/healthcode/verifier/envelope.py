"""Text framing of signed codes: PREFIX + base45(zlib(COSE_Sign1)), as in the EU DCC (hcert §3).

Base45 keeps the QR in alphanumeric mode (RFC 9285, verifier/base45.py); zlib shrinks the CBOR.
Decoding is bounded before any expensive step: the text length is capped, and decompression
stops at a fixed output size so a "zlib bomb" costs nothing.
"""

from __future__ import annotations

import zlib

from healthcode.verifier.base45 import Base45Error, b45decode, b45encode

HEALTH_CODE_PREFIX = "HCODE1:"
PLACE_CODE_PREFIX = "PLACE1:"

# A QR of version 10 holds at most 395 alphanumeric characters (level L); other cities' codes
# obey the same bound, so anything much longer is refused before decoding.
MAX_TEXT_CHARS = 1024
MAX_COSE_BYTES = 2048


class EnvelopeError(ValueError):
    """Framing is wrong; `code` is a stable reason code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


ZLIB_HEADER = b"\x78\x01"  # deflate, 32 KiB window, no dictionary (RFC 1950 §2.2)


def zlib_stored(data: bytes) -> bytes:
    """A zlib stream holding `data` in one stored deflate block (RFC 1951 §3.2.4).

    A code is mostly signature, nonce and key id: random bytes that deflate cannot shrink
    (a 188-byte code becomes 196 bytes at level 9). Storing is equally small, valid zlib for
    every inflater, and costs 0.5 µs instead of the 11–73 µs of setting up a compressor.
    Decoding (`unwrap`) accepts any zlib stream, compressed or not."""
    size = len(data)
    if size > 0xFFFF:
        raise ValueError("a stored block holds at most 65535 bytes")
    header = (
        ZLIB_HEADER + b"\x01" + size.to_bytes(2, "little") + (size ^ 0xFFFF).to_bytes(2, "little")
    )
    return header + data + zlib.adler32(data).to_bytes(4, "big")


def wrap(prefix: str, cose: bytes) -> str:
    return prefix + b45encode(zlib_stored(cose))


def check_prefix(text: object, prefix: str) -> str:
    """Framing: the input must be text carrying our versioned prefix."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise EnvelopeError("not_text", "code is not ASCII text") from None
    if not isinstance(text, str):
        raise EnvelopeError("not_text", "code must be text")
    text = text.strip()
    if not text.startswith(prefix):
        head = text[: len(prefix)]
        raise EnvelopeError("wrong_prefix", f"code must start with {prefix!r}, not {head!r}")
    return text


def check_size(text: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise EnvelopeError(
            "too_large", f"code is {len(text)} characters; at most {MAX_TEXT_CHARS}"
        )


def unwrap(text: str, prefix: str) -> bytes:
    """Base45 and zlib decoding of a text already checked by check_prefix and check_size."""
    body = text[len(prefix) :]
    try:
        compressed = b45decode(body)
    except Base45Error:
        raise EnvelopeError("bad_base45", "code is not valid base45") from None
    decompressor = zlib.decompressobj()
    try:
        cose: bytes = decompressor.decompress(compressed, MAX_COSE_BYTES + 1)
    except zlib.error:
        raise EnvelopeError("bad_compression", "code is not zlib-compressed") from None
    if len(cose) > MAX_COSE_BYTES or decompressor.unconsumed_tail:
        raise EnvelopeError("too_large", f"decompressed code exceeds {MAX_COSE_BYTES} bytes")
    if not decompressor.eof:
        raise EnvelopeError("bad_compression", "compressed data is truncated")
    if decompressor.unused_data:
        raise EnvelopeError("bad_compression", "trailing bytes after compressed data")
    return cose
