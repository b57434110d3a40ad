from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotFound, JsonResponse
from django.shortcuts import redirect
from django.template import loader
from django.templatetags.static import static
from django.urls import NoReverseMatch
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core import health


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report = health.check_all()
    status = 200 if report["status"] == "ok" else 503
    if not _is_staff(request):
        # Probes need the verdict; the reasons (hosts, paths) are for staff only.
        for part in ("database", "redis", "celery"):
            report[part].pop("error", None)
    return JsonResponse(report, status=status)


def home(request: HttpRequest) -> HttpResponse:
    """Staff land in the admin; business teams, who read the radio and nothing else, on the radio's page."""
    user = request.user
    if user.is_authenticated and user.has_perm("radio.view_digest") and not user.has_perm("tickets.view_ticket"):
        try:
            return redirect("radio:today")  # by name: core never imports the radio
        except NoReverseMatch:
            pass
    return redirect("admin:index")


def _is_staff(request: HttpRequest) -> bool:
    # Reading the user needs the session, which needs the database: with it down, answer as to anyone.
    try:
        return bool(request.user.is_staff)
    except Exception:
        return False


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico wherever a page names none: the SVG (served by whitenoise)."""
    return redirect(static("core/favicon.svg"), permanent=True)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A forbidden page in the admin's look and the reader's language (``handler403``), not a bare "403 Forbidden"."""
    context = {**admin.site.each_context(request), "title": _("You may not open this page")}
    return HttpResponseForbidden(loader.render_to_string("403.html", context, request))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A missing page in the admin's look and the reader's language (``handler404``), not a bare "Not Found"."""
    context = {**admin.site.each_context(request), "title": _("This page does not exist"), "path": request.path}
    return HttpResponseNotFound(loader.render_to_string("404.html", context, request))
