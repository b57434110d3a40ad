"""Live chat's channel-layer groups, and frames addressed to them (sent on commit by ``core.realtime``).

The groups: a conversation's consumer sockets, the agent consoles following it, every console (queue
changes), and one agent's consoles.
"""

from __future__ import annotations

from typing import Any

from core.realtime import publish

AGENTS = "chat.agents"


def consumer_group(consumer_id: int) -> str:
    return f"chat.consumer.{consumer_id}"


def staff_group(chat_id: int) -> str:
    return f"chat.{chat_id}.staff"


def agent_group(user_id: int) -> str:
    return f"chat.agent.{user_id}"


def send_frame(group: str, frame: dict[str, Any], handler: str = "chat.frame") -> None:
    """Send a protocol frame to ``group`` once the current transaction commits; ``handler`` is the sockets' method."""
    publish(group, {"type": handler, "frame": frame})
