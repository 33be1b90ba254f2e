"""A resolutions-per-day bar chart drawn as inline SVG on the server (no JS library)."""

from __future__ import annotations

from datetime import date, timedelta
from html import escape

from markupsafe import Markup


def bar_chart(counts: dict[date, int], *, today: date, days: int = 30, title: str = "") -> Markup:
    width, height, pad = 600, 160, 24
    series = [(today - timedelta(days=days - 1 - i)) for i in range(days)]
    peak = max([counts.get(d, 0) for d in series] + [1])
    bar_w = (width - 2 * pad) / days
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height + 20}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{pad}" y1="{height}" x2="{width - pad}" y2="{height}" class="axis"/>',
        f'<text x="{pad}" y="12" class="label">{peak}</text>',
    ]
    for i, d in enumerate(series):
        n = counts.get(d, 0)
        h = (height - pad) * n / peak
        x = pad + i * bar_w + 1
        parts.append(
            f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
            f'class="bar"><title>{d.isoformat()}: {n}</title></rect>'
        )
    parts.append(f'<text x="{pad}" y="{height + 16}" class="label">{series[0].isoformat()}</text>')
    parts.append(
        f'<text x="{width - pad}" y="{height + 16}" class="label" text-anchor="end">'
        f"{series[-1].isoformat()}</text>"
    )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def hourly_chart(values: list[float], *, title: str, unit: str = "") -> Markup:
    """The last 24 hours (oldest first) as bars; the peak labels the scale."""
    width, height, pad = 600, 120, 24
    peak = max([*values, 0.0]) or 1.0
    bar_w = (width - 2 * pad) / max(len(values), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height + 20}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{pad}" y1="{height}" x2="{width - pad}" y2="{height}" class="axis"/>',
        f'<text x="{pad}" y="12" class="label">{peak:g} {escape(unit)}</text>',
    ]
    for i, v in enumerate(values):
        h = (height - pad) * v / peak
        parts.append(
            f'<rect x="{pad + i * bar_w + 1:.1f}" y="{height - h:.1f}" width="{bar_w - 2:.1f}" '
            f'height="{h:.1f}" class="bar"><title>-{len(values) - 1 - i} h: {v:g}</title></rect>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
