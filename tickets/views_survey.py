"""The consumer's survey page of a resolved phone or web ticket (/survey/<token>/): no login, the signed link is
the key (tickets.surveys). A link that is altered, expired or no longer current gets a page saying so, with its
HTTP status (400, 410, 404, 409), never an error page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from core.satisfaction import COMMENT_MAX_CHARS
from tickets import surveys
from tickets.surveys import SurveyError

# The one question's answers, best first (stars are drawn by the page's CSS: no emoji font needed).
SCORES = [
    (5, _("Very satisfied")), (4, _("Satisfied")), (3, _("Neither")), (2, _("Dissatisfied")),
    (1, _("Very dissatisfied")),
]  # fmt: skip


@require_http_methods(["GET", "POST"])
def survey_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the question (or the answer already given); POST: the answer, once, then back here."""
    context: dict[str, object] = {"scores": SCORES, "posted": request.POST, "comment_max": COMMENT_MAX_CHARS}
    try:
        if request.method == "POST":
            surveys.answer_survey(token, request.POST.get("score", ""), request.POST.get("comment", ""))
            return HttpResponseRedirect(request.path + "?thanks=1", status=303)
        context["survey"] = surveys.open_survey(token)
    except SurveyError as refused:
        context.update(refused=refused, survey=None if refused.code != "invalid" else surveys.open_survey(token))
        return render(request, "tickets/survey.html", context, status=refused.status)
    context["thanks"] = request.GET.get("thanks") == "1"
    return render(request, "tickets/survey.html", context)
