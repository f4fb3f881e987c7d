"""The A4 venue poster in SVG, PDF and PNG: well-formed, escaped, and its QR scans."""

from __future__ import annotations

import io
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
from PIL import Image

from healthcode.adapters import poster
from healthcode.adapters.poster import (
    PosterContent,
    poster_serial,
    render_poster_pdf,
    render_poster_png,
    render_poster_svg,
)
from healthcode.adapters.qr import qr_matrix
from healthcode.verifier.qr_image import decode_qr_image

SVG = "{http://www.w3.org/2000/svg}"
ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
A4_PT = (595.2756, 841.8898)
CM = 72 / 2.54


def place_payload(length: int = 260, seed: int = 3) -> str:
    rng = random.Random(seed)
    return "PLACE1:" + "".join(rng.choice(ALPHANUMERIC) for _ in range(length - 7))


def content(**changes: str | None) -> PosterContent:
    base: dict[str, str | None] = {
        "name_zh": "星巴克咖啡（湾仔店）",
        "name_en": "Starbucks Coffee (Wan Chai)",
        "district": "湾仔区 Wan Chai",
        "payload": place_payload(),
        "poster_ref": "pst_01HF8Z3K9QW4F7K2Q",
        "issued_on": "2026-11-22",
    }
    base.update(changes)
    return PosterContent(**base)  # type: ignore[arg-type]


def parse_svg(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode("utf-8"))  # noqa: S314 - our own output, under test


def svg_texts(svg: str) -> list[str]:
    root = parse_svg(svg)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def pdf_page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


# --- SVG -------------------------------------------------------------------------------------


