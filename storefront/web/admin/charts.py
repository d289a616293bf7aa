"""Small server-rendered SVG charts for the dashboard: bars or a line over twelve months.

Hand-written SVG with presentation attributes only (no <style>, no script, no inline style
attribute), so the strict CSP holds and nothing is fetched. Each chart carries a <title> and
<desc> for assistive technology; the page adds a text summary and the data as a table
(templates/admin/_charts.html). Labels and values are escaped here.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 30
ACCENT = "#3182f6"
INK = "#4e5968"
GRID = "#e5e8eb"


@dataclass(frozen=True)
class Chart:
    """One chart: its id (for ARIA), title, one-sentence summary, SVG, and the rows of its data table."""

    id: str
    title: str
    summary: str
    svg: Markup
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def won_short(value: int) -> str:
    """Axis labels: 123,000,000 -> '1.2억', 1,250,000 -> '125만', 9,900 -> '9,900'."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 100_000_000:
        return f"{sign}{value / 100_000_000:.3g}억"
    if value >= 10_000:
        return f"{sign}{value / 10_000:,.4g}만"
    return f"{sign}{value:,}"


def tick_step(value: int) -> int:
    """The step between the 4 gridlines: the smallest 1, 2, 2.5 or 5 × 10^k (a whole number) reaching `value`."""
    scale = 1
    while True:
        for factor in (1, 2, 2.5, 5):
            step = factor * scale
            if step == int(step) and 4 * step >= value:
                return int(step)
        scale *= 10


def render(
    chart_id: str,
    labels: Sequence[str],
    values: Sequence[int],
    *,
    kind: str,
    title: str,
    desc: str,
    fmt: Callable[[int], str],
) -> Markup:
    """The SVG for `values` (one per label) as bars (`kind="bar"`) or a line (`kind="line"`)."""
    if kind not in ("bar", "line") or len(labels) != len(values) or not labels:
        raise ValueError("a bar or line chart needs one value per label")
    step = tick_step(max(max(values), -min(values), 1))
    top = step * 4 if max(values) > 0 or min(values) >= 0 else 0
    bottom = -step * 4 if min(values) < 0 else 0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(values)

    def y(value: float) -> float:
        return TOP + plot_h * (top - value) / (top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" class="chart">',
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    for i in range(5):
        tick = bottom + (top - bottom) * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{INK}">{escape(fmt(round(tick)))}</text>'
        )
    for i, label in enumerate(labels):
        parts.append(
            f'<text x="{LEFT + slot * (i + 0.5):.1f}" y="{HEIGHT - 10}" text-anchor="middle" '
            f'font-size="11" fill="{INK}">{escape(label)}</text>'
        )
    parts.extend(_bars(values, slot, y) if kind == "bar" else _line(values, slot, y))
    parts.append("</svg>")
    return Markup("".join(parts))


def _bars(values: Sequence[int], slot: float, y: Callable[[float], float]) -> list[str]:
    out = []
    width = slot * 0.6
    for i, value in enumerate(values):
        top, base = sorted((y(value), y(0)))
        out.append(
            f'<rect x="{LEFT + slot * i + (slot - width) / 2:.1f}" y="{top:.1f}" width="{width:.1f}" '
            f'height="{max(base - top, 0):.1f}" fill="{ACCENT}" rx="2"/>'
        )
    return out


def _line(values: Sequence[int], slot: float, y: Callable[[float], float]) -> list[str]:
    points = [(LEFT + slot * (i + 0.5), y(value)) for i, value in enumerate(values)]
    path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    out = [f'<polyline points="{path}" fill="none" stroke="{ACCENT}" stroke-width="2.5" stroke-linejoin="round"/>']
    out.extend(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{ACCENT}"/>' for px, py in points)
    return out
