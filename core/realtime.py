"""Realtime: a state change is committed first, then pushed to WebSocket groups. The one publisher.

A service calls ``publish(group, message)`` (or ``send_event`` for the staff events of ``/ws/events/``)
inside its transaction. When the transaction commits, the message is either collected (the caller is
a socket that ran the service through ``collecting``: it sends the collected messages itself on its
event loop, so the database thread never waits on Redis) or sent at once through the channel layer
(a Celery task, an HTTP view). Outside a transaction it goes at once. A rolled-back change is never
announced, and while Redis is down a committed one is not either (one warning line; its request succeeds).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")
Message = dict[str, Any]
_local = threading.local()
log = logging.getLogger(__name__)
# What redis-py raises for a channel layer it cannot reach or that went away (it wraps the OSErrors).
LAYER_DOWN = (RedisConnectionError, RedisTimeoutError)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def role_group(role: str) -> str:
    return f"role.{role}"


def publish(group: str, message: Message) -> None:
    """Send a channel-layer ``message`` (its ``type`` names the consumers' handler) once the transaction commits."""
    transaction.on_commit(lambda: _deliver(group, message))


def send_event(group: str, event: str, payload: dict[str, Any]) -> None:
    """Send ``{"type": event, "data": payload}`` to a group of staff sockets once the current transaction commits."""
    publish(group, {"type": "event.message", "event": event, "data": payload})


def _deliver(group: str, message: Message) -> None:
    box: list[tuple[str, Message]] | None = getattr(_local, "box", None)
    if box is not None:
        box.append((group, message))
        return
    layer = get_channel_layer()
    assert layer is not None, "CHANNEL_LAYERS is not configured"
    try:
        async_to_sync(layer.group_send)(group, message)
    except LAYER_DOWN as error:
        # The change is committed and stays; only its announcement is lost. The sockets that would have
        # shown it are being closed with 4503 (core.sockets) and replay what they missed when they return.
        # Raising here would make a committed request a 500 and skip the commit's other callbacks.
        log.warning("%s to %s not sent: the channel layer is down (%s)", message.get("type"), group, error)


def collecting(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, list[tuple[str, Message]]]:
    """Run ``fn`` and return its result with the messages it published (for the caller to send)."""
    outer = getattr(_local, "box", None)
    _local.box = []
    try:
        result = fn(*args, **kwargs)
        return result, _local.box
    finally:
        _local.box = outer
