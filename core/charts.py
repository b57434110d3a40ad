"""Small server-side SVG charts: no JavaScript, crisp on a phone, printable.

Two kinds, each styled by its page's stylesheet through the classes it draws: a line of values over a
reference line (a merchant's service score against the marketplace median, an agent's weekly QA score
against the team's) and bars per day (the radio's customers per day).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

LINE_WIDTH, LINE_HEIGHT, LINE_PAD = 640, 200, 28
BAR_WIDTH, BAR_HEIGHT, BAR_TOP, BAR_BOTTOM = 280, 76, 14, 16


def line_chart(
    series: list[tuple[date, float]], reference: list[tuple[date, float]], *, label: str, empty: str
) -> SafeString:
    """``series`` as a line with a dot per point over a ``reference`` line, on a 0..100 axis cut to the
    values; both lines share the time axis (a reference that starts earlier starts at the axis, not
    left of it), and the days of the points are labelled under it — every one, or every n-th so that
    at most ``LINE_TICKS`` labels show, the last always. ``empty`` (a sentence) when there is no series."""
    if not series:
        return format_html("<p>{}</p>", empty)
    days = sorted({d for d, _ in series} | {d for d, _ in reference})
    first, last = days[0], days[-1]
    span = max((last - first).days, 1)
    low = max(0.0, min(v for _, v in series + reference) - 5)
    high = min(100.0, max(v for _, v in series + reference) + 5)

    def x(day: date) -> float:
        if first == last:  # a lone point sits in the middle
            return LINE_WIDTH / 2
        return LINE_PAD + (LINE_WIDTH - 2 * LINE_PAD) * (day - first).days / span

    def y(value: float) -> float:
        return LINE_HEIGHT - LINE_PAD - (LINE_HEIGHT - 2 * LINE_PAD) * (value - low) / max(high - low, 1)

    def points(data: list[tuple[date, float]]) -> str:
        return " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in data)

    grid = format_html_join(
        "",
        '<line x1="{0}" x2="{1}" y1="{2}" y2="{2}" class="grid"/><text x="4" y="{3}">{4}</text>',
        ((LINE_PAD, LINE_WIDTH - LINE_PAD, f"{y(v):.1f}", f"{y(v) + 4:.1f}", f"{v:.0f}")
         for v in (low, (low + high) / 2, high)),
    )  # fmt: skip
    return format_html(
        '<svg class="trend" viewBox="0 0 {w} {h}" role="img" aria-label="{label}">{grid}'
        '<polyline class="median" points="{median}"/><polyline class="score" points="{score}"/>{dots}{ticks}'
        "</svg>",
        w=LINE_WIDTH,
        h=LINE_HEIGHT,
        label=label,
        grid=grid,
        median=points(reference),
        score=points(series),
        # A dot per point: a single day (or week) draws no line, and gaps between points show.
        dots=format_html_join(
            "", '<circle class="dot" cx="{}" cy="{}" r="3"/>', ((f"{x(d):.1f}", f"{y(v):.1f}") for d, v in series)
        ),
        ticks=_day_ticks(days, x),
    )


LINE_TICKS = 13  # labels under a line chart at most: a quarter of weeks, every one


def _day_ticks(days: list[date], x: Callable[[date], float]) -> SafeString:
    """A tick and a month-day label under the axis for every n-th day (the last always), the ends kept inside;
    every other label is also of class ``alt``."""
    step = -(-len(days) // LINE_TICKS)
    shown = days[::step]
    if shown[-1] != days[-1]:
        shown = [*shown[:-1], days[-1]] if len(shown) >= LINE_TICKS else [*shown, days[-1]]
    top, bottom = LINE_HEIGHT - LINE_PAD, LINE_HEIGHT - 8

    def anchor(day: date) -> str:
        if len(days) == 1:
            return "middle"
        return "start" if day == days[0] else "end" if day == days[-1] else "middle"

    return format_html_join(
        "",
        '<line class="tick" x1="{0}" x2="{0}" y1="{1}" y2="{2}"/>'
        '<text class="{7}" x="{0}" y="{3}" text-anchor="{4}"><title>{5}</title>{6}</text>',
        # Every other label is "alt": a narrow screen may hide those and draw the rest larger.
        (
            (
                f"{x(d):.1f}",
                top,
                top + 4,
                bottom,
                anchor(d),
                d.isoformat(),
                d.strftime("%m-%d"),
                "day alt" if i % 2 and d != days[-1] else "day",
            )
            for i, d in enumerate(shown)
        ),
    )


@dataclass(frozen=True)
class Bar:
    """One day's bar: its value, the tooltip that says it in words, and whether it is the day shown."""

    day: date
    value: int
    title: str
    shown: bool = False


def bar_chart(bars: Sequence[Bar], *, label: str, peak_label: str) -> SafeString:
    """A bar per day scaled to the busiest (an empty day is a flat stub), the shown day highlighted, the
    first and last days under it and ``peak_label`` in the corner. Nothing for no bars."""
    if not bars:
        return SafeString("")
    peak = max(bar.value for bar in bars)
    slot = BAR_WIDTH / len(bars)
    width = slot * 0.62
    usable = BAR_HEIGHT - BAR_TOP - BAR_BOTTOM

    def height(value: int) -> float:
        return (0.0 if not peak else max(usable * value / peak, 2.0 if value else 0.0)) or 1.0

    rects = format_html_join(
        "",
        '<rect class="{}" x="{}" y="{}" width="{}" height="{}" rx="1.5"><title>{}</title></rect>',
        (
            (
                "bar shown" if bar.shown else "bar" if bar.value else "bar none",
                f"{i * slot + (slot - width) / 2:.1f}",
                f"{BAR_HEIGHT - BAR_BOTTOM - height(bar.value):.1f}",
                f"{width:.1f}",
                f"{height(bar.value):.1f}",
                bar.title,
            )
            for i, bar in enumerate(bars)
        ),
    )
    return format_html(
        '<svg class="trend" viewBox="0 0 {w} {h}" role="img" aria-label="{label}">'
        '<line class="base" x1="0" x2="{w}" y1="{base}" y2="{base}"/>{bars}'
        '<text x="0" y="{h}" class="axis">{first}</text>'
        '<text x="{w}" y="{h}" class="axis" text-anchor="end">{last}</text>'
        '<text x="{w}" y="10" class="peak" text-anchor="end">{peak_label}</text></svg>',
        w=BAR_WIDTH,
        h=BAR_HEIGHT - 2,
        base=BAR_HEIGHT - BAR_BOTTOM + 0.5,
        bars=rects,
        label=label,
        first=bars[0].day.strftime("%m-%d"),
        last=bars[-1].day.strftime("%m-%d"),
        peak_label=peak_label,
    )
