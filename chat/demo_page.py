"""What the consumer demo page (/chat/) shows: the chat widget for a valid token, or, for staff who may issue
tokens, a pick of consumers to chat as (``chat.views.chat_demo`` renders it)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from chat.selectors import chat_shop_id
from chat.tokens import issue_token, read_token
from core.users import RequestUser
from crm.models import Consumer
from merchants.models import Merchant

DEMO_CONSUMERS = 8

WIDGET_STRINGS = {
    "title": _("Customer service"),
    "placeholder": _("Type your question… (Enter sends)"),
    "send": _("Send"),
    "human": _("Talk to a human"),
    "end": _("End chat"),
    "connecting": _("Connecting…"),
    "reconnecting": _("Connection lost, reconnecting…"),
    "refused": _("This chat link is invalid or has expired."),
    "bot": _("Assistant"),
    "agent": _("Agent"),
    "you": _("You"),
    "position": _("You are number %(position)s of %(waiting)s in the queue."),
    "callback": _("No agent is on duty now: an agent will call you back when the desk opens."),
    "with_agent": _("You are talking to %(name)s."),
    "ended": _("The chat has ended. Send a message to start a new one."),
    "survey": _("How satisfied are you with this service?"),
    "stars": _("%(n)s of 5 stars"),
    "comment": _("Anything to add? (optional)"),
    "rate": _("Send rating"),
    "thanks": _("Thank you for your rating."),
    "escalate": _("Ask the platform to step in"),
    "shop": _(" · shop %(name)s"),
    "refused_shop": _("This chat cannot be opened: see the message above."),
    "attach": _("Send an image"),
    "image": _("Image"),
    "typing": _("typing…"),
    "upload_failed": _("The image could not be sent; try again."),
}


def may_issue(user: RequestUser) -> bool:
    return bool(user.is_authenticated and user.is_staff and user.has_perm("chat.issue_chat_token"))


def demo_context(user: RequestUser, token: str, code: str, picked: str | None) -> dict[str, Any]:
    """The page's context. ``code``: the shop the chat is with (a made-up or closed shop is refused); ``picked``:
    the external id of the consumer staff chose to chat as (a POST), None when nobody was picked."""
    issuer = may_issue(user)
    shop = _shop(code)
    error = str(_("There is no shop with this code that takes chats.")) if code and shop is None else ""
    if not error and picked is not None and issuer:
        token, error = _issued(token, picked, shop)
    consumer_id = read_token(token) if token else None
    # A valid token for a consumer who has since been removed is as good as an invalid one.
    found = Consumer.objects.select_related("tier").filter(pk=consumer_id).first() if consumer_id else None
    if token and found is None and not error:
        error = str(_("This chat link is invalid or has expired."))
    context: dict[str, Any] = {"error": error, "may_issue": issuer, "shop": shop}
    if found is not None:
        context.update(consumer=found, config=widget_config(token))
    elif issuer:
        # A few demo consumers to start from: the best tier first, so priority routing is one click away.
        context["consumers"] = Consumer.objects.select_related("tier").order_by("-credit_score", "pk")[:DEMO_CONSUMERS]
    return context


def _shop(code: str) -> Merchant | None:
    shop_id = chat_shop_id(code) if code else None
    return Merchant.objects.filter(pk=shop_id).first() if shop_id else None


def _issued(token: str, picked: str, shop: Merchant | None) -> tuple[str, str]:
    """(the token for the picked consumer, ""), or (the token unchanged, why) when there is no such consumer."""
    consumer = Consumer.objects.filter(external_id=picked).first()
    if consumer is None:
        return token, str(_("There is no consumer with this external id."))
    return issue_token(consumer.pk, shop.pk if shop else None), ""


def widget_config(token: str) -> dict[str, Any]:
    """What the widget's script is configured with (chat/static/chat/chat.js)."""
    return {
        "socket": "/ws/chat/", "token": token, "lang": get_language() or settings.LANGUAGE_CODE,
        "maxChars": settings.CHAT_MAX_MESSAGE_CHARS, "strings": WIDGET_STRINGS,
        "imageUrl": reverse("api-chat-image"), "typingSeconds": settings.CHAT_TYPING_SECONDS,
    }  # fmt: skip
