"""The server-drawn SVG charts: valid SVG, named and described for screen readers, bars to scale,
withheld counts drawn hatched at their upper bound and titled "fewer than 10", text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from healthcode.entrypoints.web.pages.charts import (
    BOTTOM,
    HEIGHT,
    HIDDEN_AT_MOST,
    TOP,
    Chart,
    Series,
    nice_scale,
    svg,
)

NS = {"s": "http://www.w3.org/2000/svg"}
PLOT = HEIGHT - TOP - BOTTOM


def chart(*series: Series, stacked: bool = True, labels: tuple[str, ...] = ("d1", "d2")) -> Chart:
    return Chart("c1", "Colour changes", "Bars per day", labels, series, "Day", "Count",
                 stacked=stacked)  # fmt: skip


def parse(c: Chart) -> ET.Element:
    return ET.fromstring(str(svg(c)))  # noqa: S314 - our own output, under test


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{{{NS['s']}}}rect") if "bar" in r.get("class", "").split()]


@pytest.mark.parametrize(
    ("largest", "expected"),
    [(0, (5, 1)), (1, (1, 1)), (4, (4, 1)), (7, (8, 2)), (14, (15, 5)), (23, (25, 5)),
     (99, (100, 20)), (1234, (1500, 500))],
)  # fmt: skip
def test_the_axis_ends_on_a_round_number_with_few_ticks(
    largest: int, expected: tuple[int, int]
) -> None:
    top, step = nice_scale(largest)
    assert (top, step) == expected
    assert top >= largest
    assert top // step <= 5


def test_a_chart_is_an_image_named_and_described_with_both_axes_labelled() -> None:
    root = parse(chart(Series("red_rule", "Red by a rule", [3, 12])))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find("s:title", NS).text == "Colour changes"  # type: ignore[union-attr]
    assert root.find("s:desc", NS).text == "Bars per day"  # type: ignore[union-attr]
    texts = [t.text for t in root.iter(f"{{{NS['s']}}}text")]
    assert {"Day", "Count", "d1", "d2"} <= set(texts)


def test_stacked_bars_are_to_scale_and_each_says_what_it_counts() -> None:
    c = chart(Series("a", "A", [10, 0]), Series("b", "B", [5, 20]))
    found = bars(parse(c))
    assert len(found) == 3  # a zero draws nothing
    heights = [float(r.get("height", "0")) for r in found]
    scale = PLOT / nice_scale(20)[0]  # the tallest stack: day 2
    assert heights == pytest.approx([10 * scale, 5 * scale, 20 * scale])
    first, second = found[0], found[1]
    # b sits on top of a on day 1
    assert float(second.get("y", "0")) + float(second.get("height", "0")) == pytest.approx(
        float(first.get("y", "0"))
    )
    assert [r.find("s:title", NS).text for r in found] == [  # type: ignore[union-attr]
        "d1 · A: 10", "d1 · B: 5", "d2 · B: 20"
    ]  # fmt: skip


def test_grouped_bars_stand_side_by_side() -> None:
    found = bars(parse(chart(Series("a", "A", [4, 1]), Series("b", "B", [2, 3]), stacked=False)))
    day1 = found[:2]
    assert float(day1[0].get("x", "0")) < float(day1[1].get("x", "0"))
    bottoms = {float(r.get("y", "0")) + float(r.get("height", "0")) for r in found}
    assert len({round(b, 3) for b in bottoms}) == 1  # all on the axis


def test_a_withheld_count_is_hatched_at_its_upper_bound_never_zero() -> None:
    c = chart(Series("red_rule", "Red by a rule", [None, 0]), Series("x", "X", [10, 0]))
    assert c.has_hidden
    root = parse(c)
    (hidden,) = [r for r in bars(root) if "hidden-count" in r.get("class", "")]
    assert hidden.find("s:title", NS).text == "d1 · Red by a rule: fewer than 10"  # type: ignore[union-attr]
    scale = PLOT / nice_scale(HIDDEN_AT_MOST + 10)[0]
    assert float(hidden.get("height", "0")) == pytest.approx(HIDDEN_AT_MOST * scale)
    hatch = [r for r in root.iter(f"{{{NS['s']}}}rect") if r.get("class") == "hatch"]
    assert [h.get("fill") for h in hatch] == ["url(#c1-hatch)"]
    assert root.find(".//s:pattern", NS).get("id") == "c1-hatch"  # type: ignore[union-attr]
    assert not chart(Series("a", "A", [1, 2])).has_hidden


def test_text_is_escaped() -> None:
    c = Chart("c2", "<script>alert(1)</script>", "a & b", ["<d>"], [Series("a", "\"A'", [1])],
              "x", "y")  # fmt: skip
    drawn = str(svg(c))
    assert "<script>" not in drawn
    assert "&lt;script&gt;" in drawn
    ET.fromstring(drawn)  # noqa: S314 - our own output: still well-formed


def test_a_series_must_match_the_categories() -> None:
    with pytest.raises(ValueError, match="2 categories"):
        chart(Series("a", "A", [1]))
    with pytest.raises(ValueError, match="negative"):
        chart(Series("a", "A", [1, -1]))


def test_an_empty_period_still_draws_its_axes() -> None:
    root = parse(chart(Series("a", "A", [0, 0])))
    assert bars(root) == []
    assert next(t.text for t in root.iter(f"{{{NS['s']}}}text")) == "0"
