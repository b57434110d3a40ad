"""The consumer demo page (/chat/): try the bot and the handoff in a browser."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

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


def _may_issue(user: RequestUser) -> bool:
    return bool(user.is_authenticated and user.is_staff and user.has_perm("chat.issue_chat_token"))


@require_http_methods(["GET", "POST"])
def chat_demo(request: HttpRequest) -> HttpResponse:
    """With ?token=..., the chat widget; staff who may issue tokens pick a consumer to chat as."""
    token = request.GET.get("token", "").strip()
    error = ""
    # ?shop=CODE (or the form's shop): the chat is with that shop; a made-up or closed shop is refused.
    code = (request.POST.get("shop") or request.GET.get("shop") or "").strip()[:32]
    shop_id = chat_shop_id(code) if code else None
    shop = Merchant.objects.filter(pk=shop_id).first() if shop_id else None
    if code and shop is None:
        error = str(_("There is no shop with this code that takes chats."))
    elif request.method == "POST" and _may_issue(request.user):
        consumer = Consumer.objects.filter(external_id=request.POST.get("consumer", "").strip()).first()
        if consumer is None:
            error = str(_("There is no consumer with this external id."))
        else:
            token = issue_token(consumer.pk, shop.pk if shop else None)
    consumer_id = read_token(token) if token else None
    # A valid token for a consumer who has since been removed is as good as an invalid one.
    found = Consumer.objects.select_related("tier").filter(pk=consumer_id).first() if consumer_id else None
    if token and found is None and not error:
        error = str(_("This chat link is invalid or has expired."))
    context: dict[str, Any] = {"error": error, "may_issue": _may_issue(request.user), "shop": shop}
    if found is not None:
        context["consumer"] = found
        context["config"] = {
            "socket": "/ws/chat/", "token": token, "lang": get_language() or settings.LANGUAGE_CODE,
            "maxChars": settings.CHAT_MAX_MESSAGE_CHARS, "strings": WIDGET_STRINGS,
            "imageUrl": reverse("api-chat-image"), "typingSeconds": settings.CHAT_TYPING_SECONDS,
        }  # fmt: skip
    elif context["may_issue"]:
        # A few demo consumers to start from: the best tier first, so priority routing is one click away.
        context["consumers"] = Consumer.objects.select_related("tier").order_by("-credit_score", "pk")[:DEMO_CONSUMERS]
    return render(request, "chat/demo.html", context)
