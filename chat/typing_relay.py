"""The typing indicator: a ``typing`` frame from one side of a conversation is relayed to the other, never stored.

A consumer's goes to the consoles following their conversation (the agent who holds it; nobody follows a
chat the bot handles alone, so then it goes nowhere); an agent's goes to the consumer of a chat they hold.
Each socket relays at most one per ``CHAT_TYPING_SECONDS`` (per chat for a console) and drops the rest
silently: a client sending one per keystroke costs one small read and one channel-layer message per window.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from chat.conversation import ChatError
from chat.groups import consumer_group, staff_group
from chat.models import ChatSession
from core.users import Actor

State = ChatSession.State
Relay = tuple[str, dict[str, Any]]  # the group, and the frame to send it


class TypingGate:
    """At most one typing frame per ``CHAT_TYPING_SECONDS`` for each key (a console's chats, or the one chat)."""

    def __init__(self) -> None:
        self.last: dict[int | None, float] = {}

    def allow(self, key: int | None = None) -> bool:
        now = time.monotonic()
        if now - self.last.get(key, float("-inf")) < settings.CHAT_TYPING_SECONDS:
            return False
        self.last[key] = now
        return True


def consumer_typing(consumer_id: int) -> Relay | None:
    """Where the consumer's typing goes: the staff following their live chat, once a person has it (waiting or
    with an agent); None while the bot has it alone or there is none."""
    chat_id = (
        ChatSession.objects.filter(consumer_id=consumer_id, state__in=(State.WAITING, State.ACTIVE))
        .values_list("pk", flat=True)
        .first()
    )
    if chat_id is None:
        return None
    return staff_group(chat_id), {"type": "typing", "chat": chat_id, "from": "consumer"}


def agent_typing(chat_id: int, agent: Actor) -> Relay:
    """Where the agent's typing goes: the consumer of a chat the agent holds; ``not_yours`` for any other chat."""
    consumer_id = (
        ChatSession.objects.filter(pk=chat_id, state=State.ACTIVE, agent=agent)
        .values_list("consumer_id", flat=True)
        .first()
    )
    if consumer_id is None:
        raise ChatError("not_yours", _("This chat is not yours to act on."))
    name = agent.first_name or agent.get_username()
    return consumer_group(consumer_id), {"type": "typing", "chat": chat_id, "from": "agent", "name": name}
