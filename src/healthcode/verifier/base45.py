"""Base45 (RFC 9285), table-driven.

Why our own: the only Base45 package on PyPI is pure Python with a per-pair arithmetic loop,
unchanged since 2022, and it costs about 40 µs per code each way — more than the ES256
signature itself, which made issuance and verification miss their targets (docs/BENCHMARKS.md).
Both directions work on all groups at once with big-integer "lanes" (see b45encode and
b45decode), so the loops run in C. Tests check it against
the RFC's examples and, by property, against the `base45` package.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

_DIV45, _SHIFT = 93207, 22  # multiply-shift division by 45, exact below 2**16
_MASKS: dict[int, int] = {}
_ALPHABET_BYTES = ALPHABET.encode("ascii")
_DIGITS = bytes.maketrans(_ALPHABET_BYTES, bytes(range(45)))
_CHARS = bytes.maketrans(bytes(range(45)), _ALPHABET_BYTES)


class Base45Error(ValueError):
    """Not valid Base45: a character outside the alphabet, a bad length or a value too large."""


def _lane_mask(groups: int) -> int:
    mask = _MASKS.get(groups)
    if mask is None:
        mask = _MASKS[groups] = int.from_bytes(b"\xff\xff\xff\xff\0\0\0\0" * groups, "little")
    return mask


def _lane_bytes(value: int, groups: int) -> bytes:
    """The low byte of every 64-bit lane (each digit is below 45)."""
    return value.to_bytes(8 * groups, "little")[0::8]


def b45encode(data: bytes) -> str:
    """Encode without a Python-level loop: each 2-byte group becomes a 64-bit lane of one big
    integer, and all groups are divided by 45 at once by a multiply and a shift
    (w // 45 == (w * 93207) >> 22 for every w < 65536, checked exhaustively in the tests)."""
    groups = len(data) // 2
    even = 2 * groups
    lane = bytearray(8 * groups)
    lane[0::8] = data[1:even:2]  # the RFC reads each pair big-endian
    lane[1::8] = data[0:even:2]
    words = int.from_bytes(lane, "little")
    mask = _lane_mask(groups)
    quotient = ((words * _DIV45) >> _SHIFT) & mask
    first = words - 45 * quotient
    third = ((quotient * _DIV45) >> _SHIFT) & mask
    second = quotient - 45 * third
    out = bytearray(3 * groups)
    out[0::3] = _lane_bytes(first, groups)
    out[1::3] = _lane_bytes(second, groups)
    out[2::3] = _lane_bytes(third, groups)
    if even != len(data):
        last = data[-1]
        out += bytes((last % 45, last // 45))
    return out.translate(_CHARS).decode("ascii")


def b45decode(text: str) -> bytes:
    """Decode without a Python-level loop: characters become digit values with one
    `bytes.translate`, each digit stream is widened into 32-bit lanes of one big integer by
    strided slice assignment, and a + 45·b + 2025·c is computed for every group at once."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise Base45Error("Base45 text is ASCII only") from None
    if raw.translate(None, _ALPHABET_BYTES):
        raise Base45Error("invalid Base45 character")
    rest = len(raw) % 3
    if rest == 1:
        raise Base45Error("Base45 text cannot have a length of 3n + 1")
    full = len(raw) - rest
    digits = raw.translate(_DIGITS)
    groups = full // 3
    lane = bytearray(4 * groups)
    lane[0::4] = digits[0:full:3]
    low = int.from_bytes(lane, "little")
    lane[0::4] = digits[1:full:3]
    mid = int.from_bytes(lane, "little")
    lane[0::4] = digits[2:full:3]
    high = int.from_bytes(lane, "little")
    values = (low + 45 * mid + 2025 * high).to_bytes(4 * groups, "little")
    if values[2::4].strip(b"\0"):
        raise Base45Error("a Base45 group exceeds 65535")
    out = bytearray(2 * groups)
    out[0::2] = values[1::4]  # each group is two bytes, most significant first
    out[1::2] = values[0::4]
    if rest == 2:
        value = digits[-2] + 45 * digits[-1]
        if value > 255:
            raise Base45Error("final Base45 pair exceeds one byte")
        out.append(value)
    return bytes(out)
