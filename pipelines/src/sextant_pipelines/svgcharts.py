"""Small SVG charts for the HTML reports: milliseconds to draw, where matplotlib took 5-10 s of a time budget.

Each function returns an `<img>` tag with the SVG inlined as a data URI, so a report stays one self-contained
file (no scripts, no external assets) and any browser shows it.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

WIDTH, HEIGHT, PAD = 240, 150, 28
BLUE, ORANGE, RED, GREEN = "#4c72b0", "#dd8452", "#c44e52", "#55a868"


def _img(svg: str, alt: str, width: int, height: int) -> str:
    document = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">{svg}</svg>')
    data = base64.b64encode(document.encode()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/svg+xml;base64,{data}">'


def _text(x: float, y: float, value: str, anchor: str = "start", color: str = "#333", size: int = 10) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{color}" font-size="{size}">'
            f"{html.escape(value)}</text>")


def histogram(title: str, edges: Sequence[float], counts: Sequence[int], color: str = BLUE) -> str:
    """Vertical bars over numeric bins, with the range written under the axis."""
    top = max(max(counts, default=0), 1)
    plot_w, plot_h = WIDTH - 2 * 8, HEIGHT - PAD - 22
    bar_w = plot_w / max(len(counts), 1)
    parts = [_text(WIDTH / 2, 14, title, "middle", size=11)]
    for i, count in enumerate(counts):
        h = plot_h * count / top
        parts.append(f'<rect x="{8 + i * bar_w:.1f}" y="{22 + plot_h - h:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                     f'height="{h:.1f}" fill="{color}"><title>{count}</title></rect>')
    parts.append(_text(8, HEIGHT - 8, f"{edges[0]:.4g}") if edges else "")
    parts.append(_text(WIDTH - 8, HEIGHT - 8, f"{edges[-1]:.4g}", "end") if edges else "")
    return _img("".join(parts), title, WIDTH, HEIGHT)


def bars(title: str, labels: Sequence[str], values: Sequence[float], color: str = ORANGE, unit: str = "",
         width: int = WIDTH, limit: float | None = None) -> str:
    """Horizontal bars, one per label, with the value written at the end of each."""
    row = 16
    height = 24 + row * len(labels) + 6
    label_w = min(width // 2, 8 + 6 * max((len(str(label)) for label in labels), default=1))
    plot_w = width - label_w - 50
    top = limit if limit is not None else max((abs(v) for v in values), default=1.0) or 1.0
    parts = [_text(width / 2, 14, title, "middle", size=11)]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 22 + i * row
        w = max(plot_w * abs(value) / top, 0.5)
        parts.append(_text(label_w - 4, y + 11, str(label)[:40], "end"))
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 4}" fill="{color}"/>')
        parts.append(_text(label_w + w + 3, y + 11, f"{value:.3g}{unit}"))
    return _img("".join(parts), title, width, height)


def curve(title: str, series: dict[str, tuple[Sequence[float], Sequence[float]]], x_label: str, y_label: str,
          diagonal: bool = False, size: int = 260) -> str:
    """Lines in the unit square (ROC and precision-recall curves), one per named series."""
    left, inner = 34, size - 44
    colors = [BLUE, ORANGE, GREEN, RED, "#8172b2", "#937860"]

    def point(x: float, y: float) -> str:
        return f"{left + inner * x:.1f},{10 + inner * (1 - y):.1f}"

    parts = [f'<rect x="{left}" y="10" width="{inner}" height="{inner}" fill="none" stroke="#999"/>',
             _text(left + inner / 2, size - 6, x_label, "middle"),
             _text(10, 10 + inner / 2, y_label, "middle").replace("<text", f'<text transform="rotate(-90 10 '
                                                                   f'{10 + inner / 2:.1f})"', 1)]
    if diagonal:
        parts.append(f'<polyline points="{point(0, 0)} {point(1, 1)}" stroke="#bbb" stroke-dasharray="4" '
                     f'fill="none"/>')
    for i, (name, (xs, ys)) in enumerate(series.items()):
        color = colors[i % len(colors)]
        points = " ".join(point(float(x), float(y)) for x, y in zip(xs, ys, strict=True))
        parts.append(f'<polyline points="{points}" stroke="{color}" stroke-width="1.5" fill="none"/>')
        parts.append(_text(left + inner - 4, 24 + 12 * i, name, "end", color))
    return _img("".join(parts), title, size, size)


def matrix(title: str, labels: Sequence[str], cells: Sequence[Sequence[int]]) -> str:
    """A confusion matrix as shaded cells (rows: true class, columns: predicted class)."""
    n = len(labels)
    cell, left, top_pad = max(24, min(60, 360 // max(n, 1))), 90, 40
    size_w, size_h = left + cell * n + 10, top_pad + cell * n + 24
    peak = max((max(r) for r in cells), default=1) or 1
    parts = [_text(size_w / 2, 14, title, "middle", size=11), _text(left + cell * n / 2, 30, "predicted", "middle")]
    for i, row in enumerate(cells):
        parts.append(_text(left - 4, top_pad + cell * i + cell / 2 + 4, str(labels[i])[:14], "end"))
        for j, value in enumerate(row):
            shade = int(245 - 170 * value / peak)
            parts.append(f'<rect x="{left + cell * j}" y="{top_pad + cell * i}" width="{cell}" height="{cell}" '
                         f'fill="rgb({shade},{shade},255)" stroke="white"/>')
            parts.append(_text(left + cell * j + cell / 2, top_pad + cell * i + cell / 2 + 4, str(value), "middle"))
    for j, label in enumerate(labels):
        parts.append(_text(left + cell * j + cell / 2, top_pad + cell * n + 14, str(label)[:8], "middle"))
    return _img("".join(parts), title, size_w, size_h)


def scatter(title: str, xs: Sequence[float], ys: Sequence[float], x_label: str, y_label: str,
            size: int = 300) -> str:
    """Points (residuals against predictions) with a zero line."""
    left, inner = 44, size - 60
    x_low, x_high = min(xs, default=0.0), max(xs, default=1.0)
    y_span = max((abs(v) for v in ys), default=1.0) or 1.0
    x_span = (x_high - x_low) or 1.0

    def at(x: float, y: float) -> tuple[float, float]:
        return left + inner * (x - x_low) / x_span, 14 + inner * (1 - (y + y_span) / (2 * y_span))

    parts = [_text(size / 2, 10, title, "middle", size=11),
             f'<line x1="{left}" x2="{left + inner}" y1="{14 + inner / 2}" y2="{14 + inner / 2}" stroke="#999"/>',
             _text(left + inner / 2, size - 6, x_label, "middle"), _text(2, 24, y_label),
             _text(left - 2, 20, f"{y_span:.3g}", "end"), _text(left - 2, 14 + inner, f"-{y_span:.3g}", "end")]
    for x, y in zip(xs, ys, strict=True):
        cx, cy = at(float(x), float(y))
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="1.6" fill="{BLUE}" fill-opacity="0.6"/>')
    return _img("".join(parts), title, size, size)
