"""The chat sockets: consumers at /ws/chat/ (signed token), agents at /ws/chat/agent/ (admin session).

The protocol is documented in docs/chat-protocol.md. Both sockets answer every malformed frame with an
``error`` frame and carry on; database work runs in Channels' database thread and what it publishes
is sent from here after it commits (``core.realtime.collecting``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import SyncToAsync
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chat import knowledge, learning, satisfaction, selectors, services, typing_relay
from chat.groups import AGENTS, agent_group, consumer_group, staff_group
from chat.models import ChatSession, Language
from chat.tokens import read_chat_token
from core.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from core.privacy import masked_frame, sees_pii
from core.realtime import collecting
from core.tenancy import is_merchant_staff, merchant_id_of
from core.users import Actor
from tickets import services as ticket_services
from tickets.models import AgentProfile, Department

log = logging.getLogger(__name__)
CLOSE_FLOOD = 4429
CLOSE_NO_SHOP = 4404  # the token names a shop that does not (or no longer) take chats
CLOSE_OTHER_CHAT = 4409  # the consumer's live chat is with another shop (or the platform)
QUEUE_DEBOUNCE = 0.1  # seconds a console waits for more queue changes before it reads the queue once
# (language, shop of the desk or None) -> (when the read started, on which event loop, the queue items)
_QUEUE_SNAPSHOTS: dict[tuple[str, int | None], tuple[float, Any, list[dict[str, Any]]]] = {}
LANGUAGES = set(Language.values)
knowledge.warm_up()  # the ASGI process imports this module at start (config/routing.py)


# Sockets run their database work on a pool of their own, not on Channels' single "thread-sensitive"
# thread: with hundreds of sockets, one thread would make every conversation wait for every other one's
# round trips. Each pool thread keeps its own connection; row locks keep each conversation in order.
_POOL = ThreadPoolExecutor(max_workers=settings.CHAT_DB_THREADS, thread_name_prefix="chat-db")


def _in_pool(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    # Channels' wrapper runs close_old_connections around every call, which with CONN_HEALTH_CHECKS costs a
    # "SELECT 1" per frame. Here a connection is dropped only when it has failed or outlived CONN_MAX_AGE.
    connection = connections["default"]
    if connection.connection is not None and (
        connection.errors_occurred or (connection.close_at is not None and time.monotonic() >= connection.close_at)
    ):
        connection.close_if_unusable_or_obsolete()
    try:
        return fn(*args, **kwargs)
    except DatabaseError:
        connection.close_if_unusable_or_obsolete()
        raise
    finally:
        if getattr(connection, "pool", None) is not None:
            connection.close()  # back to the process's pool (settings DB_POOL_*), not held while idle


def database_sync_to_async(fn: Callable[..., Any]) -> Callable[..., Any]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        return await SyncToAsync(_in_pool, thread_sensitive=False, executor=_POOL)(fn, *args, **kwargs)

    return call


class FrameError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class RateLimit:
    """At most ``frames`` per ``seconds`` (a sliding window); ``strikes`` counts refusals in a row."""

    def __init__(self, frames: int, seconds: float) -> None:
        self.frames, self.seconds = frames, seconds
        self.times: deque[float] = deque()
        self.strikes = 0

    def allow(self) -> bool:
        now = time.monotonic()
        while self.times and now - self.times[0] > self.seconds:
            self.times.popleft()
        if len(self.times) >= self.frames:
            self.strikes += 1
            return False
        self.times.append(now)
        self.strikes = 0
        return True


def _query(scope: dict[str, Any]) -> dict[str, str]:
    raw = scope.get("query_string", b"").decode("latin-1")
    return {key: values[-1] for key, values in parse_qs(raw).items()}


def _language(value: str | None) -> str:
    value = (value or "").lower()
    if value in LANGUAGES:
        return value
    return "en" if value.startswith("en") else settings.LANGUAGE_CODE


def _text(content: dict[str, Any], field: str = "text") -> str:
    value = content.get(field)
    if not isinstance(value, str):
        raise FrameError("missing_field", _("The field “%(field)s” must be a string.") % {"field": field})
    value = value.replace("\x00", "").strip()
    if not value:
        raise FrameError("empty_text", _("The message is empty."))
    if len(value) > settings.CHAT_MAX_MESSAGE_CHARS:
        raise FrameError("too_long", _("A message may have at most %(n)s characters.")
                         % {"n": settings.CHAT_MAX_MESSAGE_CHARS})  # fmt: skip
    return value


def _int(content: dict[str, Any], field: str, *, minimum: int = 0) -> int:
    value = content.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise FrameError("missing_field", _("The field “%(field)s” must be a whole number.") % {"field": field})
    return value


def _run(language: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, list[Any]]:
    with translation.override(language):
        return collecting(fn, *args, **kwargs)


class ChatSocket(AsyncWebsocketConsumer):
    """What both sockets share: frame checks, the rate limit, errors, and sending what a service published."""

    language: str = settings.LANGUAGE_CODE
    handlers: dict[str, str] = {}
    limiter: RateLimit
    inbox: asyncio.Queue[tuple[str | None, bool]] | None = None
    worker: asyncio.Future[None] | None = None

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, ensure_ascii=False, default=str))

    async def error(self, code: str, detail: str, ref: Any = None) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
        if ref is not None:
            frame["ref"] = ref
        await self.send_json(frame)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch runs close_old_connections (a hop to a thread) before every handler; these
        # handlers touch the database only through _in_pool, which looks after its own connections.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a service in the database pool, then send what it published: one channel-layer message per
        group (a consumer's message and the bot's answer travel together), in the order published."""
        result, messages = await database_sync_to_async(_run)(self.language, fn, *args, **kwargs)
        batches: dict[str, list[dict[str, Any]]] = {}
        others: list[tuple[str, dict[str, Any]]] = []
        for group, message in messages:
            if message["type"] == "chat.frame":
                batches.setdefault(group, []).append(message["frame"])
            else:
                others.append((group, message))
        for group, frames in batches.items():
            await self.channel_layer.group_send(group, {"type": "chat.frames", "frames": frames})
        for group, message in others:
            await self.channel_layer.group_send(group, message)
        return result

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        # Frames are worked off in order by a task of their own, so that while one waits on the database the
        # socket keeps delivering what the channel layer brings (an agent with many chats never stalls them).
        allowed = self.limiter.allow()
        if not allowed and self.limiter.strikes > 3 * self.limiter.frames:
            await self.close(code=CLOSE_FLOOD)
            return
        if self.inbox is None:
            self.inbox = asyncio.Queue()
            self.worker = asyncio.ensure_future(self._work())
        self.inbox.put_nowait((text_data, allowed))

    async def _work(self) -> None:
        assert self.inbox is not None
        while True:
            text_data, allowed = await self.inbox.get()
            await self.handle_frame(text_data, allowed)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        if self.worker is not None:
            self.worker.cancel()
        await super().websocket_disconnect(message)

    async def handle_frame(self, text_data: str | None, allowed: bool) -> None:
        ref = None
        with translation.override(self.language):
            try:
                if text_data is None:
                    raise FrameError("binary", _("Frames must be JSON text, not binary."))
                if len(text_data.encode()) > settings.CHAT_MAX_FRAME_BYTES:
                    raise FrameError("too_large", _("The frame is too large."))
                try:
                    content = json.loads(text_data)
                except ValueError:
                    raise FrameError("bad_json", _("Frames must be JSON text.")) from None
                if isinstance(content, dict):
                    ref = content.get("ref")
                    if ref is not None and (not isinstance(ref, str | int) or len(str(ref)) > 64):
                        ref = None
                if not allowed:
                    raise FrameError("rate_limited", _("Too many messages; slow down a little."))
                if not isinstance(content, dict) or not isinstance(content.get("type"), str):
                    raise FrameError("missing_field", _("A frame is a JSON object with a “type”."))
                handler = self.handlers.get(content["type"])
                if handler is None:
                    raise FrameError("unknown_type", _("Unknown frame type: %(type)s") % {"type": content["type"][:40]})
                await getattr(self, handler)(content, ref)
            except FrameError as problem:
                await self.error(problem.code, problem.detail, ref)
            except services.ChatError as problem:
                await self.error(problem.error_code, " ".join(problem.messages), ref)
            except ValidationError as problem:
                await self.error("invalid", " ".join(problem.messages), ref)
            except Exception:  # never let one frame kill the socket
                log.exception("chat frame failed")
                await self.error("server_error", _("Something went wrong; your conversation is safe, try again."), ref)

    async def relay(self, relay: typing_relay.Relay | None) -> None:
        """Send a frame that is not stored (typing) straight to the other side's group."""
        if relay is not None:
            group, frame = relay
            await self.channel_layer.group_send(group, {"type": "chat.frame", "frame": frame})

    async def chat_frame(self, message: dict[str, Any]) -> None:
        await self.send_json(message["frame"])

    async def chat_frames(self, message: dict[str, Any]) -> None:
        for frame in message["frames"]:
            await self.send_json(frame)


