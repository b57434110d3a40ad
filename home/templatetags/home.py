from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

register = template.Library()


def duration_formats() -> dict[str, str]:
    """How a span of time is written, largest unit first (the wallboard's script fills the same ones in)."""
    return {"dh": _("%(d)sd %(h)sh"), "hm": _("%(h)sh %(m)sm"), "ms": _("%(m)sm %(s)ss"), "s": _("%(s)ss")}


@register.filter
def wait(seconds: int | None) -> str:
    """Seconds in words, as the queue writes SLA time left ("10h 32m", "50m 20s"), not "10:32:17", which reads as
    a time of day beside the board's "updated at"; "—" when there is nothing to show."""
    if seconds is None:
        return "—"
    formats, whole = duration_formats(), int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return formats["dh"] % {"d": days, "h": hours}
    if hours:
        return formats["hm"] % {"h": hours, "m": minutes}
    if minutes:
        return formats["ms"] % {"m": minutes, "s": secs}
    return formats["s"] % {"s": secs}
