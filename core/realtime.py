"""Realtime events: a state change is committed first, then pushed to WebSocket groups."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def role_group(role: str) -> str:
    return f"role.{role}"


def send_event(group: str, event: str, payload: dict[str, Any]) -> None:
    """Send ``{"type": event, "data": payload}`` to a group once the current transaction commits.

    Outside a transaction it is sent at once. A rolled-back change is never announced.
    """

    def _send() -> None:
        layer = get_channel_layer()
        assert layer is not None, "CHANNEL_LAYERS is not configured"
        async_to_sync(layer.group_send)(group, {"type": "event.message", "event": event, "data": payload})

    transaction.on_commit(_send)
