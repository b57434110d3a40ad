"""Sockets when the channel layer is down: closed with 4503 "try again later", never a 500 or a 1011.

Every socket needs the channel layer (Redis): Channels reads the socket's own channel from it for the
socket's whole life, and the consumers join their groups on connect. When Redis is unreachable that
read fails and the consumer dies of a ``redis.exceptions.ConnectionError``, which daphne would answer
with a 500 at the handshake, or a 1011 ("internal error") on an open socket, both of which tell a client
that retrying is pointless. ``TryAgainWhenLayerDown``, outermost around the WebSocket routes, closes
such a socket with ``CLOSE_TRY_AGAIN`` (4503) instead, accepting it first if need be (a close before the
accept would be an HTTP 403, without a code). WebSocket's own 1013 "Try Again Later" would say the same,
but daphne's autobahn refuses to send any code but 1000 and 3000–4999. The widget and the console
reconnect with backoff, and
their ``after`` parameter replays what they missed. A new socket after Redis is back works at once:
each socket gets fresh connections from channels_redis's pool, whose stale ones redis-py retries.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from core.consumers import CLOSE_TRY_AGAIN
from core.realtime import LAYER_DOWN

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class TryAgainWhenLayerDown:
    """ASGI middleware: a WebSocket whose consumer fails on the channel layer is closed with 4503."""

    def __init__(self, inner: App) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.inner(scope, receive, send)
            return
        sent: set[str] = set()

        async def watched(message: dict[str, Any]) -> None:
            sent.add(message["type"])
            await send(message)

        try:
            await self.inner(scope, receive, watched)
        except LAYER_DOWN as error:
            log.warning("socket %s closed with %s: the channel layer is down (%s)", scope["path"], CLOSE_TRY_AGAIN,
                        error)  # fmt: skip
            if "websocket.close" in sent:
                return
            with contextlib.suppress(Exception):  # the client may be gone already: nothing to tell
                if "websocket.accept" not in sent:
                    await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})
