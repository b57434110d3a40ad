"""Consumers' chat tokens (signed, expiring) and the platform's API key, compared in constant time."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.core import signing

# Kept from when live chat lived in tickets/chat/: a new salt would void every token already issued.
SALT = "tickets.chat.consumer"


def issue_token(consumer_id: int) -> str:
    """A token that identifies one consumer to the chat socket until CHAT_TOKEN_MAX_AGE seconds have passed."""
    return signing.TimestampSigner(salt=SALT).sign_object({"c": consumer_id}, compress=False)


def read_token(token: str) -> int | None:
    """The consumer id in a valid, unexpired token; None for a missing, forged or expired one."""
    if not token or len(token) > 512:
        return None
    try:
        payload = signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=settings.CHAT_TOKEN_MAX_AGE)
    except (signing.BadSignature, ValueError):  # SignatureExpired is a BadSignature
        return None
    consumer_id = payload.get("c") if isinstance(payload, dict) else None
    return consumer_id if isinstance(consumer_id, int) else None


def platform_key_matches(given: str) -> bool:
    """True when the platform API key is configured and ``given`` equals it (constant-time comparison)."""
    expected = settings.CHAT_PLATFORM_API_KEY
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
