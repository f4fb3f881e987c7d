"""Bar charts as inline SVG, drawn on the server: no chart library, no script, nothing to build.

A chart reads without JavaScript, prints, and is announced by screen readers: the SVG is an
image named by its `<title>` and described by its `<desc>`, and every bar carries a `<title>`
with its day, series and count (the page adds the same numbers as a table). Colours come from
CSS classes (`bar-<series key>`), never from inline styles, which the pages' CSP forbids.

A count withheld by the report's suppression (a count of people from 1 to 9, published as
null) is drawn honestly: a hatched, dashed bar as tall as the most it could be (9), titled
"fewer than 10", never as zero and never as a guess.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 480, 250
LEFT, RIGHT, TOP, BOTTOM = 62, 8, 12, 58
HIDDEN_AT_MOST = 9  # a suppressed count is 1 to 9: drawn at its upper bound, hatched
MAX_TICK_LABELS = 6


@dataclass(frozen=True, slots=True)
class Series:
    """One kind of count over the chart's categories. `key` names its CSS class (a token)."""

    key: str
    label: str
    values: Sequence[int | None]  # None: withheld (fewer than 10)


@dataclass(frozen=True, slots=True)
class Chart:
    chart_id: str  # unique on the page: prefixes the SVG's element ids
    title: str
    desc: str
    labels: Sequence[str]  # one per category (a day), in full
    series: Sequence[Series]
    x_label: str
    y_label: str
    hidden_text: str = "fewer than 10"
    stacked: bool = True
    ticks: Sequence[str] | None = None  # short axis labels; the full labels by default

    def __post_init__(self) -> None:
        for s in self.series:
            if len(s.values) != len(self.labels):
                raise ValueError(f"series {s.key!r} has {len(s.values)} values for "
                                 f"{len(self.labels)} categories")  # fmt: skip
            if any(v is not None and v < 0 for v in s.values):
                raise ValueError(f"series {s.key!r} has a negative count")

    @property
    def has_hidden(self) -> bool:
        return any(v is None for s in self.series for v in s.values)


def drawn(value: int | None) -> int:
    """The height a count is drawn at: a withheld one at the most it could be."""
    return HIDDEN_AT_MOST if value is None else value


def nice_scale(largest: int) -> tuple[int, int]:
    """(axis maximum, tick step): a step of 1, 2 or 5 × 10^k, five ticks at most."""
    if largest <= 0:
        return 5, 1
    for exponent in range(int(math.log10(largest)) + 2):
        for base in (1, 2, 5):
            step = base * 10**exponent
            if math.ceil(largest / step) <= 5:
                return step * math.ceil(largest / step), step
    raise AssertionError("unreachable")  # pragma: no cover


def _largest(chart: Chart) -> int:
    if not chart.labels or not chart.series:
        return 0
    if chart.stacked:
        return max(sum(drawn(s.values[i]) for s in chart.series) for i in range(len(chart.labels)))
    return max(drawn(v) for s in chart.series for v in s.values)


def _text(value: object) -> str:
    return str(escape(str(value)))


def _bar(chart: Chart, s: Series, label: str, x: float, y: float, w: float, h: float,
         value: int | None) -> str:  # fmt: skip
    count = chart.hidden_text if value is None else str(value)
    name = f"{label} · {s.label}: {count}"
    hidden = value is None
    cls = f"bar bar-{s.key}" + (" hidden-count" if hidden else "")
    out = (f'<rect class="{_text(cls)}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
           f'height="{h:.1f}"><title>{_text(name)}</title></rect>')  # fmt: skip
    if hidden:
        out += (f'<rect class="hatch" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                f'fill="url(#{_text(chart.chart_id)}-hatch)" aria-hidden="true"/>')  # fmt: skip
    return out


def _bars(chart: Chart, scale: float, slot: float) -> list[str]:
    base = TOP + (HEIGHT - TOP - BOTTOM)
    width = slot * 0.7
    parts: list[str] = []
    for i, label in enumerate(chart.labels):
        x0 = LEFT + i * slot + (slot - width) / 2
        if chart.stacked:
            y = float(base)
            for s in chart.series:
                value = s.values[i]
                if value == 0:
                    continue
                h = drawn(value) * scale
                y -= h
                parts.append(_bar(chart, s, label, x0, y, width, h, value))
            continue
        each = width / max(1, len(chart.series))
        for j, s in enumerate(chart.series):
            value = s.values[i]
            if value == 0:
                continue
            h = drawn(value) * scale
            parts.append(_bar(chart, s, label, x0 + j * each, base - h, each, h, value))
    return parts


def _axes(chart: Chart, top_value: int, step: int, slot: float) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    parts = []
    for tick in range(0, top_value + 1, step):
        y = base - tick * plot_h / top_value
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/><text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{tick}</text>')  # fmt: skip
    ticks = list(chart.ticks) if chart.ticks is not None else list(chart.labels)
    every = max(1, math.ceil(len(ticks) / MAX_TICK_LABELS))
    for i, tick_label in enumerate(ticks):
        if i % every:
            continue
        x = LEFT + (i + 0.5) * slot
        parts.append(f'<text class="tick" x="{x:.1f}" y="{base + 20}" '
                     f'text-anchor="middle">{_text(tick_label)}</text>')  # fmt: skip
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}"/>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{base}"/>')
    centre = (LEFT + WIDTH - RIGHT) / 2
    parts.append(f'<text class="axis-label" x="{centre:.1f}" y="{HEIGHT - 12}" '
                 f'text-anchor="middle">{_text(chart.x_label)}</text>')  # fmt: skip
    mid = TOP + plot_h / 2
    parts.append(f'<text class="axis-label" x="16" y="{mid:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 16 {mid:.1f})">{_text(chart.y_label)}</text>')  # fmt: skip
    return parts


def svg(chart: Chart) -> Markup:
    """The chart as an `<svg>` element, to put in a page as it is."""
    cid = _text(chart.chart_id)
    top_value, step = nice_scale(_largest(chart))
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(chart.labels))
    scale = (HEIGHT - TOP - BOTTOM) / top_value
    head = (
        f'<svg class="chart" id="{cid}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{cid}-title">{_text(chart.title)}</title>'
        f'<desc id="{cid}-desc">{_text(chart.desc)}</desc>'
        f'<defs><pattern id="{cid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><line class="hatch-line" x1="0" y1="0" x2="0" y2="6"/>'
        f"</pattern></defs>"
    )
    body = _axes(chart, top_value, step, slot) + _bars(chart, scale, slot)
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every text above is escaped
