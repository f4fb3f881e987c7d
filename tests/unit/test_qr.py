"""QR symbols made by healthcode.adapters.qr, read back by healthcode.verifier.qr_image."""

from __future__ import annotations

import io
import random
import struct
import xml.etree.ElementTree as ET
import zlib

import pytest
import segno
from PIL import Image

from healthcode.adapters.qr import qr_matrix, qr_png, qr_svg, qr_version
from healthcode.verifier.qr_image import QrImageError, decode_qr_image

ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"  # base45 uses exactly this set


def place_payload(length: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    prefix = "PLACE1:"
    return prefix + "".join(rng.choice(ALPHANUMERIC) for _ in range(length - len(prefix)))


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("length", [50, 100, 150, 200, 250, 300, 320])
def test_png_round_trip(length: int) -> None:
    payload = place_payload(length, seed=length)
    assert len(payload) == length
    assert decode_qr_image(qr_png(payload)) == [payload]


@pytest.mark.parametrize("length", [50, 300])
def test_jpeg_round_trip(length: int) -> None:
    payload = place_payload(length, seed=length + 1)
    img = Image.open(io.BytesIO(qr_png(payload))).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    assert buf.getvalue()[:3] == b"\xff\xd8\xff"
    assert decode_qr_image(buf.getvalue()) == [payload]


def test_small_scale_and_border_still_decode() -> None:
    payload = place_payload(120)
    assert decode_qr_image(qr_png(payload, scale=3, border=4)) == [payload]


def test_transparent_background_is_flattened_onto_white() -> None:
    payload = place_payload(80)
    buf = io.BytesIO()
    segno.make(payload, error="m", boost_error=False).save(
        buf, kind="png", scale=6, border=4, dark="#000", light=None
    )
    img = Image.open(io.BytesIO(buf.getvalue()))
    assert img.mode in ("P", "LA", "RGBA") or "transparency" in img.info
    assert decode_qr_image(buf.getvalue()) == [payload]


def test_every_qr_in_the_picture_is_returned() -> None:
    a, b = place_payload(60, seed=1), place_payload(90, seed=2)
    img_a = Image.open(io.BytesIO(qr_png(a))).convert("L")
    img_b = Image.open(io.BytesIO(qr_png(b))).convert("L")
    canvas = Image.new("L", (img_a.width + img_b.width + 40, max(img_a.height, img_b.height)), 255)
    canvas.paste(img_a, (0, 0))
    canvas.paste(img_b, (img_a.width + 40, 0))
    assert sorted(decode_qr_image(png_bytes(canvas))) == sorted([a, b])


def test_sixteen_bit_greyscale_png() -> None:
    payload = place_payload(100)
    grey = Image.open(io.BytesIO(qr_png(payload))).convert("L")
    wide = grey.point(lambda v: v * 257).convert("I")  # 0..65535
    buf = io.BytesIO()
    wide.convert("I;16").save(buf, format="PNG")
    assert decode_qr_image(buf.getvalue()) == [payload]


# --- symbol properties -----------------------------------------------------------------------


def test_300_char_payload_fits_version_10_in_alphanumeric_mode() -> None:
    payload = place_payload(300)
    assert qr_version(payload) <= 10
    qr = segno.make(payload, error="m", boost_error=False)
    assert qr.mode == "alphanumeric"
    assert qr.error == "M"


def test_matrix_matches_version_and_is_boolean() -> None:
    payload = place_payload(200)
    matrix = qr_matrix(payload)
    side = 17 + 4 * qr_version(payload)
    assert len(matrix) == side
    assert all(len(row) == side for row in matrix)
    assert all(isinstance(cell, bool) for row in matrix for cell in row)
    # Finder pattern: the top-left 7x7 square has a dark border.
    assert all(matrix[0][:7])
    assert all(matrix[6][:7])
    assert not matrix[1][1]


def test_svg_is_xml_and_scales() -> None:
    payload = place_payload(150)
    side = 17 + 4 * qr_version(payload)
    svg = qr_svg(payload, scale=5, border=2)
    root = ET.fromstring(svg.encode("utf-8"))  # noqa: S314 - our own output
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("width") == str((side + 4) * 5)
    assert any(True for _ in root.iter("{http://www.w3.org/2000/svg}path"))


def test_png_size_follows_scale_and_border() -> None:
    payload = place_payload(70)
    side = 17 + 4 * qr_version(payload)
    img = Image.open(io.BytesIO(qr_png(payload, scale=6, border=4)))
    assert img.size == ((side + 8) * 6, (side + 8) * 6)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="empty"):
        qr_png("")
    with pytest.raises(ValueError, match="scale"):
        qr_png("A", scale=0)
    with pytest.raises(ValueError, match="border"):
        qr_svg("A", border=-1)


