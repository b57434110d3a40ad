"""Frames for chat sockets, sent only after the change they announce is committed.

A service calls ``publish(group, frame)`` inside its transaction. When the transaction commits, the
frame is either collected (the caller is a socket, which sends the collected frames itself on its
event loop, so the database thread never waits on Redis) or sent at once through the channel layer
(a Celery task, an HTTP view). A rolled-back change is never announced.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

T = TypeVar("T")
Frame = dict[str, Any]
_local = threading.local()

# The groups: a conversation's consumer sockets, the agent consoles following it, every console
# (queue changes), and one agent's consoles.
AGENTS = "chat.agents"


def consumer_group(consumer_id: int) -> str:
    return f"chat.consumer.{consumer_id}"


def staff_group(chat_id: int) -> str:
    return f"chat.{chat_id}.staff"


def agent_group(user_id: int) -> str:
    return f"chat.agent.{user_id}"


def publish(group: str, frame: Frame, handler: str = "chat.frame") -> None:
    """Send ``frame`` to ``group`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _deliver(group, {"type": handler, "frame": frame}))


def _deliver(group: str, message: dict[str, Any]) -> None:
    box: list[tuple[str, dict[str, Any]]] | None = getattr(_local, "box", None)
    if box is not None:
        box.append((group, message))
        return
    layer = get_channel_layer()
    assert layer is not None, "CHANNEL_LAYERS is not configured"
    async_to_sync(layer.group_send)(group, message)


def collecting(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, list[tuple[str, dict[str, Any]]]]:
    """Run ``fn`` and return its result with the messages it published (for the caller to send)."""
    outer = getattr(_local, "box", None)
    _local.box = []
    try:
        result = fn(*args, **kwargs)
        return result, _local.box
    finally:
        _local.box = outer
