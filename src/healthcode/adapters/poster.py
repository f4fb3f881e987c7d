"""The printable A4 venue poster carrying a signed place code, as SVG, PDF and PNG.

One layout (:func:`_layout`, in PostScript points with the origin at the top left) is drawn
by three renderers, so the SVG, the PDF and the PNG show the same thing in the same places:

- the PDF is the poster to print: the QR is vector (one filled path of module runs), English
  is set in Helvetica and Chinese in WenQuanYi Micro Hei, embedded as a subset, so the poster
  prints the same on any printer and viewer;
- the PNG is drawn with Pillow from the same layout and the same CJK font. It is not a
  raster of the PDF: that needs a PDF engine as well as the font, and an engine such as
  PDFium draws no Chinese at all for a CJK font the PDF does not embed unless the machine
  has CJK system fonts (servers usually have none);
- the SVG names font families and leaves the glyphs to the viewer.

The CJK font comes from the ``paperang-p2-fonts-cjk`` wheel (WenQuanYi Micro Hei, Apache-2.0).
Without it the PDF falls back to reportlab's built-in ``STSong-Light`` CID font (not embedded:
the viewer supplies the glyphs) and the PNG leaves out the Chinese lines, since Pillow has no
CJK glyphs of its own; the QR and the English text are drawn either way.

Venue names are user input: every string is cleaned of control, bidi-override and
non-character code points before layout, and XML-escaped in the SVG.
"""

from __future__ import annotations

import functools
import io
import pathlib
import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from healthcode.adapters.qr import qr_matrix
from healthcode.config import Settings
from healthcode.services.venues import VenueWithPoster
from healthcode.verifier.place_link import place_link

__all__ = [
    "PosterContent",
    "PosterFrame",
    "poster_serial",
    "render_poster_pdf",
    "render_poster_png",
    "render_poster_svg",
]

INSTRUCTION_ZH = "扫码登记 · 请出示健康码"
INSTRUCTION_EN = "Scan to check in · Show your health code"
STEPS = (
    "① 用手机相机扫描二维码 · Scan the QR code with your phone's camera",
    "② 在打开的页面登录 · Sign in on the page that opens",
    "③ 点“登记”，向工作人员出示登记凭证 · Tap “Check in”, show staff your pass",
)
OPEN_LINK = "没有相机？在浏览器打开 · No camera? Open"
TRUST_ZH = "签名可验证 · 规则公开"
TRUST_EN = "healthcode — verified signature, published rules"
KIND = "场所码 · Place code"

PAGE_W, PAGE_H = float(A4[0]), float(A4[1])  # 595.3 x 841.9 pt
_MARGIN = 42.0
_CONTENT_W = PAGE_W - 2 * _MARGIN
_CM = 72 / 2.54
_QR_MAX = 12 * _CM  # symbol width, quiet zone excluded
_QR_MIN = 9.5 * _CM
_QUIET_MODULES = 4
_BAND_H = 64.0

_ACCENT = "#0a5c55"
_INK = "#111111"
_GREY = "#555555"
_WHITE = "#ffffff"

_CJK_TTF_NAME = "HealthcodeWQYMicroHei"
_CJK_CID_NAME = "STSong-Light"


# ---------------------------------------------------------------------------------------------
# Content


@dataclass(frozen=True, slots=True)
class PosterContent:
    """What one poster shows. At least one of the two names must be given. `payload` is what
    the QR holds: the place code's link (verifier/place_link.py), which any phone camera
    opens; `short_link` is printed for typing; the authority and the city head the poster."""

    name_zh: str | None
    name_en: str | None
    district: str
    payload: str
    poster_ref: str
    issued_on: str
    short_link: str = ""
    authority_zh: str = ""
    authority_en: str = ""
    city_zh: str = ""
    city_en: str = ""

    def __post_init__(self) -> None:
        if not (_clean(self.name_zh or "") or _clean(self.name_en or "")):
            raise ValueError("a poster needs a Chinese or an English venue name")
        if not self.payload:
            raise ValueError("a poster needs a QR payload")
        if not _clean(self.poster_ref):
            raise ValueError("a poster needs a poster reference")


