"""Small server-side SVG charts: no JavaScript, readable on a phone, printable."""

from __future__ import annotations

from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

WIDTH, HEIGHT, PAD = 640, 200, 28


def trend_svg(
    series: list[tuple[date, float]], median: list[tuple[date, float]], *, label: str = "", empty: str = ""
) -> SafeString:
    """A line of a score over a median line (the merchant's against the marketplace's), on a 0..100 axis."""
    if not series:
        return format_html("<p>{}</p>", empty or _("No scores yet: they are computed every night."))
    first, last = series[0][0], series[-1][0]
    span = max((last - first).days, 1)
    low = max(0.0, min(v for _, v in series + median) - 5)
    high = min(100.0, max(v for _, v in series + median) + 5)

    def x(day: date) -> float:
        if first == last:  # a lone point sits in the middle
            return WIDTH / 2
        return PAD + (WIDTH - 2 * PAD) * (day - first).days / span

    def y(value: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (value - low) / max(high - low, 1)

    def points(data: list[tuple[date, float]]) -> str:
        return " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in data)

    grid = format_html_join(
        "",
        '<line x1="{0}" x2="{1}" y1="{2}" y2="{2}" class="grid"/><text x="4" y="{3}">{4}</text>',
        ((PAD, WIDTH - PAD, f"{y(v):.1f}", f"{y(v) + 4:.1f}", f"{v:.0f}") for v in (low, (low + high) / 2, high)),
    )
    return format_html(
        '<svg class="trend" viewBox="0 0 {w} {h}" role="img" aria-label="{label}">{grid}'
        '<polyline class="median" points="{median}"/><polyline class="score" points="{score}"/>{dots}'
        '<text x="{left}" y="{bottom}">{first}</text><text x="{right}" y="{bottom}" text-anchor="end">{last}</text>'
        "</svg>",
        w=WIDTH,
        h=HEIGHT,
        label=label or _("Service score trend against the marketplace median"),
        grid=grid,
        median=points(median),
        score=points(series),
        # A dot per point: a single day (or week) draws no line, and gaps between points show.
        dots=format_html_join(
            "", '<circle class="dot" cx="{}" cy="{}" r="3"/>', ((f"{x(d):.1f}", f"{y(v):.1f}") for d, v in series)
        ),
        left=PAD,
        right=WIDTH - PAD,
        bottom=HEIGHT - 6,
        first=first.isoformat(),
        last=last.isoformat(),
    )
