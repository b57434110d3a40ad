"""The channel's 14-day trend as a small inline SVG bar chart: no JavaScript, crisp on a phone."""

from __future__ import annotations

from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

WIDTH, HEIGHT, TOP, BOTTOM = 280, 76, 14, 16


def trend_svg(trend: list[tuple[date, int, int]], *, today: date) -> SafeString:
    """Customers who spoke per day (bars), the shown day highlighted, the busiest day labelled."""
    if not trend:
        return SafeString("")
    peak = max(customers for _day, _items, customers in trend)
    slot = WIDTH / len(trend)
    bar = slot * 0.62
    usable = HEIGHT - TOP - BOTTOM

    def bar_height(customers: int) -> float:
        return 0.0 if not peak else max(usable * customers / peak, 2.0 if customers else 0.0)

    bars = format_html_join(
        "",
        '<rect class="{}" x="{}" y="{}" width="{}" height="{}" rx="1.5"><title>{}</title></rect>',
        (
            (
                "bar shown" if d == today else "bar" if customers else "bar none",
                f"{i * slot + (slot - bar) / 2:.1f}",
                f"{HEIGHT - BOTTOM - (bar_height(customers) or 1.0):.1f}",
                f"{bar:.1f}",
                f"{bar_height(customers) or 1.0:.1f}",
                _("%(day)s: %(items)s items, %(customers)s customers")
                % {"day": d.strftime("%m-%d"), "items": items, "customers": customers},
            )
            for i, (d, items, customers) in enumerate(trend)
        ),
    )
    total = sum(customers for _day, _items, customers in trend)
    return format_html(
        '<svg class="trend" viewBox="0 0 {w} {h}" role="img" aria-label="{label}">'
        '<line class="base" x1="0" x2="{w}" y1="{base}" y2="{base}"/>{bars}'
        '<text x="0" y="{h}" class="axis">{first}</text>'
        '<text x="{w}" y="{h}" class="axis" text-anchor="end">{last}</text>'
        '<text x="{w}" y="10" class="peak" text-anchor="end">{peak_label}</text></svg>',
        w=WIDTH,
        h=HEIGHT - 2,
        base=HEIGHT - BOTTOM + 0.5,
        bars=bars,
        label=_("Customers per day over the last %(days)s days: %(total)s in all")
        % {"days": len(trend), "total": total},
        first=trend[0][0].strftime("%m-%d"),
        last=trend[-1][0].strftime("%m-%d"),
        peak_label=_("peak %(n)s") % {"n": peak} if peak else _("no voices yet"),
    )