def poster_serial(poster_ref: str) -> str:
    """The short serial printed on a poster: the last 6 letters or digits of its id."""
    alnum = re.sub(r"[^0-9A-Za-z]", "", poster_ref)
    return (alnum or _clean(poster_ref))[-6:].upper()


_STRIP = {
    *range(0x202A, 0x202F),  # bidi embeddings and overrides
    *range(0x2066, 0x206A),  # bidi isolates
    0x200E,
    0x200F,
    0x061C,
    0xFEFF,
}


def _clean(text: str) -> str:
    """One line of displayable text: whitespace runs become one space, and control characters,
    surrogates, bidi overrides and non-characters (none of them allowed or safe in XML or on a
    public notice) are dropped."""
    out: list[str] = []
    for ch in text:
        cp = ord(ch)
        if ch.isspace():
            out.append(" ")
        elif (
            unicodedata.category(ch) in ("Cc", "Cs", "Co")
            or cp in _STRIP
            or (cp & 0xFFFE) == 0xFFFE
            or 0xFDD0 <= cp <= 0xFDEF
        ):
            continue
        else:
            out.append(ch)
    return re.sub(r" {2,}", " ", "".join(out)).strip()


# ---------------------------------------------------------------------------------------------
# Fonts


@functools.cache
def _cjk_font_file() -> pathlib.Path | None:
    """The WenQuanYi Micro Hei TrueType collection shipped in the ``paperang-p2-fonts-cjk``
    wheel, or None when that package is not installed."""
    try:
        res = resources.files("paperang_p2_fonts_cjk") / "fonts" / "wqy-microhei.ttc"
    except ModuleNotFoundError:
        return None
    if isinstance(res, pathlib.Path) and res.is_file():
        return res
    return None


@functools.cache
def _pdf_cjk_font() -> str:
    """Register (once) and name the reportlab font for CJK text."""
    path = _cjk_font_file()
    if path is not None:
        try:
            pdfmetrics.registerFont(TTFont(_CJK_TTF_NAME, str(path), subfontIndex=0))
            return _CJK_TTF_NAME
        except Exception:  # noqa: S110 - a broken font file: fall back to the CID font
            pass
    pdfmetrics.registerFont(UnicodeCIDFont(_CJK_CID_NAME))
    return _CJK_CID_NAME


