"""What both chat sockets share (docs/chat-protocol.md): the database pool their work runs on, frame parsing
(``text_field``, ``int_field``: a malformed field is a ``FrameError``), the per-socket rate limit, and
``ChatSocket``, which answers every malformed frame with an ``error`` frame and carries on, and sends what a
service published once it has committed (``core.realtime.collecting``).

The sockets themselves: ``chat.consumers.consumer`` (a consumer's, /ws/chat/) and ``chat.consumers.agent``
(an agent's console, /ws/chat/agent/).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import SyncToAsync
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections
from django.utils import translation
from django.utils.translation import gettext as _

from chat.conversation import ChatError
from chat.models import Language
from core.consumers import CLOSE_TRY_AGAIN
from core.realtime import LAYER_DOWN, collecting

log = logging.getLogger(__name__)
CLOSE_FLOOD = 4429
LANGUAGES = set(Language.values)


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


def query_params(scope: dict[str, Any]) -> dict[str, str]:
    raw = scope.get("query_string", b"").decode("latin-1")
    return {key: values[-1] for key, values in parse_qs(raw).items()}


def after_param(query: dict[str, str]) -> int:
    """The ``after`` of a socket's query (the last message id a reconnecting client has); 0 when absent or bad."""
    try:
        return max(int(query.get("after") or 0), 0)
    except ValueError:
        return 0


def pick_language(value: str | None) -> str:
    value = (value or "").lower()
    if value in LANGUAGES:
        return value
    return "en" if value.startswith("en") else settings.LANGUAGE_CODE


def text_field(content: dict[str, Any], field: str = "text") -> str:
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


def int_field(content: dict[str, Any], field: str, *, minimum: int = 0) -> int:
    value = content.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise FrameError("missing_field", _("The field “%(field)s” must be a whole number.") % {"field": field})
    return value


def decode_frame(text_data: str | None) -> Any:
    """The JSON a text frame holds; a binary, oversized or non-JSON frame is a ``FrameError``."""
    if text_data is None:
        raise FrameError("binary", _("Frames must be JSON text, not binary."))
    if len(text_data.encode()) > settings.CHAT_MAX_FRAME_BYTES:
        raise FrameError("too_large", _("The frame is too large."))
    try:
        return json.loads(text_data)
    except ValueError:
        raise FrameError("bad_json", _("Frames must be JSON text.")) from None


def frame_ref(content: Any) -> Any:
    """The client's ``ref`` echoed in the answer: a string or number of at most 64 characters, else None."""
    ref = content.get("ref") if isinstance(content, dict) else None
    return ref if isinstance(ref, str | int) and len(str(ref)) <= 64 else None


# What the error frame says for each kind of refusal, most specific first (a ChatError is a ValidationError).
_PROBLEMS: tuple[tuple[type[Exception], Callable[[Any], tuple[str, str]]], ...] = (
    (FrameError, lambda problem: (problem.code, problem.detail)),
    (ChatError, lambda problem: (problem.error_code, " ".join(problem.messages))),
    (ValidationError, lambda problem: ("invalid", " ".join(problem.messages))),
)


def frame_problem(problem: Exception) -> tuple[str, str]:
    """The (code, detail) of the error frame for what a frame raised; anything unforeseen is logged."""
    for kind, said in _PROBLEMS:
        if isinstance(problem, kind):
            return said(problem)
    log.exception("chat frame failed")  # called while the exception is handled: its traceback is logged
    return "server_error", _("Something went wrong; your conversation is safe, try again.")


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
                content = decode_frame(text_data)
                ref = frame_ref(content)
                await self.handler_for(content, allowed)(content, ref)
            except LAYER_DOWN:
                # The service has committed; only the frames' sending failed. "Try again" on an open socket would
                # store a retried message twice: the socket closes with 4503, and the client's reconnect with
                # ``after`` replays what was stored.
                log.warning("chat frame: the channel layer is down, closing with %s", CLOSE_TRY_AGAIN)
                await self.close(code=CLOSE_TRY_AGAIN)
            except Exception as problem:  # never let one frame kill the socket
                await self.error(*frame_problem(problem), ref)

    def handler_for(self, content: Any, allowed: bool) -> Callable[[dict[str, Any], Any], Awaitable[None]]:
        """The method ``handlers`` names for the frame's type; a refused or malformed frame is a ``FrameError``."""
        if not allowed:
            raise FrameError("rate_limited", _("Too many messages; slow down a little."))
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            raise FrameError("missing_field", _("A frame is a JSON object with a “type”."))
        name = self.handlers.get(content["type"])
        if name is None:
            raise FrameError("unknown_type", _("Unknown frame type: %(type)s") % {"type": content["type"][:40]})
        handler: Callable[[dict[str, Any], Any], Awaitable[None]] = getattr(self, name)
        return handler

    async def relay(self, relay: tuple[str, dict[str, Any]] | None) -> None:
        """Send a frame that is not stored (typing, ``chat.typing_relay``) straight to the other side's group."""
        if relay is not None:
            group, frame = relay
            await self.channel_layer.group_send(group, {"type": "chat.frame", "frame": frame})

    async def chat_frame(self, message: dict[str, Any]) -> None:
        await self.send_json(message["frame"])

    async def chat_frames(self, message: dict[str, Any]) -> None:
        for frame in message["frames"]:
            await self.send_json(frame)
