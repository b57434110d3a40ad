from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def wait(seconds: int | None) -> str:
    """Seconds as m:ss or h:mm:ss, the way the console shows wait times; "—" when there is nothing to show."""
    if seconds is None:
        return "—"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
