from __future__ import annotations

from django import template

from core.durations import in_words

register = template.Library()


@register.filter
def wait(seconds: int | None) -> str:
    """Seconds in words, as the queue writes SLA time left ("10h 32m", "50m 20s"), not "10:32:17", which reads as
    a time of day beside the board's "updated at"; "—" when there is nothing to show."""
    if seconds is None:
        return "—"
    return in_words(seconds)
