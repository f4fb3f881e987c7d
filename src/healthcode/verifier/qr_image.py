"""Decode QR codes from an uploaded PNG or JPEG picture.

The bytes come from anyone (a photo of a poster, a screenshot), so this module treats them
as hostile: it checks the size and the magic bytes before Pillow sees them, refuses images
whose declared dimensions would blow up in memory (decompression bombs) before any pixel is
decoded, and turns every failure into a :class:`QrImageError` with a stable ``code``.

Part of the standalone verifier: it imports no server code, only Pillow and zxing-cpp.
"""

from __future__ import annotations

import io
import warnings
from typing import Final, Literal

import zxingcpp
from PIL import Image

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "QrImageError",
    "QrImageErrorCode",
    "decode_qr_image",
]

QrImageErrorCode = Literal["image_too_large", "image_type", "image_corrupt", "no_qr_found"]

DEFAULT_MAX_BYTES: Final = 5_000_000
DEFAULT_MAX_PIXELS: Final = 40_000_000

_PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC: Final = b"\xff\xd8\xff"


class QrImageError(ValueError):
    """An image that could not be turned into QR payloads; ``code`` is stable, for clients."""

    def __init__(self, code: QrImageErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: QrImageErrorCode = code
        self.message = message

    def __repr__(self) -> str:
        return f"QrImageError(code={self.code!r}, message={self.message!r})"


def _sniff(data: bytes) -> Literal["PNG", "JPEG"] | None:
    if data.startswith(_PNG_MAGIC):
        return "PNG"
    if data.startswith(_JPEG_MAGIC):
        return "JPEG"
    return None


def _to_grey(img: Image.Image) -> Image.Image:
    """An 8-bit greyscale copy, with any transparency flattened onto white.

    A QR drawn in black on a transparent background would otherwise turn all black.
    """
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        background.alpha_composite(rgba)
        return background.convert("L")
    if img.mode == "L":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit and 32-bit greyscale: scale down to 8 bits rather than clipping.
        extrema = img.getextrema()
        high = float(extrema[1]) if isinstance(extrema[1], (int, float)) else 255.0
        scale = 255.0 / high if high > 255 else 1.0
        return img.convert("F").point(lambda v: v * scale).convert("L")
    return img.convert("L")


def decode_qr_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[str]:
    """Return the text of every QR code found in a PNG or JPEG image, in reading order.

    Raises :class:`QrImageError` (and nothing else, whatever the bytes) with ``code``:

    - ``image_too_large``: more than ``max_bytes`` bytes, or more than ``max_pixels`` pixels;
    - ``image_type``: not a PNG or JPEG file;
    - ``image_corrupt``: a PNG or JPEG that cannot be decoded (truncated, damaged);
    - ``no_qr_found``: a readable image with no readable QR code in it.
    """
    if len(data) > max_bytes:
        raise QrImageError(
            "image_too_large",
            f"the image is {len(data)} bytes; at most {max_bytes} bytes are accepted",
        )
    kind = _sniff(data)
    if kind is None:
        raise QrImageError("image_type", "only PNG and JPEG are accepted")

    try:
        with warnings.catch_warnings():
            # Our own max_pixels check below is the guard; Pillow's warning would only be noise,
            # and its DecompressionBombError (an Exception) is still caught and mapped.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind]) as img:
                width, height = img.size
                if width <= 0 or height <= 0:
                    raise QrImageError("image_corrupt", "the image has no pixels")
                if width * height > max_pixels:
                    raise QrImageError(
                        "image_too_large",
                        f"the image is {width}x{height} pixels; "
                        f"at most {max_pixels} pixels are accepted",
                    )
                img.load()
                grey = _to_grey(img)
    except QrImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise QrImageError("image_too_large", "the image has too many pixels") from exc
    except MemoryError as exc:
        raise QrImageError("image_too_large", "the image is too large to decode") from exc
    except Exception as exc:
        # Pillow reports damaged files with many types (OSError, SyntaxError, ValueError,
        # EOFError, struct.error, zlib.error...): for the caller they are all one thing.
        raise QrImageError(
            "image_corrupt", f"the {kind} image is damaged or truncated and cannot be read"
        ) from exc

    try:
        barcodes = zxingcpp.read_barcodes(
            grey,
            # every QR symbology, and nothing else; built per call, since a module-level
            # instance outlives nanobind's shutdown check and is reported as a leak
            formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
            text_mode=zxingcpp.TextMode.Plain,
        )
    except Exception as exc:
        raise QrImageError(
            "image_corrupt", f"the {kind} image could not be scanned for QR codes"
        ) from exc

    texts = [str(b.text) for b in barcodes if b.valid]
    if not texts:
        raise QrImageError("no_qr_found", "no readable QR code was found in the image")
    return texts
