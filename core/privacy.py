"""Who sees consumers' personal numbers, and the one place every channel masks them for everyone else.

A consumer may write a phone, ID or card number anywhere: a chat message, a ticket's subject, a review.
Roles with ``crm.view_consumer_pii`` (supervisors) see it whole; everyone else (agents, merchant staff,
business teams) sees it masked by ``core.text.mask_pii`` — in the admin (the ``pii_for`` filter, and
``ConsumerTextAdmin``'s list columns), the API (``ConsumerTextField``) and the sockets (``masked_frame``),
always at the last step before the text leaves for that person, so no path that forgets can leak it.
Copies that leave for many people at once (a radio quote, read aloud every morning) are masked before
they are stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from rest_framework import serializers

from core.text import mask_pii, pii_spans
from core.users import RequestUser

PII_PERMISSION = "crm.view_consumer_pii"
# Keys of socket frames whose values are people's words (strings, or lists of them).
TEXT_KEYS = frozenset({"text", "summary", "body", "quote", "subject", "note", "question"})


def sees_pii(user: RequestUser | None) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.has_perm(PII_PERMISSION))


def shown(text: str, user: RequestUser | None) -> str:
    """The text as ``user`` may see it."""
    return text if sees_pii(user) else mask_pii(text)


def probes_pii(term: str, user: RequestUser | None) -> bool:
    """A search for a personal number by someone who may not see it: what it finds would tell them it is there."""
    return bool(term) and not sees_pii(user) and bool(pii_spans(term))


def masked_frame(value: Any, key: str | None = None) -> Any:
    """A socket frame with every text value (under TEXT_KEYS, at any depth) masked."""
    if isinstance(value, dict):
        return {k: masked_frame(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [masked_frame(v, key) for v in value]
    if isinstance(value, str) and key in TEXT_KEYS:
        return mask_pii(value)
    return value


class ConsumerTextField(serializers.CharField):
    """Free text that may hold a consumer's personal numbers: masked unless the requester may see them."""

    def to_representation(self, value: Any) -> str:
        request = self.context.get("request")
        return shown(str(value), getattr(request, "user", None))


def masked_data(value: Any, user: RequestUser | None) -> Any:
    """Stored JSON whose strings may quote the consumer (an event's data): every string masked unless ``user``
    may see personal numbers."""
    return value if sees_pii(user) else _masked_strings(value)


def _masked_strings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _masked_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked_strings(v) for v in value]
    return mask_pii(value) if isinstance(value, str) else value


def consumer_text_column(
    name: str, description: Any, user: RequestUser | None, *, ordering: str | None = None
) -> Callable[[Any], str]:
    """A changelist column of the free text ``obj.<name>``, shown as ``user`` may see it."""
    sees = sees_pii(user)

    @admin.display(description=description, ordering=ordering)
    def column(obj: Any) -> str:
        text = str(getattr(obj, name) or "")
        return text if sees else mask_pii(text)

    column.__name__ = name  # the column keeps its field's name: CSS class, list_display_links
    return column


class ConsumerTextAdmin(admin.ModelAdmin):
    """A ModelAdmin whose list columns named in ``consumer_text_columns`` (model fields) are masked per viewer.

    The column is bound to the request (``get_list_display``), never state on the shared admin instance.
    """

    consumer_text_columns: Sequence[str] = ()

    def get_list_display(self, request: HttpRequest) -> Any:
        shown_columns = {
            name: consumer_text_column(name, self.model._meta.get_field(name).verbose_name, request.user, ordering=name)
            for name in self.consumer_text_columns
        }
        return [shown_columns.get(c, c) if isinstance(c, str) else c for c in super().get_list_display(request)]

    def get_list_display_links(self, request: HttpRequest, list_display: Any) -> Any:
        links = super().get_list_display_links(request, list_display)
        if not links:
            return links
        names = set(links)
        return [c for c in list_display if c in names or getattr(c, "__name__", None) in names]
