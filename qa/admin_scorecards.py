"""The QA desk's scorecards: each agent's week, and the trend of their score against the team's."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.tenancy import TenantScopedAdmin
from core.users import person_name
from qa import scorecards, selectors
from qa.models import Category, Scorecard
from qa.presentation import can_see_pii


@admin.register(Scorecard)
class ScorecardAdmin(TenantScopedAdmin):
    list_display = ("agent_name", "week", "calls", "chats", "confirmed_summary", "score")
    list_filter = ("week",)
    search_fields = ("agent__username", "agent__first_name")
    list_select_related = ("agent",)
    ordering = ("-week", "score")
    actions = ["recompute"]

    class Media:
        css = {"all": ["qa/qa.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Scorecard]:
        queryset = super().get_queryset(request)
        if not request.user.has_perm("qa.change_scorecard"):
            queryset = queryset.filter(agent_id=request.user.pk)  # an agent sees their own
        return queryset

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("agent"), ordering="agent__first_name")
    def agent_name(self, obj: Scorecard) -> str:
        return person_name(obj.agent)  # by name, as on the pages, not by username

    @admin.display(description=_("confirmed findings"))
    def confirmed_summary(self, obj: Scorecard) -> str:
        labels = dict(Category.choices)
        return ", ".join(f"{labels.get(k, k)} {v}" for k, v in sorted(obj.confirmed.items())) or "—"

    @admin.action(description=_("Recompute the selected weeks"), permissions=["change"])
    def recompute(self, request: HttpRequest, queryset: QuerySet[Scorecard]) -> None:
        weeks = sorted(set(queryset.values_list("week", flat=True)))
        for week in weeks:
            scorecards.compute_week(week)
        self.message_user(request, ngettext("%d week recomputed.", "%d weeks recomputed.", len(weeks)) % len(weeks))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        """An agent's week: figures, a trend of their weekly score against the team's median, and the findings."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        card = get_object_or_404(self.get_queryset(request).select_related("agent"), pk=object_id)
        page = selectors.scorecard_page(card, mask=not can_see_pii(request.user))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, **page}
        return TemplateResponse(request, "admin/qa/scorecard/detail.html", context)
