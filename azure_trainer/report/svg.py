"""The report's charts, as inline SVG strings: metric curves, scatters, parallel coordinates and bars.

Why hand-written SVG and not a plotting library: the page must open without a network and stay small.
plotly, bokeh and Vega-Altair draw in the browser with their JavaScript runtime (1-5 MB pasted into every
page, or fetched from a CDN); matplotlib draws static SVG but is a ~40 MB dependency (numpy, pillow,
fonttools) for four simple chart types and writes every glyph and marker as an anonymous path. These
charts are a few hundred lines of standard library, keep one DOM element per data point (``<circle
class="point">`` with a ``<title>`` tooltip, one ``<path class="series">`` per curve), and cost the
CLI nothing at start-up.

Every chart is ``<svg class="chart KIND" viewBox=...>`` scaled by CSS; colours come from the Okabe-Ito
palette (readable with the common colour-vision deficiencies). Non-finite values are left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
"""Okabe-Ito colours, in the order series get them."""

WIDTH, HEIGHT = 560, 320
WIDE = 1100
"""The width of a chart that spans the page (parallel coordinates, every trial's curve)."""
_MARGIN = {"left": 64, "right": 16, "top": 34, "bottom": 46}


def colour(i: int) -> str:
    """Series ``i``'s colour, cycling through :data:`PALETTE`."""
    return PALETTE[i % len(PALETTE)]


def is_number(value: Any) -> bool:
    """Whether ``value`` can be plotted: a finite int or float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: Any) -> str:
    """A number as a short label (4 significant digits, no trailing zeros); anything else as text."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))
    return f"{value:.4g}"


# -- scales ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """Maps data values onto a pixel range: linear, log10 or categorical (evenly spaced labels)."""

    lo: float
    hi: float
    start: float
    end: float
    log: bool = False
    categories: tuple[str, ...] = ()

    def __call__(self, value: Any) -> float:
        if self.categories:
            i = self.categories.index(str(value))
            frac = (i + 0.5) / len(self.categories)
        else:
            v = math.log10(value) if self.log else float(value)
            frac = 0.5 if self.hi == self.lo else (v - self.lo) / (self.hi - self.lo)
        return self.start + frac * (self.end - self.start)

    def ticks(self) -> list[tuple[float, str]]:
        """(pixel, label) for each tick."""
        if self.categories:
            return [(self(c), c) for c in self.categories]
        values = _log_ticks(self.lo, self.hi) if self.log else nice_ticks(self.lo, self.hi)
        eps = (self.hi - self.lo) * 1e-9
        inside = [v for v in values if self.lo - eps <= (math.log10(v) if self.log else v) <= self.hi + eps]
        return [(self(v), fmt(v)) for v in inside]


def make_scale(values: Sequence[Any], start: float, end: float, *, log: bool | None = None) -> Scale:
    """A scale for ``values``: categorical if any is not a number, log if asked (or, with ``log=None``,
    if all are positive and the largest is at least 20 times the smallest), else linear with "nice" padded bounds."""
    if any(not is_number(v) for v in values):
        cats = tuple(dict.fromkeys(str(v) for v in values))
        return Scale(0, 1, start, end, categories=cats)
    nums = [float(v) for v in values] or [0.0, 1.0]
    lo, hi = min(nums), max(nums)
    if log is None:
        log = lo > 0 and hi / lo >= 20
    if log and lo > 0:
        llo, lhi = math.log10(lo), math.log10(hi)
        pad = (lhi - llo) * 0.05 or 0.5
        return Scale(llo - pad, lhi + pad, start, end, log=True)
    if lo == hi:
        lo, hi = lo - (abs(lo) * 0.1 or 1), hi + (abs(hi) * 0.1 or 1)
    ticks = nice_ticks(lo, hi)
    return Scale(min(lo, ticks[0]), max(hi, ticks[-1]), start, end)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (steps of 1, 2 or 5 x 10^k) covering [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step) * step
    ticks, v = [], first
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    if ticks[-1] < hi:
        ticks.append(round(v, 12))
    return ticks


def _log_ticks(llo: float, lhi: float) -> list[float]:
    decades = range(math.floor(llo), math.ceil(lhi) + 1)
    mults = (1, 2, 5) if lhi - llo < 3 else (1,)
    return [m * 10**d for d in decades for m in mults if llo <= math.log10(m * 10**d) <= lhi]


# -- building blocks ------------------------------------------------------------------------------


def _svg(kind: str, title: str, body: list[str], *, width: int = WIDTH, height: int = HEIGHT) -> str:
    return (
        f'<svg class="chart {kind}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f'<text class="chart-title" x="{_MARGIN["left"]}" y="20">{escape(title)}</text>'
        + "".join(body)
        + "</svg>"
    )


def _axes(x: Scale, y: Scale, x_label: str, y_label: str, *, height: int = HEIGHT) -> list[str]:
    """Grid lines, tick labels and axis titles for an x/y chart."""
    top, bottom = _MARGIN["top"], height - _MARGIN["bottom"]
    left, right = x.start, x.end
    out = ['<g class="axes">']
    for px, label in y.ticks():
        out.append(f'<line class="grid" x1="{left:.1f}" x2="{right:.1f}" y1="{px:.1f}" y2="{px:.1f}"/>')
        out.append(
            f'<text class="tick" x="{left - 6:.1f}" y="{px + 4:.1f}" text-anchor="end">{escape(label)}</text>'
        )
    for px, label in _thin(x.ticks(), right - left):
        out.append(f'<line class="grid" x1="{px:.1f}" x2="{px:.1f}" y1="{top}" y2="{bottom}"/>')
        out.append(
            f'<text class="tick" x="{px:.1f}" y="{bottom + 16}" text-anchor="middle">{escape(label)}</text>'
        )
    out.append(f'<line class="axis" x1="{left:.1f}" x2="{right:.1f}" y1="{bottom}" y2="{bottom}"/>')
    out.append(f'<line class="axis" x1="{left:.1f}" x2="{left:.1f}" y1="{top}" y2="{bottom}"/>')
    out.append(
        f'<text class="axis-label" x="{(left + right) / 2:.1f}" y="{height - 8}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    mid = (top + bottom) / 2
    out.append(
        f'<text class="axis-label" x="14" y="{mid:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {mid:.1f})">{escape(y_label)}</text>'
    )
    out.append("</g>")
    return out


def _thin(ticks: list[tuple[float, str]], span: float) -> list[tuple[float, str]]:
    """Every k-th tick, so that labels do not overlap (about 7 px a character)."""
    if not ticks:
        return ticks
    longest = max(len(label) for _, label in ticks) * 7 + 8
    k = max(1, math.ceil(len(ticks) * longest / max(span, 1)))
    return ticks[::k]


def _no_data(kind: str, title: str, why: str) -> str:
    return _svg(
        kind,
        title,
        [f'<text class="no-data" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">{escape(why)}</text>'],
    )


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    out = ['<g class="legend">']
    for i, name in enumerate(names):
        yy = y + i * 16
        out.append(f'<rect x="{x:.1f}" y="{yy - 9:.1f}" width="10" height="10" fill="{colour(i)}"/>')
        out.append(f'<text x="{x + 14:.1f}" y="{yy:.1f}">{escape(name)}</text>')
    out.append("</g>")
    return out


# -- charts ---------------------------------------------------------------------------------------


def line_chart(
    title: str,
    series: Mapping[str, Sequence[tuple[Any, Any]]],
    *,
    x_label: str = "step",
    y_label: str = "",
    highlight: str | None = None,
    width: int = WIDTH,
) -> str:
    """One curve per series (``{name: [(x, y), ...]}``), points marked; ``highlight`` draws one series
    thicker (a sweep's best trial)."""
    clean = {
        name: sorted((float(x), float(y)) for x, y in pts if is_number(x) and is_number(y))
        for name, pts in series.items()
    }
    clean = {k: v for k, v in clean.items() if v}
    if not clean:
        return _no_data("line-chart", title, "no values logged")
    xs = [x for pts in clean.values() for x, _ in pts]
    ys = [y for pts in clean.values() for _, y in pts]
    legend_w = 130 if len(clean) > 1 else 0
    x = make_scale(xs, _MARGIN["left"], width - _MARGIN["right"] - legend_w, log=False)
    y = make_scale(ys, HEIGHT - _MARGIN["bottom"], _MARGIN["top"], log=False)
    body = _axes(x, y, x_label, y_label)
    many_points = sum(len(p) for p in clean.values()) > 400
    for i, (name, pts) in enumerate(clean.items()):
        stroke_w = 3 if name == highlight else 1.6
        d = " ".join(f"{'M' if j == 0 else 'L'}{x(px):.1f},{y(py):.1f}" for j, (px, py) in enumerate(pts))
        body.append(
            f'<g class="curve" data-name="{escape(name)}"><path class="series" d="{d}" fill="none" '
            f'stroke="{colour(i)}" stroke-width="{stroke_w}"/>'
        )
        for px, py in pts if not many_points else ():
            body.append(
                f'<circle class="point" cx="{x(px):.1f}" cy="{y(py):.1f}" r="2.5" fill="{colour(i)}">'
                f"<title>{escape(name)} step {fmt(px)}: {fmt(py)}</title></circle>"
            )
        body.append("</g>")
    if legend_w:
        body += _legend(list(clean)[:14], width - legend_w + 8, _MARGIN["top"] + 8)
    return _svg("line-chart", title, body, width=width)


@dataclass(frozen=True)
class Point:
    """One trial in a scatter chart: its parameter value ``x``, objective ``y``, a label and whether it won."""

    x: Any
    y: float
    label: str
    best: bool = False


def scatter_chart(title: str, points: Sequence[Point], *, x_label: str, y_label: str) -> str:
    """Objective (y) against one parameter (x; log scale for wide positive ranges, categories for text)."""
    pts = [p for p in points if is_number(p.y) and (is_number(p.x) or isinstance(p.x, str))]
    if not pts:
        return _no_data("scatter-chart", title, "no finished trial")
    x = make_scale([p.x for p in pts], _MARGIN["left"] + 10, WIDTH - _MARGIN["right"] - 10)
    y = make_scale([p.y for p in pts], HEIGHT - _MARGIN["bottom"], _MARGIN["top"], log=False)
    body = _axes(x, y, x_label + (" (log scale)" if x.log else ""), y_label)
    for p in pts:
        cls = "point best" if p.best else "point"
        r = 6 if p.best else 4.5
        fill = PALETTE[3] if p.best else PALETTE[0]
        body.append(
            f'<circle class="{cls}" cx="{x(p.x):.1f}" cy="{y(p.y):.1f}" r="{r}" fill="{fill}" '
            f'fill-opacity="0.8"><title>{escape(p.label)}: {escape(x_label)}={escape(fmt(p.x))}, '
            f"{escape(y_label)}={fmt(p.y)}</title></circle>"
        )
    return _svg("scatter-chart", title, body)


@dataclass(frozen=True)
class Line:
    """One trial across the parallel axes: a value per axis (None: unknown) and its label."""

    values: Sequence[Any]
    label: str
    best: bool = False


def parallel_coordinates(
    title: str, axes: Sequence[str], lines: Sequence[Line], *, colour_axis: int = -1
) -> str:
    """One vertical axis per parameter (and the objective last), one polyline per trial, coloured from
    dark (worst) to bright (best) by the ``colour_axis`` value."""
    usable = [ln for ln in lines if all(v is not None for v in ln.values)]
    if not usable or not axes:
        return _no_data("parallel-chart", title, "no finished trial")
    width = WIDE
    left, right = _MARGIN["left"], width - _MARGIN["right"] - 30
    top, bottom = _MARGIN["top"] + 26, HEIGHT - _MARGIN["bottom"]
    step = (right - left) / max(len(axes) - 1, 1)
    scales = [make_scale([ln.values[i] for ln in usable], bottom, top) for i in range(len(axes))]
    c_scale = scales[colour_axis]
    body = ['<g class="axes">']
    for i, (name, scale) in enumerate(zip(axes, scales, strict=True)):
        ax = left + i * step
        body.append(f'<line class="axis" x1="{ax:.1f}" x2="{ax:.1f}" y1="{top}" y2="{bottom}"/>')
        body.append(
            f'<text class="axis-label" x="{ax:.1f}" y="{top - 12}" text-anchor="middle">{escape(name)}</text>'
        )
        for py, label in _thin_vertical(scale.ticks()):
            body.append(
                f'<text class="tick" x="{ax - 5:.1f}" y="{py + 4:.1f}" text-anchor="end">{escape(label)}</text>'
            )
    body.append("</g>")
    order = sorted(usable, key=lambda ln: ln.best)  # the best trial is drawn last, on top
    for ln in order:
        d = " ".join(
            f"{'M' if i == 0 else 'L'}{left + i * step:.1f},{scales[i](v):.1f}"
            for i, v in enumerate(ln.values)
        )
        frac = 0.5
        if not c_scale.categories and c_scale.hi != c_scale.lo:
            frac = (c_scale(ln.values[colour_axis]) - bottom) / (top - bottom)
        cls = "trial-line best" if ln.best else "trial-line"
        stroke = PALETTE[3] if ln.best else _ramp(frac)
        body.append(
            f'<path class="{cls}" d="{d}" fill="none" stroke="{stroke}" stroke-width="{3 if ln.best else 1.8}" '
            f'stroke-opacity="0.85"><title>{escape(ln.label)}: '
            + escape(", ".join(f"{a}={fmt(v)}" for a, v in zip(axes, ln.values, strict=True)))
            + "</title></path>"
        )
    return _svg("parallel-chart", title, body, width=width)


def _thin_vertical(ticks: list[tuple[float, str]]) -> list[tuple[float, str]]:
    if len(ticks) <= 6:
        return ticks
    k = math.ceil(len(ticks) / 6)
    return ticks[::k]


def _ramp(frac: float) -> str:
    """Dark blue (0) to light green (1): a sequential scale for the objective."""
    frac = min(max(frac, 0.0), 1.0)
    a, b = (33, 49, 140), (120, 198, 121)
    r, g, bl = (round(a[i] + (b[i] - a[i]) * frac) for i in range(3))
    return f"#{r:02x}{g:02x}{bl:02x}"


@dataclass(frozen=True)
class Bar:
    """One bar of a bar chart: its label and value."""

    label: str
    value: float
    text: str = ""
    """Shown after the bar (defaults to the value)."""
    group: int = 0
    """Bars of one group share a colour (e.g. all CPU numbers)."""


def bar_chart(title: str, bars: Sequence[Bar], *, value_label: str, goal: float | None = None) -> str:
    """Horizontal bars (labels stay readable however long); ``goal`` draws a dashed reference line."""
    usable = [b for b in bars if is_number(b.value)]
    if not usable:
        return _no_data("bar-chart", title, "no values")
    label_w = min(260, max(len(b.label) for b in usable) * 7 + 12)
    row = 26
    height = _MARGIN["top"] + row * len(usable) + _MARGIN["bottom"]
    left, right = label_w, WIDTH - 90
    top_value = max([b.value for b in usable] + ([goal] if goal is not None else []))
    x = Scale(0.0, top_value * 1.05 or 1.0, left, right)
    body = ['<g class="axes">']
    for px, label in _thin([(x(v), fmt(v)) for v in nice_ticks(0.0, x.hi) if v <= x.hi], right - left):
        body.append(
            f'<line class="grid" x1="{px:.1f}" x2="{px:.1f}" y1="{_MARGIN["top"]}" y2="{height - _MARGIN["bottom"]}"/>'
        )
        body.append(
            f'<text class="tick" x="{px:.1f}" y="{height - _MARGIN["bottom"] + 16}" text-anchor="middle">{escape(label)}</text>'
        )
    body.append(
        f'<text class="axis-label" x="{(left + right) / 2:.1f}" y="{height - 8}" text-anchor="middle">{escape(value_label)}</text>'
    )
    body.append("</g>")
    for i, b in enumerate(usable):
        y0 = _MARGIN["top"] + i * row + 4
        w = max(x(b.value) - left, 1.0)
        text = b.text or fmt(b.value)
        body.append(
            f'<g class="bar-row"><text class="tick" x="{left - 6}" y="{y0 + 13}" text-anchor="end">{escape(b.label)}</text>'
            f'<rect class="bar" x="{left}" y="{y0}" width="{w:.1f}" height="{row - 8}" fill="{colour(b.group)}">'
            f"<title>{escape(b.label)}: {escape(text)}</title></rect>"
            f'<text class="bar-value" x="{left + w + 4:.1f}" y="{y0 + 13}">{escape(text)}</text></g>'
        )
    if goal is not None:
        gx = x(goal)
        body.append(
            f'<line class="goal" x1="{gx:.1f}" x2="{gx:.1f}" y1="{_MARGIN["top"] - 4}" y2="{height - _MARGIN["bottom"]}" '
            f'stroke-dasharray="4 3"><title>goal {fmt(goal)}</title></line>'
        )
    return _svg("bar-chart", title, body, height=height)