class ConsumerChatConsumer(ChatSocket):
    """A consumer's socket: their one conversation, and nothing else."""

    handlers = {"message": "on_message", "history": "on_history", "handoff": "on_handoff", "end": "on_end",
                "confirm": "on_confirm", "cancel": "on_cancel", "rate": "on_rate", "escalate": "on_escalate",
                "typing": "on_typing", "ping": "on_ping"}  # fmt: skip
    consumer_id: int
    shop_id: int | None = None
    typing_gate: typing_relay.TypingGate

    async def connect(self) -> None:
        query = _query(self.scope)
        token = read_chat_token(query.get("token", ""))
        if token is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        consumer_id, self.shop_id = token.consumer_id, token.shop_id
        self.language = _language(query.get("lang"))
        self.limiter = RateLimit(settings.CHAT_RATE_FRAMES, settings.CHAT_RATE_SECONDS)
        try:
            after = max(int(query.get("after") or 0), 0)
        except ValueError:
            after = 0
        self.consumer_id = consumer_id
        self.typing_gate = typing_relay.TypingGate()
        try:
            chat, _created = await self.call(services.start_chat, consumer_id, self.language, shop_id=self.shop_id)
        except services.ChatError as refused:  # a shop that takes no chats, or another chat still open: said, closed
            await self.accept()
            await self.error(refused.error_code, " ".join(refused.messages))
            await self.close(code=CLOSE_NO_SHOP if refused.error_code == "no_shop" else CLOSE_OTHER_CHAT)
            return
        except Exception:
            log.exception("could not start a chat for consumer %s", consumer_id)
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # Join before reading the history: a message sent in between arrives twice (ids tell), never not at all.
        await self.channel_layer.group_add(consumer_group(consumer_id), self.channel_name)
        await self.accept()
        ready, history = await database_sync_to_async(self._ready)(chat.pk, after)
        await self.send_json(ready)
        await self.send_json({"type": "history", "messages": history})

    def _ready(self, chat_id: int, after: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        with translation.override(self.language):
            chat = ChatSession.objects.select_related("agent").get(pk=chat_id)
            ready = {
                "type": "ready", "chat": chat.pk, "ticket": chat.ticket_id, "state": chat.state,
                "agent": (chat.agent.first_name or chat.agent.get_username()) if chat.agent else "",
                "callback": chat.callback, "staffed": services.agents_on_duty(timezone.now()),
                "language": chat.language, "shop": selectors.shop_of(chat),
                "escalated": chat.escalated_at is not None,
            }  # fmt: skip
            return ready, services.visible_messages(self.consumer_id, after)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "consumer_id"):
            await self.channel_layer.group_discard(consumer_group(self.consumer_id), self.channel_name)

    async def on_message(self, content: dict[str, Any], ref: Any) -> None:
        text = _text(content)
        event = await self.call(services.consumer_message, self.consumer_id, self.language, text, shop_id=self.shop_id)
        await self.send_json({"type": "ack", "ref": ref, "id": event.pk})

    async def on_history(self, content: dict[str, Any], ref: Any) -> None:
        after = _int(content, "after")
        messages = await database_sync_to_async(services.visible_messages)(self.consumer_id, after)
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
        request = await self.call(services.confirm_proposal, self.consumer_id, _text(content, "proposal"))
        await self.send_json({"type": "ack", "ref": ref, "refund": request.pk, "decision": request.decision})

    async def on_cancel(self, content: dict[str, Any], ref: Any) -> None:
        await self.call(services.cancel_proposal, self.consumer_id, _text(content, "proposal"))
        await self.send_json({"type": "ack", "ref": ref})

    async def on_rate(self, content: dict[str, Any], ref: Any) -> None:
        """The consumer answers the satisfaction survey of their ended chat ``chat``."""
        chat_id = _int(content, "chat", minimum=1)
        answer = await self.call(satisfaction.rate_chat, self.consumer_id, chat_id, content.get("score"),
                                 content.get("comment", ""))  # fmt: skip
        await self.send_json({"type": "ack", "ref": ref, "chat": chat_id, "score": answer.score})

    async def on_typing(self, content: dict[str, Any], ref: Any) -> None:
        """Relayed to the consoles following the conversation; never stored, at most one per CHAT_TYPING_SECONDS."""
        if self.typing_gate.allow():
            await self.relay(await database_sync_to_async(typing_relay.consumer_typing)(self.consumer_id))

    async def on_ping(self, content: dict[str, Any], ref: Any) -> None:
        await self.send_json({"type": "pong", "ref": ref})


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
        if user is None or not user.is_authenticated or not user.is_staff or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await database_sync_to_async(self._may_use_console)(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user = user
        self.shop_id = await database_sync_to_async(merchant_id_of)(user) if is_merchant_staff(user) else None
        self.shows_pii = await database_sync_to_async(sees_pii)(user)
        self.language = _language(_query(self.scope).get("lang"))
        # An agent's console sends actions, not chatter: a generous limit still stops a runaway script.
        self.limiter = RateLimit(settings.CHAT_RATE_FRAMES * 3, settings.CHAT_RATE_SECONDS)
        self.following = set()
        self.typing_gate = typing_relay.TypingGate()
        await self.channel_layer.group_add(AGENTS, self.channel_name)
        await self.channel_layer.group_add(agent_group(user.pk), self.channel_name)
        await self.accept()
        hello, chats = await database_sync_to_async(self._hello)()
        await self.send_json(hello)
        await self.send_queue(None)
        for chat_id in chats:
            await self.follow(chat_id)

    async def send_json(self, content: dict[str, Any]) -> None:
        # The boundary: whatever a service published, consumers' numbers leave masked for agents without the right.
        await super().send_json(content if self.shows_pii else masked_frame(content))

    @staticmethod
    def _may_use_console(user: Actor) -> bool:
        # Merchant staff take their own shop's chats only (services.desk_of); one without a shop takes none.
        if is_merchant_staff(user) and merchant_id_of(user) is None:
            return False
        return bool(user.has_perm("chat.use_chat_console"))

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
        await self.send_json({"type": "queue", "items": items, "new": new})

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
        await self.call(services.accept_chat, chat_id, self.user)
        await self.send_json({"type": "ack", "ref": ref, "chat": chat_id})

    async def on_reply(self, content: dict[str, Any], ref: Any, internal: bool = False) -> None:
        chat_id = await self._visible(content)
        event = await self.call(services.agent_message, chat_id, self.user, _text(content), internal=internal)
        await self.send_json({"type": "ack", "ref": ref, "chat": chat_id, "id": event.pk})

    async def on_note(self, content: dict[str, Any], ref: Any) -> None:
        await self.on_reply(content, ref, internal=True)

    async def on_transfer(self, content: dict[str, Any], ref: Any) -> None:
        chat_id = await self._visible(content)
        if "agent" in content:
            target = await database_sync_to_async(self._user)(_int(content, "agent", minimum=1))
            await self.call(services.transfer_chat, chat_id, self.user, to_agent=target)
        else:
            department = await database_sync_to_async(self._department)(_int(content, "department", minimum=1))
            await self.call(services.transfer_chat, chat_id, self.user, to_department=department)
        await self.send_json({"type": "ack", "ref": ref, "chat": chat_id})

    async def on_resolve(self, content: dict[str, Any], ref: Any) -> None:
        chat_id = await self._visible(content)
        await self.call(services.resolve_chat, chat_id, self.user)
        await self.send_json({"type": "ack", "ref": ref, "chat": chat_id})

    async def on_refund(self, content: dict[str, Any], ref: Any) -> None:
        chat_id = await self._visible(content)
        order, amount, key = (_text(content, field) for field in ("order", "amount", "key"))
        request = await self.call(services.refund_in_chat, chat_id, self.user, order, amount, key=key)
        await self.send_json({"type": "ack", "ref": ref, "chat": chat_id, "refund": request.pk,
                              "decision": request.decision})  # fmt: skip

    async def on_learn(self, content: dict[str, Any], ref: Any) -> None:
        """Teach the bot: the consumer's message becomes another wording of the article (a chat one holds or held)."""
        chat_id = await self._visible(content)
        message_id, article_id = _int(content, "message", minimum=1), _int(content, "article", minimum=1)
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
        chat_id = _int(content, "chat", minimum=1)
        if self.typing_gate.allow(chat_id):
            await self.relay(await database_sync_to_async(typing_relay.agent_typing)(chat_id, self.user))

    async def on_ping(self, content: dict[str, Any], ref: Any) -> None:
        await self.send_json({"type": "pong", "ref": ref})

    async def _visible(self, content: dict[str, Any]) -> int:
        chat_id = _int(content, "chat", minimum=1)
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
