"""Who sees consumers' personal numbers, and the one place every channel masks them for everyone else.

A consumer may write a phone, ID or card number anywhere: a chat message, a ticket's subject, a review.
Roles with ``crm.view_consumer_pii`` (supervisors) see it whole; everyone else (agents, merchant staff,
business teams) sees it masked by ``core.text.mask_pii`` — in the admin (the ``pii_for`` filter), the
API (``ConsumerTextField``) and the sockets (``masked_frame``), always at the last step before the
text leaves for that person, so no path that forgets can leak it.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.text import mask_pii

PII_PERMISSION = "crm.view_consumer_pii"
# Keys of socket frames whose values are people's words (strings, or lists of them).
TEXT_KEYS = frozenset({"text", "summary", "body", "quote", "subject", "note"})


def sees_pii(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.has_perm(PII_PERMISSION))


def shown(text: str, user: Any) -> str:
    """The text as ``user`` may see it."""
    return text if sees_pii(user) else mask_pii(text)


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
