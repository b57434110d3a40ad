"""The chat app's API routes, mounted under /api/ by config/urls.py."""

from __future__ import annotations

from django.urls import path

from chat.api import ChatTokenView

urlpatterns = [
    path("chat/tokens/", ChatTokenView.as_view(), name="api-chat-token"),
]
