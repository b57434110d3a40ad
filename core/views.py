from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch
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
