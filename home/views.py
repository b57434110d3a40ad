"""The admin's index, a home per role; the app list stays below it."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from core import durations
from core.users import Actor, actor
from home import reports, selectors
from tickets.models import Department


@never_cache
def _index(request: HttpRequest) -> HttpResponse:
    kind = selectors.home_kind(actor(request))
    if kind == selectors.BUSINESS:
        return redirect("radio:today")
    context = home_context(kind, actor(request))
    response = admin.site.index(request, extra_context=context)
    assert isinstance(response, TemplateResponse)
    response.template_name = "home/index.html"
    return response


def home_context(kind: str, user: Actor) -> dict[str, object]:
    """What the home of each kind shows: the wallboard (supervisors), the shop (merchant staff), the desk (agents)."""
    if kind == selectors.SUPERVISOR:
        config = {"socket": "/ws/events/", "lang": get_language() or settings.LANGUAGE_CODE,
                  "durations": durations.formats()}  # fmt: skip
        return {"home_kind": kind, "wallboard": selectors.wallboard(), "wallboard_config": config}
    if kind == selectors.MERCHANT:
        return {"home_kind": kind, "shop": selectors.merchant_home(user)}
    return {"home_kind": kind, "desk": selectors.agent_home(user), "saved_views": selectors.saved_views(user)}


index = admin.site.admin_view(_index)


def _report_range(request: HttpRequest) -> reports.Range:
    """Supervisors only (agents and merchant staff get 403); the range the query asks for, or ValidationError."""
    if selectors.home_kind(actor(request)) != selectors.SUPERVISOR:
        raise PermissionDenied
    return reports.parse_range(request.GET)


@never_cache
def _reports_page(request: HttpRequest) -> HttpResponse:
    context: dict[str, object] = {**admin.site.each_context(request), "title": _("Reports"), "query": request.GET}
    context["departments"] = Department.objects.order_by("name")
    try:
        result = reports.report(_report_range(request))
    except ValidationError as refused:
        return TemplateResponse(request, "home/reports.html", {**context, "errors": refused.message_dict}, status=400)
    context.update(report=result, charts=reports.charts(result), volume=reports.volume_chart(result))
    context.update(csv_query=request.GET.urlencode(), comments=reports.latest_comments(result.range, actor(request)))
    return TemplateResponse(request, "home/reports.html", context)


@never_cache
def _reports_csv(request: HttpRequest) -> HttpResponse:
    try:
        result = reports.report(_report_range(request))
    except ValidationError as refused:
        lines = [f"{name}: {' '.join(messages)}" for name, messages in refused.message_dict.items()]
        return HttpResponse("\n".join(lines), status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(reports.csv_text(result), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="report-{result.range.start}-{result.range.end}.csv"'
    return response


reports_page = admin.site.admin_view(_reports_page)
reports_csv = admin.site.admin_view(_reports_csv)
