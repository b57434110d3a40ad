"""Template filters of the digest page."""

from __future__ import annotations

from django import template

from core.text import mask_pii

register = template.Library()


@register.filter
def masked(value: object) -> str:
    """PII masked again on the way out: a quote edited after it was nominated never shows a number whole."""
    return mask_pii(str(value or ""))


@register.filter
def duration(seconds: float | None) -> str:
    """83.7 -> "1:23": whole seconds, as the browsers' players count them."""
    if not seconds:
        return ""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"
