"""The chat app's API routes, mounted under /api/ by config/urls.py."""

from __future__ import annotations

from django.urls import path

from chat.api import ChatTokenView
from chat.api_attachments import AgentImageView, AttachmentView, ConsumerImageView

urlpatterns = [
    path("chat/tokens/", ChatTokenView.as_view(), name="api-chat-token"),
    path("chat/attachments/", ConsumerImageView.as_view(), name="api-chat-image"),
    path("chat/console/attachments/", AgentImageView.as_view(), name="api-chat-console-image"),
    path("chat/attachments/<int:message>/", AttachmentView.as_view(), name="api-chat-attachment"),
]
