"""Small inline SVG charts, drawn in Python: no JavaScript, no fonts or files from the network.

Each chart is an ``<svg>`` element with ``role="img"``, a ``<title>``, ``data-chart`` naming it and
``data-points`` counting its data points, and a ``<title>`` on every mark so a browser shows the value
on hover. Values are drawn on a linear scale from zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH = 720
HEIGHT = 260
MARGIN_LEFT = 56
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 54
PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#4d7c0f", "#be185d")


def nice_max(value: float) -> float:
    """A round upper bound for an axis (1, 2, 2.5, 5 times a power of ten)."""
    if value <= 0 or math.isnan(value):
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        bound = step * 10**exponent
        if bound >= value:
            return float(bound)
    return float(10 ** (exponent + 1))


def _fmt(value: float) -> str:
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _open(chart_id: str, title: str, points: int, height: int = HEIGHT) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" data-chart="{escape(chart_id)}" '
        f'data-points="{points}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]


def _empty(chart_id: str, title: str) -> str:
    parts = _open(chart_id, title, 0, 80)
    parts.append(f'<text x="{WIDTH / 2}" y="45" text-anchor="middle" class="empty">No data yet</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _y_axis(parts: list[str], top: float, unit: str, plot_h: float) -> None:
    for i in range(5):
        value = top * i / 4
        y = MARGIN_TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{_fmt(value)}{unit}</text>'
        )


def _x_labels(parts: list[str], labels: Sequence[str], xs: Sequence[float], plot_h: float) -> None:
    every = max(1, math.ceil(len(labels) / 14))
    for i, (label, x) in enumerate(zip(labels, xs, strict=True)):
        if i % every:
            continue
        y = MARGIN_TOP + plot_h + 14
        parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" transform="rotate(-35 {x:.1f} {y:.1f})" '
            f'class="tick">{escape(label)}</text>'
        )


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    unit: str = "",
    max_value: float | None = None,
) -> str:
    """Vertical bars per label; several series are stacked (e.g. orders per day by state)."""
    if not labels:
        return _empty(chart_id, title)
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = max_value if max_value is not None else nice_max(max(totals))
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_w / len(labels)
    bar_w = max(1.0, slot * 0.75)
    parts = _open(chart_id, title, len(labels), HEIGHT + (22 if len(series) > 1 else 0))
    _y_axis(parts, top, unit, plot_h)
    xs = []
    for i, label in enumerate(labels):
        x = MARGIN_LEFT + i * slot + (slot - bar_w) / 2
        xs.append(x + bar_w / 2)
        base = 0.0
        for s, (name, values) in enumerate(series.items()):
            value = float(values[i])
            if value <= 0:
                continue
            h = plot_h * value / top
            y = MARGIN_TOP + plot_h - plot_h * base / top - h
            tip = f"{label}: {_fmt(value)}{unit}" + (f" {name}" if len(series) > 1 else "")
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}" class="mark"><title>{escape(tip)}</title></rect>'
            )
            base += value
    _x_labels(parts, labels, xs, plot_h)
    if len(series) > 1:
        _legend(parts, list(series))
    parts.append("</svg>")
    return "\n".join(parts)


def line_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    unit: str = "",
    max_value: float | None = None,
) -> str:
    """One polyline per series over the labels; ``None`` values leave a gap."""
    present = [v for values in series.values() for v in values if v is not None]
    if not labels or not present:
        return _empty(chart_id, title)
    top = max_value if max_value is not None else nice_max(max(present))
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    step = plot_w / max(1, len(labels) - 1) if len(labels) > 1 else 0
    xs = [MARGIN_LEFT + (i * step if len(labels) > 1 else plot_w / 2) for i in range(len(labels))]
    parts = _open(chart_id, title, len(labels), HEIGHT + (22 if len(series) > 1 else 0))
    _y_axis(parts, top, unit, plot_h)
    for s, (name, values) in enumerate(series.items()):
        color = PALETTE[s % len(PALETTE)]
        segment: list[str] = []
        segments: list[list[str]] = []
        for x, value in zip(xs, values, strict=True):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            y = MARGIN_TOP + plot_h - plot_h * float(value) / top
            segment.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}" class="mark">'
                f"<title>{escape(name)}: {_fmt(float(value))}{unit}</title></circle>"
            )
        if segment:
            segments.append(segment)
        for seg in segments:
            parts.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{color}" stroke-width="2"/>')
    _x_labels(parts, labels, xs, plot_h)
    if len(series) > 1:
        _legend(parts, list(series))
    parts.append("</svg>")
    return "\n".join(parts)


def hbar_chart(chart_id: str, title: str, labels: Sequence[str], values: Sequence[float], unit: str = "") -> str:
    """Horizontal bars, one per label (carriers, refund reasons), largest scale first."""
    if not labels:
        return _empty(chart_id, title)
    row = 24
    left = 200
    height = MARGIN_TOP + row * len(labels) + 24
    top = nice_max(max(float(v) for v in values))
    plot_w = WIDTH - left - MARGIN_RIGHT - 60
    parts = _open(chart_id, title, len(labels), height)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = MARGIN_TOP + i * row
        w = plot_w * float(value) / top
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" class="tick">{escape(label)}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{PALETTE[0]}" class="mark">'
            f"<title>{escape(label)}: {_fmt(float(value))}{unit}</title></rect>"
            f'<text x="{left + w + 6:.1f}" y="{y + 15}" class="value">{_fmt(float(value))}{unit}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _legend(parts: list[str], names: list[str]) -> None:
    x = MARGIN_LEFT
    y = HEIGHT + 14
    for s, name in enumerate(names):
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{PALETTE[s % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="{y}" class="legend">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
