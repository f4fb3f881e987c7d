"""QR symbols for place codes and health codes, made with segno.

Every symbol uses error correction level M with no boost, so that the same payload always
gives the same version and module matrix whichever renderer draws it (SVG, PNG, the PDF
poster). segno picks the encoding mode itself: our base45 payloads are all in the QR
alphanumeric set, so they are encoded in alphanumeric mode (5.5 bits a character).
"""

from __future__ import annotations

import io

import segno

__all__ = ["QR_ERROR_LEVEL", "qr_matrix", "qr_png", "qr_svg", "qr_version"]

QR_ERROR_LEVEL = "M"


def _make(payload: str) -> segno.QRCode:
    if not payload:
        raise ValueError("a QR payload must not be empty")
    # micro=False: Micro QR is not read by every phone camera.
    return segno.make(payload, error="m", boost_error=False, micro=False)


def _check_geometry(scale: int, border: int) -> None:
    if scale < 1:
        raise ValueError("scale must be at least 1")
    if border < 0:
        raise ValueError("border must not be negative")


def qr_version(payload: str) -> int:
    """The QR version (1-40) of the symbol for ``payload``."""
    version = _make(payload).version
    if not isinstance(version, int):  # pragma: no cover - micro=False gives an int version
        raise TypeError(f"unexpected QR version {version!r}")
    return version


def qr_matrix(payload: str) -> list[list[bool]]:
    """The module matrix without quiet zone: ``rows[y][x]`` is True for a dark module."""
    return [[bool(cell) for cell in row] for row in _make(payload).matrix]


def qr_svg(payload: str, *, scale: int = 4, border: int = 4) -> str:
    """A standalone SVG document of the symbol, one path for all dark modules."""
    _check_geometry(scale, border)
    buf = io.BytesIO()
    _make(payload).save(
        buf,
        kind="svg",
        scale=scale,
        border=border,
        dark="#000",
        light="#fff",
        xmldecl=True,
        svgns=True,
        title="QR code",
        encoding="utf-8",
    )
    return buf.getvalue().decode("utf-8")


def qr_png(payload: str, *, scale: int = 6, border: int = 4) -> bytes:
    """A black-on-white PNG of the symbol, ``scale`` pixels a module."""
    _check_geometry(scale, border)
    buf = io.BytesIO()
    _make(payload).save(buf, kind="png", scale=scale, border=border, dark="#000", light="#fff")
    return buf.getvalue()
