"""A span of time in words, its two largest units ("2d 3h", "10h 32m", "50m 20s"), in the reader's language.

The SLA's time left on the queue and the waits on the homes and the wallboard are written alike; the
wallboard's script fills the same formats (``formats()``, passed in its config) as it updates.
"""

from __future__ import annotations

from django.utils.translation import gettext as _


def formats() -> dict[str, str]:
    """The formats by the largest unit shown: days and hours, hours and minutes, minutes (and seconds), seconds."""
    return {
        "dh": _("%(d)sd %(h)sh"), "hm": _("%(h)sh %(m)sm"), "ms": _("%(m)sm %(s)ss"), "m": _("%(m)sm"),
        "s": _("%(s)ss"),
    }  # fmt: skip


def in_words(seconds: int, *, to_the_second: bool = True) -> str:
    """``seconds`` (≥ 0) in its two largest units; without ``to_the_second``, minutes are the smallest unit."""
    shown = formats()
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return shown["dh"] % {"d": days, "h": hours}
    if hours:
        return shown["hm"] % {"h": hours, "m": minutes}
    if not to_the_second:
        return shown["m"] % {"m": minutes}
    if minutes:
        return shown["ms"] % {"m": minutes, "s": secs}
    return shown["s"] % {"s": secs}
