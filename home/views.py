"""The admin's index, a home per role; the app list stays below it."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache

from core.users import actor
from home import selectors


@never_cache
def _index(request: HttpRequest) -> HttpResponse:
    kind = selectors.home_kind(actor(request))
    if kind == selectors.BUSINESS:
        return redirect("radio:today")
    context: dict[str, object] = {"home_kind": kind}
    if kind == selectors.SUPERVISOR:
        context["wallboard"] = selectors.wallboard()
        context["wallboard_config"] = {"socket": "/ws/events/", "lang": get_language() or settings.LANGUAGE_CODE}
    elif kind == selectors.MERCHANT:
        context["shop"] = selectors.merchant_home(actor(request))
    else:
        context["desk"] = selectors.agent_home(actor(request))
    response = admin.site.index(request, extra_context=context)
    assert isinstance(response, TemplateResponse)
    response.template_name = "home/index.html"
    return response


index = admin.site.admin_view(_index)