def test_svg_shows_everything() -> None:
    svg = render_poster_svg(content())
    root = parse_svg(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("width") == "210mm"
    assert root.get("height") == "297mm"
    texts = svg_texts(svg)
    for expected in (
        "星巴克咖啡（湾仔店）",
        "Starbucks Coffee (Wan Chai)",
        "湾仔区 Wan Chai",
        poster.INSTRUCTION_ZH,
        poster.INSTRUCTION_EN,
        poster.TRUST_EN,
    ):
        assert expected in texts
    assert any("No. 4F7K2Q" in t and "2026-11-22" in t for t in texts)


def test_svg_escapes_hostile_venue_names() -> None:
    name = """<script>&"'"""
    svg = render_poster_svg(content(name_en=name, name_zh="""咖啡</text><script>alert(1)"""))
    texts = svg_texts(svg)  # parses: well-formed
    assert name in texts
    assert "咖啡</text><script>alert(1)" in texts
    assert "<script>" not in svg
    assert "&lt;script&gt;&amp;" in svg
    root = parse_svg(svg)
    assert not any(el.tag.endswith("script") for el in root.iter())


def test_svg_survives_control_and_bidi_characters() -> None:
    svg = render_poster_svg(
        content(name_en="Cafe\x00\x07\x1b[31m\u202eevil\ufffe", name_zh="茶\ud800餐厅\n二楼")
    )
    texts = svg_texts(svg)
    assert "Cafe[31mevil" in texts
    assert "茶餐厅 二楼" in texts


def test_svg_qr_is_large_centred_and_matches_the_payload() -> None:
    c = content()
    root = parse_svg(render_poster_svg(c))
    paths = list(root.iter(f"{SVG}path"))
    assert len(paths) == 1
    m = re.fullmatch(
        r"translate\(([\d.]+) ([\d.]+)\) scale\(([\d.]+)\)", paths[0].get("transform", "")
    )
    assert m is not None
    x, _y, module = (float(g) for g in m.groups())
    side = len(qr_matrix(c.payload))
    width = module * side
    assert width >= 9 * CM
    assert x + width / 2 == pytest.approx(A4_PT[0] / 2, abs=0.5)
    # Each "M x y h w v1 h-w z" in the path is one run of dark modules.
    dark = sum(int(w) for w in re.findall(r"h(\d+)v1", paths[0].get("d", "")))
    assert dark == sum(sum(row) for row in qr_matrix(c.payload))


# --- PDF -------------------------------------------------------------------------------------


def test_pdf_is_one_a4_page() -> None:
    pdf = render_poster_pdf(content())
    assert pdf.startswith(b"%PDF")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert pdf_page_count(pdf) == 1
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert box is not None
    assert float(box.group(1)) == pytest.approx(A4_PT[0], abs=0.1)
    assert float(box.group(2)) == pytest.approx(A4_PT[1], abs=0.1)


def test_pdf_is_reproducible() -> None:
    assert render_poster_pdf(content()) == render_poster_pdf(content())


def test_pdf_embeds_the_cjk_font() -> None:
    pytest.importorskip("paperang_p2_fonts_cjk")
    pdf = render_poster_pdf(content())
    assert b"WenQuanYiMicroHei" in pdf
    assert b"/FontFile2" in pdf  # embedded TrueType


# --- PNG -------------------------------------------------------------------------------------


def test_png_scans_back_to_exactly_the_payload() -> None:
    c = content()
    png = render_poster_png(c)
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    assert img.size == (1240, 1754)  # A4 at 150 dpi
    assert decode_qr_image(png) == [c.payload]


def test_png_at_lower_dpi_still_scans() -> None:
    c = content(payload=place_payload(320, seed=9))
    png = render_poster_png(c, dpi=100)
    assert Image.open(io.BytesIO(png)).size == (827, 1169)
    assert decode_qr_image(png) == [c.payload]


def test_png_without_a_cjk_font_keeps_the_qr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(poster, "_cjk_font_file", lambda: None)
    c = content()
    assert decode_qr_image(render_poster_png(c)) == [c.payload]


def test_png_dpi_is_bounded() -> None:
    with pytest.raises(ValueError, match="dpi"):
        render_poster_png(content(), dpi=5000)


# --- content variants ------------------------------------------------------------------------

Renderer = Callable[[PosterContent], object]


@pytest.mark.parametrize(
    "changes",
    [
        {"name_zh": None},
        {"name_en": None},
        {"name_zh": "", "name_en": "Only English"},
        {"district": ""},
        {
            "name_zh": "非常非常长的场所名称" * 8,
            "name_en": "A Very Long Venue Name That Goes On " * 6,
            "district": "Some District With An Unusually Long Name, Kowloon City",
        },
        {"name_en": "Supercalifragilisticexpialidocious" * 5, "name_zh": None},
    ],
    ids=["english-only", "chinese-only", "empty-chinese", "no-district", "long", "long-word"],
)
def test_variants_render_in_every_format(changes: dict[str, str | None]) -> None:
    c = content(**changes)
    texts = svg_texts(render_poster_svg(c))
    for name in (c.name_zh, c.name_en):
        if name and len(name) < 40:
            assert name in texts
    pdf = render_poster_pdf(c)
    assert pdf.startswith(b"%PDF")
    assert pdf_page_count(pdf) == 1
    assert decode_qr_image(render_poster_png(c)) == [c.payload]


def test_long_names_stay_within_two_lines() -> None:
    c = content(name_zh="非常非常长的场所名称" * 8)
    texts = svg_texts(render_poster_svg(c))
    name_lines = [t for t in texts if "非常" in t]
    assert 1 <= len(name_lines) <= 2
    assert name_lines[-1].endswith("…")


@pytest.mark.parametrize(
    "changes",
    [{"name_zh": None, "name_en": None}, {"name_zh": "  ", "name_en": ""}, {"payload": ""}],
)
def test_incomplete_content_is_refused(changes: dict[str, str | None]) -> None:
    with pytest.raises(ValueError, match="poster needs"):
        content(**changes)


def test_poster_serial() -> None:
    assert poster_serial("pst_01HF8Z3K9QW4F7K2Q") == "4F7K2Q"
    assert poster_serial("abc") == "ABC"
    assert poster_serial("----") == "----"
