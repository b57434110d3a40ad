"""WebSocket routes. Each app adds its consumers here as it gains them."""

from __future__ import annotations

from django.urls import path

from chat.consumers.agent import AgentChatConsumer
from chat.consumers.consumer import ConsumerChatConsumer
from core.consumers import EventsConsumer

websocket_urlpatterns = [
    path("ws/events/", EventsConsumer.as_asgi()),
    path("ws/chat/", ConsumerChatConsumer.as_asgi()),
    path("ws/chat/agent/", AgentChatConsumer.as_asgi()),
]
