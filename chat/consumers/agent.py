"""An agent's chat console at /ws/chat/agent/ (the admin session): the live queue, their chats, and the
actions on them, each calling one service of ``chat.desk`` (or ``chat.learning``).

The protocol is docs/chat-protocol.md; what both sockets share is ``chat.consumers.base``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import translation
from django.utils.translation import gettext as _

from chat import desk, learning, selectors, typing_relay
from chat.consumers.base import (
    ChatSocket,
    FrameError,
    RateLimit,
    database_sync_to_async,
    int_field,
    pick_language,
    query_params,
    text_field,
)
from chat.groups import AGENTS, agent_group, staff_group
from core.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from core.privacy import masked_frame, sees_pii
from core.tenancy import is_merchant_staff, merchant_id_of
from core.users import Actor
from tickets import services as ticket_services
from tickets.models import AgentProfile, Department

log = logging.getLogger(__name__)
QUEUE_DEBOUNCE = 0.1  # seconds a console waits for more queue changes before it reads the queue once
# (language, shop of the desk or None) -> (when the read started, on which event loop, the queue items)
_QUEUE_SNAPSHOTS: dict[tuple[str, int | None], tuple[float, Any, list[dict[str, Any]]]] = {}


class AgentChatConsumer(ChatSocket):
    """An agent's console: the live queue, their chats, and the actions on them."""

    handlers = {
        "accept": "on_accept", "reply": "on_reply", "note": "on_note", "transfer": "on_transfer",
        "resolve": "on_resolve", "refund": "on_refund", "availability": "on_availability", "open": "on_open",
        "learn": "on_learn", "typing": "on_typing", "ping": "on_ping",
    }  # fmt: skip
    user: Actor
    following: set[int]
    typing_gate: typing_relay.TypingGate
    refresher: asyncio.Future[None] | None = None
    stale = False
    new_in_queue: int | None = None
    changed_at = float("inf")  # a fresh console reads the queue itself

    shows_pii = False  # whether this agent may see consumers' personal numbers
    shop_id: int | None = None  # the shop whose desk this console works (merchant staff), None: the platform's

    async def connect(self) -> None:
        user = self.scope.get("user")
        refused = await self._refusal(user)
        if refused is not None:
            await self.close(code=refused)
            return
        await self._settle(user)
        await self.channel_layer.group_add(AGENTS, self.channel_name)
        await self.channel_layer.group_add(agent_group(user.pk), self.channel_name)
        await self.accept()
        await self._greet()

    @staticmethod
    async def _refusal(user: Any) -> int | None:
        """The close code for a socket that is not a console user's; None for one that is."""
        if user is None or not user.is_authenticated or not user.is_staff or not user.is_active:
            return CLOSE_UNAUTHENTICATED
        if not await database_sync_to_async(selectors.may_use_console)(user):
            return CLOSE_FORBIDDEN
        return None

    async def _settle(self, user: Actor) -> None:
        self.user = user
        self.shop_id = await database_sync_to_async(merchant_id_of)(user) if is_merchant_staff(user) else None
        self.shows_pii = await database_sync_to_async(sees_pii)(user)
        self.language = pick_language(query_params(self.scope).get("lang"))
        # An agent's console sends actions, not chatter: a generous limit still stops a runaway script.
        self.limiter = RateLimit(settings.CHAT_RATE_FRAMES * 3, settings.CHAT_RATE_SECONDS)
        self.following = set()
        self.typing_gate = typing_relay.TypingGate()

    async def _greet(self) -> None:
        """The hello frame, the queue, then a snapshot of each chat the agent holds (they follow it from now on)."""
        hello, chats = await database_sync_to_async(self._hello)()
        await self.send_json(hello)
        await self.send_queue(None)
        for chat_id in chats:
            await self.follow(chat_id)

    async def send_json(self, content: dict[str, Any]) -> None:
        # The boundary: whatever a service published, consumers' numbers leave masked for agents without the right.
        await super().send_json(content if self.shows_pii else masked_frame(content))

    def _hello(self) -> tuple[dict[str, Any], list[int]]:
        with translation.override(self.language):
            hello = {"type": "hello", **selectors.profile(self.user), **selectors.transfer_targets(self.user),
                     **selectors.learnable_articles(self.user)}  # fmt: skip
            return hello, selectors.my_chats(self.user)

    async def disconnect(self, code: int) -> None:
        if self.refresher is not None:
            self.refresher.cancel()
        if not hasattr(self, "user"):
            return
        for group in [AGENTS, agent_group(self.user.pk), *(staff_group(c) for c in self.following)]:
            await self.channel_layer.group_discard(group, self.channel_name)

    # --- pushed by services -------------------------------------------------------------------------

    async def chat_queue_changed(self, message: dict[str, Any]) -> None:
        # Refreshed in a task of its own, so that chat messages keep flowing meanwhile, and debounced: a burst
        # of changes (handoffs, accepts) costs one read of the queue, not one each.
        new = message["frame"].get("new")
        self.changed_at = max(self.changed_at if self.changed_at != float("inf") else 0.0, message["frame"]["at"])
        if new is not None:
            self.new_in_queue = new
        self.stale = True
        if self.refresher is None or self.refresher.done():
            self.refresher = asyncio.ensure_future(self._refresh_queue())

    async def _refresh_queue(self) -> None:
        while self.stale:
            self.stale = False
            await asyncio.sleep(QUEUE_DEBOUNCE)
            new, self.new_in_queue = self.new_in_queue, None
            try:
                await self.send_queue(new)
            except Exception:  # the next change refreshes again; never let a task die silently
                log.exception("queue refresh failed")

    async def send_queue(self, new: int | None) -> None:
        items = await self._queue_items()
        # Every console hears of every change; it names the new chat only when it is in this desk's queue (another
        # shop's chat is no business of this console, not even its id).
        new = new if any(item["chat"] == new for item in items) else None
        await self.send_json({"type": "queue", "items": items, "new": new})

    async def _queue_items(self) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            with translation.override(self.language):
                return selectors.queue(self.user)

        # Every console of one desk (the platform's, or one shop's) sees the same queue, so the consoles of a
        # process share a snapshot read after the change they were told of: one read per burst, not one per agent.
        loop = asyncio.get_running_loop()
        wanted_after = self.changed_at  # when the change was announced (the server's clock, for every console)
        desk = (self.language, self.shop_id)
        shared = _QUEUE_SNAPSHOTS.get(desk)
        if shared is not None and shared[0] >= wanted_after and shared[1] is loop:
            items = shared[2]
        else:
            started = time.time()
            items = await database_sync_to_async(read)()
            _QUEUE_SNAPSHOTS[desk] = (started, loop, items)
        return items

    async def chat_follow(self, message: dict[str, Any]) -> None:
        await self.follow(message["frame"]["chat"])

    async def chat_unfollow(self, message: dict[str, Any]) -> None:
        chat_id = message["frame"]["chat"]
        self.following.discard(chat_id)
        await self.channel_layer.group_discard(staff_group(chat_id), self.channel_name)
        await self.send_json({"type": "chat.closed", "chat": chat_id, "reason": message["frame"].get("reason", "")})

    async def follow(self, chat_id: int) -> None:
        def read() -> dict[str, Any] | None:
            with translation.override(self.language):
                return selectors.chat(chat_id, self.user)

        self.following.add(chat_id)
        await self.channel_layer.group_add(staff_group(chat_id), self.channel_name)
        snapshot = await database_sync_to_async(read)()
        if snapshot is not None:
            await self.send_json({"type": "chat", **snapshot})

    # --- actions ----------------------------------------------------------------------------------

    async def on_accept(self, content: dict[str, Any], ref: Any) -> None:
        chat_id = await self._visible(content)
        await self.call(desk.accept_chat, chat_id, self.user)
        await self.send_json({"type": "ack", "ref": ref, "chat": chat_id})

    async def on_reply(self, content: dict[str, Any], ref: Any, internal: bool = False) -> None:
        chat_id = await self._visible(content)
        event = await self.call(desk.agent_message, chat_id, self.user, text_field(content), internal=internal)
        await self.send_json({"type": "ack", "ref": ref, "chat": chat_id, "id": event.pk})

    async def on_note(self, content: dict[str, Any], ref: Any) -> None:
        await self.on_reply(content, ref, internal=True)

    async def on_transfer(self, content: dict[str, Any], ref: Any) -> None:
        chat_id = await self._visible(content)
        if "agent" in content:
            target = await database_sync_to_async(self._user)(int_field(content, "agent", minimum=1))
            await self.call(desk.transfer_chat, chat_id, self.user, to_agent=target)
        else:
            department = await database_sync_to_async(self._department)(int_field(content, "department", minimum=1))
            await self.call(desk.transfer_chat, chat_id, self.user, to_department=department)
        await self.send_json({"type": "ack", "ref": ref, "chat": chat_id})

    async def on_resolve(self, content: dict[str, Any], ref: Any) -> None:
        chat_id = await self._visible(content)
        await self.call(desk.resolve_chat, chat_id, self.user)
        await self.send_json({"type": "ack", "ref": ref, "chat": chat_id})

    async def on_refund(self, content: dict[str, Any], ref: Any) -> None:
        chat_id = await self._visible(content)
        order, amount, key = (text_field(content, field) for field in ("order", "amount", "key"))
        request = await self.call(desk.refund_in_chat, chat_id, self.user, order, amount, key=key)
        await self.send_json({"type": "ack", "ref": ref, "chat": chat_id, "refund": request.pk,
                              "decision": request.decision})  # fmt: skip

    async def on_learn(self, content: dict[str, Any], ref: Any) -> None:
        """Teach the bot: the consumer's message becomes another wording of the article (a chat one holds or held)."""
        chat_id = await self._visible(content)
        message_id, article_id = int_field(content, "message", minimum=1), int_field(content, "article", minimum=1)
        added = await self.call(learning.learn_from_chat, chat_id, message_id, article_id, self.user)
        await self.send_json({"type": "ack", "ref": ref, "chat": chat_id, "article": article_id, "added": added})

    async def on_availability(self, content: dict[str, Any], ref: Any) -> None:
        available = content.get("available")
        if not isinstance(available, bool):
            raise FrameError(
                "missing_field", _("The field “%(field)s” must be true or false.") % {"field": "available"}
            )
        await database_sync_to_async(self._set_available)(available)
        await self.send_json({"type": "ack", "ref": ref, "available": available})

    async def on_open(self, content: dict[str, Any], ref: Any) -> None:
        """Follow a chat read-only (a supervisor watching) or reload one's own."""
        chat_id = await self._visible(content)
        await self.follow(chat_id)

    async def on_typing(self, content: dict[str, Any], ref: Any) -> None:
        """Relayed to the consumer of a chat the agent holds; never stored, at most one per chat per window."""
        chat_id = int_field(content, "chat", minimum=1)
        if self.typing_gate.allow(chat_id):
            await self.relay(await database_sync_to_async(typing_relay.agent_typing)(chat_id, self.user))

    async def on_ping(self, content: dict[str, Any], ref: Any) -> None:
        await self.send_json({"type": "pong", "ref": ref})

    async def _visible(self, content: dict[str, Any]) -> int:
        chat_id = int_field(content, "chat", minimum=1)
        # Only merchant staff are narrowed by tenancy (their shop's chats); for the platform's agents every chat is
        # visible (what they may act on is their desk's, checked by each service).
        if self.shop_id is None:
            return chat_id
        if await database_sync_to_async(selectors.visible_chat)(chat_id, self.user) is None:
            raise FrameError("not_found", _("There is no such chat."))
        return chat_id

    def _user(self, user_id: int) -> Any:
        user = get_user_model().objects.filter(pk=user_id, is_active=True, is_staff=True).first()
        if user is None:
            raise FrameError("bad_target", _("There is no such agent."))
        return user

    @staticmethod
    def _department(department_id: int) -> Department:
        department = Department.objects.filter(pk=department_id).first()
        if department is None:
            raise FrameError("bad_target", _("There is no such department."))
        return department

    def _set_available(self, available: bool) -> AgentProfile:
        return ticket_services.set_availability(self.user, available)
