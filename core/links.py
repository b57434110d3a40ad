"""Links from a lower app's pages to a higher app's, by URL name: the lower app never imports the higher one."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode


def nominate_url(source: str, pk: int, back: str) -> str | None:
    """The radio's nomination form for a ticket, chat, transcript or finding; None when the radio is not installed.

    ``back`` is where the form returns to (``next``). Whether the user may nominate is the caller's question.
    """
    try:
        base = reverse("radio:nominate")
    except NoReverseMatch:
        return None
    return f"{base}?{urlencode({'source': source, 'id': str(pk), 'next': back})}"
