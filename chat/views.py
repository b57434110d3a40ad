"""The consumer demo page (/chat/): try the bot and the handoff in a browser."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from chat.demo_page import demo_context


@require_http_methods(["GET", "POST"])
def chat_demo(request: HttpRequest) -> HttpResponse:
    """With ?token=..., the chat widget; staff who may issue tokens pick a consumer to chat as."""
    # ?shop=CODE (or the form's shop): the chat is with that shop.
    code = (request.POST.get("shop") or request.GET.get("shop") or "").strip()[:32]
    picked = request.POST.get("consumer", "").strip() if request.method == "POST" else None
    context = demo_context(request.user, request.GET.get("token", "").strip(), code, picked)
    return render(request, "chat/demo.html", context)
