"""The server-side SVG charts (core.charts) the merchant, QA and radio pages draw."""

from __future__ import annotations

import re
from datetime import date, timedelta

from core import charts


def test_line_chart_draws_the_series_over_the_reference_with_a_dot_per_point() -> None:
    svg = charts.line_chart(
        [(date(2026, 11, 1), 80.0), (date(2026, 11, 3), 90.0)], [(date(2026, 11, 1), 70.0)], label="分数", empty="-"
    )
    assert svg.startswith('<svg class="trend" viewBox="0 0 640 200" role="img" aria-label="分数">')
    assert 'class="score" points="28.0,100.0 612.0,52.0"' in svg  # axis 65..95 over 144 px
    assert 'class="median" points="28.0,148.0"' in svg
    assert len(re.findall('<circle class="dot"', svg)) == 2
    day_label = r'<text class="day" x="([\d.]+)" y="192" text-anchor="(\w+)"><title>([\d-]+)</title>([\d-]+)<'
    assert re.findall(day_label, svg) == [
        ("28.0", "start", "2026-11-01", "11-01"), ("612.0", "end", "2026-11-03", "11-03"),
    ]  # fmt: skip


def points(svg: str, line: str) -> str:
    """The points of the chart's polyline of that class."""
    found = re.search(rf'class="{line}" points="([^"]+)"', svg)
    assert found is not None, line
    return found[1]


def test_a_reference_that_starts_earlier_starts_at_the_axis_and_every_week_is_labelled() -> None:
    weeks = [date(2026, 9, 7) + timedelta(weeks=i) for i in range(12)]
    median = [(week, 80.0) for week in weeks]
    svg = charts.line_chart([(week, 90.0) for week in weeks[5:]], median, label="x", empty="-")
    xs = [float(x) for x in points(svg, "median").replace(",", " ").split()[::2]]
    assert (xs[0], xs[-1]) == (28.0, 612.0)  # inside the axis, from the first week to the last
    score = points(svg, "score")
    assert score.startswith(f"{28 + 584 * 35 / 77:.1f},")  # the agent's first week, 35 of the 77 days in
    labels = re.findall(r"</title>([\d-]+)</text>", svg)
    assert labels == [week.strftime("%m-%d") for week in weeks]


def test_a_long_daily_series_is_labelled_every_few_days_and_on_the_last() -> None:
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(30)]
    svg = charts.line_chart([(day, 50.0 + i) for i, day in enumerate(days)], [], label="x", empty="-")
    labels = re.findall(r"</title>([\d-]+)</text>", svg)
    assert labels == [*(days[i].strftime("%m-%d") for i in range(0, 30, 3)), "11-30"]


def test_line_chart_puts_a_lone_point_in_the_middle_and_says_when_there_is_none() -> None:
    assert 'cx="320.0"' in charts.line_chart([(date(2026, 11, 1), 50.0)], [], label="x", empty="-")
    empty = charts.line_chart([], [(date(2026, 11, 1), 50.0)], label="x", empty="还没有<分数>")
    assert empty == "<p>还没有&lt;分数&gt;</p>"


def test_bar_chart_scales_to_the_busiest_day_and_marks_the_shown_one() -> None:
    bars = [charts.Bar(date(2026, 12, 1), 4, "a"), charts.Bar(date(2026, 12, 2), 0, "b"),
            charts.Bar(date(2026, 12, 3), 2, "<c>", shown=True)]  # fmt: skip
    svg = charts.bar_chart(bars, label="每天", peak_label="peak 4")
    rects = re.findall(r'<rect class="([a-z ]+)" x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', svg)
    assert rects == [("bar", "14.0", "46.0"), ("bar none", "59.0", "1.0"), ("bar shown", "37.0", "23.0")]
    assert "<title>&lt;c&gt;</title>" in svg and ">12-01</text>" in svg and ">12-03</text>" in svg
    assert ">peak 4</text></svg>" in svg
    assert charts.bar_chart([], label="x", peak_label="y") == ""
