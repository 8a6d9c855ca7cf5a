"""Server-rendered SVG charts: no JavaScript and no inline style (CSP-safe), readable
without colour (every bar has its number as text), and escaped labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = {
    "new": "#6b7a8f",
    "triaged": "#1f4e8c",
    "captured": "#2d7d9a",
    "notice_sent": "#8a5a00",
    "removed": "#22703f",
    "reappeared": "#a12a2a",
    "dismissed": "#b0b7c0",
}
BAR = "#1f4e8c"


def _fmt(value: float) -> str:
    return f"{value:.1f}" if value % 1 else f"{int(value)}"


def bar_chart(rows: Sequence[tuple[str, float]], *, title: str, unit: str = "") -> SafeString:
    """Horizontal bars, one per (label, value)."""
    label_w, bar_w, row_h = 220, 360, 26
    height = max(1, len(rows)) * row_h + 10
    top = max((value for _label, value in rows), default=0) or 1
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {label_w + bar_w + 80} {height}" '
        f'width="100%" height="{height}" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(rows):
        y = 5 + i * row_h
        width = bar_w * value / top
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" font-size="13" '
            f'fill="#1d2530">{escape(label[:32])}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row_h - 8}" '
            f'fill="{BAR}"><title>{escape(label)}: {_fmt(value)} {escape(unit)}</title></rect>'
            f'<text x="{label_w + width + 6:.1f}" y="{y + 17}" font-size="12" '
            f'fill="#5d6876">{_fmt(value)}{escape(" " + unit if unit else "")}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped


def weekly_chart(
    weeks: Sequence[date],
    statuses: Sequence[str],
    counts: Mapping[date, Mapping[str, int]],
    *,
    labels: dict[str, str],
    title: str,
) -> SafeString:
    """Stacked columns per week, one colour per status, with a legend."""
    left, col_w, plot_h, gap = 36, 44, 180, 10
    width = left + len(weeks) * (col_w + gap) + 10
    legend_y = plot_h + 42
    height = legend_y + 22 * ((len(statuses) + 3) // 4) + 8
    top = max((sum(counts[w].get(s, 0) for s in statuses) for w in weeks), default=0) or 1
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {max(width, 560)} {height}" width="100%" '
        f'height="{height}" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<text x="{left - 6}" y="14" text-anchor="end" font-size="11" fill="#5d6876">{top}</text>',
        f'<line x1="{left}" y1="{plot_h + 10}" x2="{width}" y2="{plot_h + 10}" stroke="#c3c9d1"/>',
    ]
    for i, week in enumerate(weeks):
        x = left + gap + i * (col_w + gap)
        y: float = plot_h + 10
        for status in statuses:
            n = counts[week].get(status, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            parts.append(
                f'<rect class="bar" x="{x}" y="{y:.1f}" width="{col_w}" height="{h:.1f}" '
                f'fill="{PALETTE.get(status, BAR)}"><title>{week.isoformat()} '
                f"{escape(labels.get(status, status))}: {n}</title></rect>"
            )
        parts.append(
            f'<text x="{x + col_w / 2}" y="{plot_h + 26}" text-anchor="middle" font-size="10" '
            f'fill="#5d6876">{week.strftime("%m-%d")}</text>'
        )
    for i, status in enumerate(statuses):
        x = left + (i % 4) * 140
        y = legend_y + 22 * (i // 4)
        parts.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{PALETTE.get(status, BAR)}"/>'
            f'<text x="{x + 18}" y="{y + 11}" font-size="12" fill="#1d2530">'
            f"{escape(labels.get(status, status))}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped
