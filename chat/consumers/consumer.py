"""A consumer's chat socket at /ws/chat/ (a signed token): their one conversation, and nothing else.

The protocol is docs/chat-protocol.md; what both sockets share is ``chat.consumers.base``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils import timezone, translation

from chat import knowledge, satisfaction, selectors, services, typing_relay
from chat.consumers.base import (
    ChatSocket,
    RateLimit,
    after_param,
    database_sync_to_async,
    int_field,
    pick_language,
    query_params,
    text_field,
)
from chat.conversation import ChatError, agents_on_duty, visible_messages
from chat.groups import consumer_group
from chat.models import ChatSession
from chat.tokens import ChatToken, read_chat_token
from core.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from core.prepared import Prepared
from core.realtime import LAYER_DOWN

log = logging.getLogger(__name__)
CLOSE_NO_SHOP = 4404  # the token names a shop that does not (or no longer) take chats
CLOSE_OTHER_CHAT = 4409  # the consumer's live chat is with another shop (or the platform)
knowledge.warm_up()  # the ASGI process imports this module at start (config/routing.py)


_READY = Prepared(
    lambda chat_id: ChatSession.objects.select_related("agent").filter(pk=chat_id), chat_id=-1_000_000_007
)


class ConsumerChatConsumer(ChatSocket):
    """A consumer's socket: their one conversation, and nothing else."""

    handlers = {"message": "on_message", "history": "on_history", "handoff": "on_handoff", "end": "on_end",
                "confirm": "on_confirm", "cancel": "on_cancel", "rate": "on_rate", "escalate": "on_escalate",
                "typing": "on_typing", "ping": "on_ping"}  # fmt: skip
    consumer_id: int
    shop_id: int | None = None
    typing_gate: typing_relay.TypingGate

    async def connect(self) -> None:
        query = query_params(self.scope)
        token = read_chat_token(query.get("token", ""))
        if token is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self._settle(token, query)
        chat = await self._start()
        if chat is not None:
            await self._join(chat, after_param(query))

    def _settle(self, token: ChatToken, query: dict[str, str]) -> None:
        self.consumer_id, self.shop_id = token.consumer_id, token.shop_id
        self.language = pick_language(query.get("lang"))
        self.limiter = RateLimit(settings.CHAT_RATE_FRAMES, settings.CHAT_RATE_SECONDS)
        self.typing_gate = typing_relay.TypingGate()

    async def _start(self) -> ChatSession | None:
        """The consumer's live chat, started or resumed; None when it was refused (said, closed) or failed (closed)."""
        try:
            chat, _created = await self.call(services.start_chat, self.consumer_id, self.language, shop_id=self.shop_id)
        except ChatError as refused:  # a shop that takes no chats, or another chat still open: said, closed
            await self.accept()
            await self.error(refused.error_code, " ".join(refused.messages))
            await self.close(code=CLOSE_NO_SHOP if refused.error_code == "no_shop" else CLOSE_OTHER_CHAT)
            return None
        except LAYER_DOWN:
            raise  # Redis is down: core.sockets closes the socket with 4503, "try again later"
        except Exception:
            log.exception("could not start a chat for consumer %s", self.consumer_id)
            await self.close(code=CLOSE_FORBIDDEN)
            return None
        return chat

    async def _join(self, chat: ChatSession, after: int) -> None:
        # Join before reading the history: a message sent in between arrives twice (ids tell), never not at all.
        await self.channel_layer.group_add(consumer_group(self.consumer_id), self.channel_name)
        await self.accept()
        ready, history = await database_sync_to_async(self._ready)(chat.pk, after)
        await self.send_json(ready)
        await self.send_json({"type": "history", "messages": history})

    def _ready(self, chat_id: int, after: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        with translation.override(self.language):
            found = _READY(chat_id=chat_id)
            if not found:
                raise ChatSession.DoesNotExist(chat_id)
            chat = found[0]
            ready = {
                "type": "ready", "chat": chat.pk, "ticket": chat.ticket_id, "state": chat.state,
                "agent": (chat.agent.first_name or chat.agent.get_username()) if chat.agent else "",
                "callback": chat.callback, "staffed": agents_on_duty(timezone.now()),
                "language": chat.language, "shop": selectors.shop_of(chat),
                "escalated": chat.escalated_at is not None,
            }  # fmt: skip
            return ready, visible_messages(self.consumer_id, after)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "consumer_id"):
            await self.channel_layer.group_discard(consumer_group(self.consumer_id), self.channel_name)

    async def on_message(self, content: dict[str, Any], ref: Any) -> None:
        text = text_field(content)
        event = await self.call(services.consumer_message, self.consumer_id, self.language, text, shop_id=self.shop_id)
        await self.send_json({"type": "ack", "ref": ref, "id": event.pk})

    async def on_history(self, content: dict[str, Any], ref: Any) -> None:
        after = int_field(content, "after")
        messages = await database_sync_to_async(visible_messages)(self.consumer_id, after)
        await self.send_json({"type": "history", "ref": ref, "messages": messages})

    async def on_handoff(self, content: dict[str, Any], ref: Any) -> None:
        await self.call(services.request_human, self.consumer_id)
        await self.send_json({"type": "ack", "ref": ref})

    async def on_escalate(self, content: dict[str, Any], ref: Any) -> None:
        """平台介入: the consumer of a shop's chat asks the platform to step in (a platform chat: nothing to do)."""
        await self.call(services.escalate_chat, self.consumer_id)
        await self.send_json({"type": "ack", "ref": ref})

    async def on_end(self, content: dict[str, Any], ref: Any) -> None:
        await self.call(services.end_chat_by_consumer, self.consumer_id)
        await self.send_json({"type": "ack", "ref": ref})

    async def on_confirm(self, content: dict[str, Any], ref: Any) -> None:
        """The consumer tapped 确认 on the bot's proposal named by ``proposal`` (never inferred from text)."""
        request = await self.call(services.confirm_proposal, self.consumer_id, text_field(content, "proposal"))
        await self.send_json({"type": "ack", "ref": ref, "refund": request.pk, "decision": request.decision})

    async def on_cancel(self, content: dict[str, Any], ref: Any) -> None:
        await self.call(services.cancel_proposal, self.consumer_id, text_field(content, "proposal"))
        await self.send_json({"type": "ack", "ref": ref})

    async def on_rate(self, content: dict[str, Any], ref: Any) -> None:
        """The consumer answers the satisfaction survey of their ended chat ``chat``."""
        chat_id = int_field(content, "chat", minimum=1)
        answer = await self.call(satisfaction.rate_chat, self.consumer_id, chat_id, content.get("score"),
                                 content.get("comment", ""))  # fmt: skip
        await self.send_json({"type": "ack", "ref": ref, "chat": chat_id, "score": answer.score})

    async def on_typing(self, content: dict[str, Any], ref: Any) -> None:
        """Relayed to the consoles following the conversation; never stored, at most one per CHAT_TYPING_SECONDS."""
        if self.typing_gate.allow():
            await self.relay(await database_sync_to_async(typing_relay.consumer_typing)(self.consumer_id))

    async def on_ping(self, content: dict[str, Any], ref: Any) -> None:
        await self.send_json({"type": "pong", "ref": ref})
