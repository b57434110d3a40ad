"""Consumers' chat tokens (signed, expiring) and the platform's API key, compared in constant time."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

# Kept from when live chat lived in tickets/chat/: a new salt would void every token already issued.
SALT = "tickets.chat.consumer"


@dataclass(frozen=True)
class ChatToken:
    """What a valid token says: who is chatting, and with which shop (None: the platform)."""

    consumer_id: int
    shop_id: int | None = None


def issue_token(consumer_id: int, shop_id: int | None = None) -> str:
    """A token that identifies one consumer (chatting with one shop, or the platform) to the chat socket until
    CHAT_TOKEN_MAX_AGE seconds have passed. The shop is signed with the consumer: a consumer cannot change it."""
    payload: dict[str, int] = {"c": consumer_id} if shop_id is None else {"c": consumer_id, "s": shop_id}
    return signing.TimestampSigner(salt=SALT).sign_object(payload, compress=False)


def read_chat_token(token: str) -> ChatToken | None:
    """The consumer and shop of a valid, unexpired token; None for a missing, forged or expired one."""
    if not token or len(token) > 512:
        return None
    try:
        payload = signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=settings.CHAT_TOKEN_MAX_AGE)
    except (signing.BadSignature, ValueError):  # SignatureExpired is a BadSignature
        return None
    if not isinstance(payload, dict):
        return None
    consumer_id, shop_id = payload.get("c"), payload.get("s")
    if not isinstance(consumer_id, int) or not (shop_id is None or isinstance(shop_id, int)):
        return None
    return ChatToken(consumer_id, shop_id)


def read_token(token: str) -> int | None:
    """The consumer id in a valid, unexpired token; None for a missing, forged or expired one."""
    read = read_chat_token(token)
    return None if read is None else read.consumer_id


def platform_key_matches(given: str) -> bool:
    """True when the platform API key is configured and ``given`` equals it (constant-time comparison)."""
    expected = settings.CHAT_PLATFORM_API_KEY
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