def _needs_cjk_font(text: str) -> bool:
    """Whether ``text`` has characters Helvetica (WinAnsi encoding) cannot show."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return True
    return False


def _pdf_font(cjk: bool, bold: bool) -> str:
    if cjk:
        return _pdf_cjk_font()
    return "Helvetica-Bold" if bold else "Helvetica"


def _text_width(text: str, size: float, *, cjk: bool, bold: bool) -> float:
    return float(pdfmetrics.stringWidth(text, _pdf_font(cjk, bold), size))


# ---------------------------------------------------------------------------------------------
# Layout


@dataclass(frozen=True, slots=True)
class _Text:
    text: str
    x: float
    baseline: float  # from the top of the page
    size: float
    colour: str
    bold: bool
    cjk: bool
    role: str


@dataclass(frozen=True, slots=True)
class _Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str | None
    stroke: str | None = None
    stroke_width: float = 0.0
    radius: float = 0.0


@dataclass(frozen=True, slots=True)
class _Qr:
    x: float  # top-left of the first module, quiet zone excluded
    y: float
    module: float
    matrix: tuple[tuple[bool, ...], ...]

    @property
    def size(self) -> float:
        return self.module * len(self.matrix)


@dataclass(frozen=True, slots=True)
class _Layout:
    title: str
    rects: tuple[_Rect, ...]
    texts: tuple[_Text, ...]
    qr: _Qr


def _tokens(text: str) -> Iterator[str]:
    """Break points for wrapping: spaces, Latin words, and single CJK characters."""
    yield from re.findall(r"\s+|[^\s\u2e80-\U0003ffff]+|.", text)


def _wrap(
    text: str, size: float, max_w: float, max_lines: int, *, cjk: bool, bold: bool
) -> list[str]:
    lines: list[str] = []
    current = ""
    for token in _tokens(text):
        candidate = current + token
        if _text_width(candidate.strip(), size, cjk=cjk, bold=bold) <= max_w or not current.strip():
            current = candidate
            continue
        lines.append(current.strip())
        current = token.lstrip()
    if current.strip():
        lines.append(current.strip())
    # A single token wider than the line (a very long word): cut it by characters.
    fixed: list[str] = []
    for line in lines:
        while _text_width(line, size, cjk=cjk, bold=bold) > max_w and len(line) > 1:
            cut = len(line)
            while cut > 1 and _text_width(line[:cut], size, cjk=cjk, bold=bold) > max_w:
                cut -= 1
            fixed.append(line[:cut])
            line = line[cut:]
        fixed.append(line)
    if len(fixed) > max_lines:
        fixed = fixed[:max_lines]
        last = fixed[-1]
        while last and _text_width(last + "…", size, cjk=cjk, bold=bold) > max_w:
            last = last[:-1]
        fixed[-1] = last.rstrip() + "…"
    return fixed


def _fit(
    text: str, size: float, min_size: float, max_lines: int, *, bold: bool
) -> tuple[list[str], float, bool]:
    """Lines, font size and font choice that fit ``text`` across the content width: shrink
    down to ``min_size`` first, then wrap, then cut with an ellipsis."""
    cjk = _needs_cjk_font(text)
    width = _text_width(text, size, cjk=cjk, bold=bold)
    if width <= _CONTENT_W:
        return [text], size, cjk
    shrunk = size * _CONTENT_W / width
    if shrunk >= min_size:
        return [text], shrunk, cjk
    return _wrap(text, min_size, _CONTENT_W, max_lines, cjk=cjk, bold=bold), min_size, cjk


class _Column:
    """Stacks centred lines of text down the page."""

    def __init__(self, top: float) -> None:
        self.cursor = top
        self.texts: list[_Text] = []

    def add(
        self,
        text: str,
        size: float,
        *,
        role: str,
        colour: str = _INK,
        bold: bool = False,
        min_size: float | None = None,
        max_lines: int = 1,
        leading: float = 1.28,
    ) -> None:
        text = _clean(text)
        if not text:
            return
        lines, fitted, cjk = _fit(text, size, min_size or size * 0.6, max_lines, bold=bold)
        for line in lines:
            self.cursor += fitted * leading
            self.texts.append(
                _Text(line, PAGE_W / 2, self.cursor - fitted * 0.3, fitted, colour, bold, cjk, role)
            )

    def gap(self, points: float) -> None:
        self.cursor += points


def _layout(c: PosterContent) -> _Layout:
    name_zh = _clean(c.name_zh or "")
    name_en = _clean(c.name_en or "")

    band = _Rect(0, 0, PAGE_W, _BAND_H, fill=_ACCENT)
    heading = " · ".join(x for x in (_clean(c.authority_zh), _clean(c.authority_en)) if x)
    heading = heading or "healthcode"
    size = min(18.0, 18.0 * _CONTENT_W / _text_width(heading, 18, cjk=True, bold=True))
    band_text = _Text(heading, PAGE_W / 2, 32 + size / 2, max(size, 9.0), _WHITE, True, True,
                      "band")  # fmt: skip

    top = _Column(_BAND_H + 6)
    city = " ".join(x for x in (_clean(c.city_zh), _clean(c.city_en)) if x)
    top.add(f"{city} · {KIND}" if city else KIND, 12, role="kind", colour=_GREY, min_size=9)
    top.gap(12)
    if name_zh:
        top.add(name_zh, 36, role="name_zh", bold=True, min_size=20, max_lines=2)
    if name_en:
        big = not name_zh
        top.add(
            name_en,
            34 if big else 24,
            role="name_en",
            bold=big,
            min_size=16,
            max_lines=2,
        )
    top.gap(2)
    top.add(c.district, 16, role="district", colour=_GREY, min_size=10)
    top_end = top.cursor + 16

    # The bottom block is laid out downwards from a provisional origin, then moved so that
    # its last line sits on the bottom margin.
    bottom = _Column(0)
    bottom.add(INSTRUCTION_ZH, 26, role="instruction_zh", bold=True)
    bottom.add(INSTRUCTION_EN, 18, role="instruction_en")
    bottom.gap(6)
    for step in STEPS:
        bottom.add(step, 12, role="step", min_size=8, leading=1.45)
    if _clean(c.short_link):
        bottom.add(f"{OPEN_LINK} {_clean(c.short_link)}", 11, role="link", colour=_ACCENT,
                   bold=True, min_size=7, leading=1.6)  # fmt: skip
    bottom.gap(10)
    rule_y = bottom.cursor
    bottom.gap(6)
    bottom.add(TRUST_ZH, 10, role="trust_zh", colour=_GREY, leading=1.5)
    bottom.add(TRUST_EN, 10, role="trust_en", colour=_GREY, leading=1.5)
    serial = f"No. {poster_serial(c.poster_ref)} · Issued {_clean(c.issued_on)}"
    bottom.add(serial, 9, role="serial", colour=_GREY, leading=1.6)
    shift = PAGE_H - 30 - bottom.cursor
    bottom_texts = [
        _Text(t.text, t.x, t.baseline + shift, t.size, t.colour, t.bold, t.cjk, t.role)
        for t in bottom.texts
    ]
    bottom_start = shift + 4

    matrix = tuple(tuple(row) for row in qr_matrix(c.payload))
    n = len(matrix)
    avail = bottom_start - top_end  # the QR card, quiet zone included, goes in here
    symbol = min(_QR_MAX, _CONTENT_W * n / (n + 2 * _QUIET_MODULES), avail * n / (n + 8))
    symbol = max(symbol, _QR_MIN)
    module = symbol / n
    card = module * (n + 2 * _QUIET_MODULES)
    card_x = (PAGE_W - card) / 2
    card_y = top_end + max(0.0, (avail - card) / 2)
    qr = _Qr(card_x + module * _QUIET_MODULES, card_y + module * _QUIET_MODULES, module, matrix)

    rects = (
        band,
        _Rect(card_x, card_y, card, card, fill=_WHITE, stroke=_ACCENT, stroke_width=2, radius=8),
        _Rect(_MARGIN, shift + rule_y, _CONTENT_W, 0.6, fill="#bbbbbb"),
    )
    title = " / ".join(x for x in (name_zh, name_en) if x)
    return _Layout(title, rects, (band_text, *top.texts, *bottom_texts), qr)


def _runs(row: tuple[bool, ...]) -> Iterator[tuple[int, int]]:
    """(start, length) of each run of dark modules in a row."""
    x = 0
    n = len(row)
    while x < n:
        if row[x]:
            start = x
            while x < n and row[x]:
                x += 1
            yield start, x - start
        else:
            x += 1


# ---------------------------------------------------------------------------------------------
# SVG

_SVG_LATIN = "Helvetica, Arial, 'Liberation Sans', sans-serif"
_SVG_CJK = (
    "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', "
    "'Microsoft YaHei', 'Hiragino Sans GB', sans-serif"
)


def _n(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def render_poster_svg(c: PosterContent) -> str:
    """The poster as a standalone SVG document (A4, user units are points)."""
    lay = _layout(c)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" '
        f'viewBox="0 0 {_n(PAGE_W)} {_n(PAGE_H)}">',
        f"<title>{escape(lay.title)}</title>",
        f'<rect width="{_n(PAGE_W)}" height="{_n(PAGE_H)}" fill="{_WHITE}"/>',
    ]
    for r in lay.rects:
        attrs = f'x="{_n(r.x)}" y="{_n(r.y)}" width="{_n(r.w)}" height="{_n(r.h)}"'
        if r.radius:
            attrs += f' rx="{_n(r.radius)}"'
        attrs += f' fill="{r.fill or "none"}"'
        if r.stroke:
            attrs += f' stroke="{r.stroke}" stroke-width="{_n(r.stroke_width)}"'
        out.append(f"<rect {attrs}/>")
    d = "".join(
        f"M{x} {y}h{w}v1h-{w}z" for y, row in enumerate(lay.qr.matrix) for x, w in _runs(row)
    )
    out.append(
        f'<path transform="translate({_n(lay.qr.x)} {_n(lay.qr.y)}) scale({lay.qr.module:.4f})" '
        f'fill="#000000" shape-rendering="crispEdges" d="{d}"/>'
    )
    for t in lay.texts:
        family = _SVG_CJK if t.cjk else _SVG_LATIN
        weight = ' font-weight="700"' if t.bold else ""
        out.append(
            f'<text x="{_n(t.x)}" y="{_n(t.baseline)}" text-anchor="middle" '
            f'font-family="{family}" font-size="{_n(t.size)}"{weight} fill="{t.colour}">'
            f"{escape(t.text)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# PDF


def render_poster_pdf(c: PosterContent) -> bytes:
    """The poster as a one-page A4 PDF, ready to print; the QR is vector."""
    lay = _layout(c)
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=True, pageCompression=1)
    pdf.setTitle(lay.title)
    pdf.setAuthor("healthcode")
    pdf.setSubject("Venue place code poster")
    pdf.setCreator("healthcode")

    for r in lay.rects:
        y = PAGE_H - r.y - r.h
        if r.fill:
            pdf.setFillColor(r.fill)
        if r.stroke:
            pdf.setStrokeColor(r.stroke)
            pdf.setLineWidth(r.stroke_width)
        if r.radius:
            pdf.roundRect(r.x, y, r.w, r.h, r.radius, stroke=int(bool(r.stroke)), fill=1)
        else:
            pdf.rect(r.x, y, r.w, r.h, stroke=int(bool(r.stroke)), fill=int(bool(r.fill)))

    # The QR: one path of rectangles, one for each horizontal run of dark modules, so that no
    # hairline seam shows between modules in any viewer.
    qr = lay.qr
    m = qr.module
    path = pdf.beginPath()
    for row_index, row in enumerate(qr.matrix):
        top = PAGE_H - qr.y - (row_index + 1) * m
        for x, w in _runs(row):
            path.rect(qr.x + x * m, top, w * m, m)
    pdf.setFillColor("#000000")
    pdf.drawPath(path, stroke=0, fill=1)

    for t in lay.texts:
        font = _pdf_font(t.cjk, t.bold)
        fake_bold = t.bold and t.cjk
        # The text render mode is graphics state and outlives the text object, and reportlab
        # does not reset it: keep each line's state to itself.
        pdf.saveState()
        tx = pdf.beginText()
        tx.setFont(font, t.size)
        tx.setFillColor(t.colour)
        if fake_bold:
            # The CJK font has one weight: embolden it by stroking the outlines too.
            tx.setTextRenderMode(2)
            pdf.setStrokeColor(t.colour)
            pdf.setLineWidth(t.size * 0.03)
        width = pdfmetrics.stringWidth(t.text, font, t.size)
        tx.setTextOrigin(t.x - width / 2, PAGE_H - t.baseline)
        tx.textOut(t.text)
        pdf.drawText(tx)
        pdf.restoreState()

    pdf.showPage()
    pdf.save()
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# PNG


@functools.lru_cache(maxsize=64)
def _png_font(px: int, cjk_file: pathlib.Path | None) -> ImageFont.FreeTypeFont | None:
    if cjk_file is not None:
        return ImageFont.truetype(str(cjk_file), px, index=0)
    font = ImageFont.load_default(px)
    return font if isinstance(font, ImageFont.FreeTypeFont) else None


def render_poster_png(c: PosterContent, dpi: int = 150) -> bytes:
    """The poster as an A4 PNG at ``dpi``, drawn from the same layout as the PDF."""
    if not 36 <= dpi <= 600:
        raise ValueError("dpi must be between 36 and 600")
    lay = _layout(c)
    s = dpi / 72
    width, height = round(PAGE_W * s), round(PAGE_H * s)
    img = Image.new("RGB", (width, height), _WHITE)
    draw = ImageDraw.Draw(img)

    for r in lay.rects:
        x0, y0 = round(r.x * s), round(r.y * s)
        # At least one pixel, so that hairlines (the footer rule) show at any dpi.
        box = (x0, y0, max(x0, round((r.x + r.w) * s) - 1), max(y0, round((r.y + r.h) * s) - 1))
        stroke_px = max(1, round(r.stroke_width * s)) if r.stroke else 0
        if r.radius:
            draw.rounded_rectangle(
                box, radius=round(r.radius * s), fill=r.fill, outline=r.stroke, width=stroke_px
            )
        else:
            draw.rectangle(box, fill=r.fill, outline=r.stroke, width=stroke_px)

    # Module edges are rounded to whole pixels from one origin, so modules never overlap
    # or leave gaps even when a module is not a whole number of pixels.
    qr = lay.qr

    def edge(origin: float, i: int) -> int:
        return round((origin + i * qr.module) * s)

    for y, row in enumerate(qr.matrix):
        for x, w in _runs(row):
            draw.rectangle(
                (edge(qr.x, x), edge(qr.y, y), edge(qr.x, x + w) - 1, edge(qr.y, y + 1) - 1),
                fill="#000000",
            )

    cjk_file = _cjk_font_file()
    for t in lay.texts:
        if t.cjk and cjk_file is None:
            # No CJK font is installed and Pillow has none of its own: a line of empty boxes
            # would help no one, so Chinese lines are left out of the PNG (the PDF has them).
            continue
        px = max(1, round(t.size * s))
        font = _png_font(px, cjk_file)
        if font is None:
            continue
        # The layout was measured with the PDF fonts; keep within the margins if these differ.
        measured = font.getlength(t.text)
        if measured > _CONTENT_W * s:
            px = max(1, int(px * _CONTENT_W * s / measured))
            font = _png_font(px, cjk_file)
            if font is None:
                continue
        stroke = max(1, round(px * 0.025)) if t.bold else 0
        draw.text(
            (t.x * s, t.baseline * s),
            t.text,
            font=font,
            fill=t.colour,
            anchor="ms",
            stroke_width=stroke,
            stroke_fill=t.colour,
        )

    out = io.BytesIO()
    img.save(out, format="PNG", dpi=(dpi, dpi), optimize=True)
    return out.getvalue()


POSTER_FORMATS = ("svg", "pdf", "png")


@dataclass(frozen=True, slots=True)
class PosterFrame:
    """What every poster of the city shows around its venue: the address its links open
    (https://host[/path]), the health authority and the city, each in Chinese and English."""

    base: str
    authority_zh: str
    authority_en: str
    city_zh: str
    city_en: str

    @classmethod
    def of(cls, settings: Settings, base: str) -> PosterFrame:
        """The city's frame: `settings.public_url` if set, else `base` (where it is served)."""
        s = settings
        return cls(s.public_url or base, s.authority_name_zh, s.authority_name_en,
                   s.city_name_zh, s.city_name_en)  # fmt: skip


def venue_link(base: str, venue_id: str) -> str:
    """The short link printed on a poster, for typing: it opens the venue's current place code's
    check-in (the place code itself is public: GET /venues/{id})."""
    return f"{base.rstrip('/')}/v/{venue_id}"


def render_venue_poster(found: VenueWithPoster, fmt: str, frame: PosterFrame) -> bytes:
    """The printable poster of a venue's current place code, in one of POSTER_FORMATS: its QR
    holds the place code's link, which opens the check-in in any phone browser."""
    d = found.venue.draft
    content = PosterContent(
        d.name_zh,
        d.name_en,
        d.district,
        place_link(frame.base, found.poster.payload),
        found.poster.poster_id,
        time.strftime("%Y-%m-%d", time.gmtime(found.poster.issued_at)),
        venue_link(frame.base, found.venue.venue_id),
        frame.authority_zh,
        frame.authority_en,
        frame.city_zh,
        frame.city_en,
    )
    if fmt == "svg":
        return render_poster_svg(content).encode()
    if fmt == "pdf":
        return render_poster_pdf(content)
    if fmt == "png":
        return render_poster_png(content)
    raise ValueError(f"poster format must be one of {POSTER_FORMATS}")