# --- decode_qr_image errors ------------------------------------------------------------------


def error_code(data: bytes, **kwargs: int) -> str:
    with pytest.raises(QrImageError) as info:
        decode_qr_image(data, **kwargs)
    assert isinstance(info.value, ValueError)
    assert str(info.value)
    return info.value.code


def test_gif_is_refused() -> None:
    buf = io.BytesIO()
    Image.new("L", (10, 10), 255).save(buf, format="GIF")
    with pytest.raises(QrImageError, match="only PNG and JPEG are accepted") as info:
        decode_qr_image(buf.getvalue())
    assert info.value.code == "image_type"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a",
        b"%PDF-1.7\n",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"\x89PN",  # too short to be PNG
        random.Random(7).randbytes(4096),
    ],
)
def test_other_types_are_refused(data: bytes) -> None:
    assert error_code(data) == "image_type"


def test_random_bytes_are_refused() -> None:
    rng = random.Random(42)
    for _ in range(50):
        data = rng.randbytes(rng.randrange(0, 2048))
        if data.startswith((b"\x89PNG", b"\xff\xd8\xff")):
            continue
        assert error_code(data) == "image_type"


def test_truncated_png_is_corrupt() -> None:
    data = qr_png(place_payload(100))
    assert error_code(data[: len(data) // 2]) == "image_corrupt"
    assert error_code(data[:40]) == "image_corrupt"


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff",
        b"\xff\xd8\xff\xe0" + b"garbage" * 20,
    ],
)
def test_magic_with_garbage_is_corrupt(data: bytes) -> None:
    assert error_code(data) == "image_corrupt"


def test_blank_image_has_no_qr() -> None:
    assert error_code(png_bytes(Image.new("RGB", (400, 300), "white"))) == "no_qr_found"
    buf = io.BytesIO()
    Image.new("RGB", (200, 200), (40, 120, 200)).save(buf, format="JPEG")
    assert error_code(buf.getvalue()) == "no_qr_found"


def test_decompression_bomb_header_is_too_large() -> None:
    # A tiny PNG whose header claims 100000 x 100000 pixels: refused before any decoding.
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )
    assert len(data) < 200
    assert error_code(data) == "image_too_large"


def test_pixel_and_byte_limits() -> None:
    data = qr_png(place_payload(100))
    side = Image.open(io.BytesIO(data)).width
    assert error_code(data, max_pixels=side * side - 1) == "image_too_large"
    assert decode_qr_image(data, max_pixels=side * side) == [place_payload(100)]
    assert error_code(data, max_bytes=len(data) - 1) == "image_too_large"
    assert error_code(b"\x00" * 5_000_001) == "image_too_large"


def test_mutated_images_raise_only_qr_image_error() -> None:
    rng = random.Random(1234)
    png = qr_png(place_payload(150))
    jpeg_buf = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(jpeg_buf, format="JPEG")
    for original in (png, jpeg_buf.getvalue()):
        for _ in range(150):
            data = bytearray(original)
            for _ in range(rng.randrange(1, 8)):
                pos = rng.randrange(8, len(data))
                data[pos] = rng.randrange(256)
            if rng.random() < 0.3:
                data = data[: rng.randrange(8, len(data))]
            code = "ok"
            try:
                result = decode_qr_image(bytes(data))
            except QrImageError as exc:
                code = exc.code
            else:
                assert all(isinstance(text, str) for text in result)
            assert code in {"ok", "image_corrupt", "no_qr_found", "image_too_large"}
