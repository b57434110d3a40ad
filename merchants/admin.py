from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core import charts
from core.tenancy import TenantScopedAdmin, allows
from merchants.explanation import explain
from merchants.models import Merchant, MerchantMembership, MerchantScore
from merchants.scoring import WINDOW_DAYS
from merchants.selectors import day_medians, marketplace_medians, score_history, with_latest_score

TREND_DAYS = 90


@admin.register(Merchant)
class MerchantAdmin(TenantScopedAdmin):
    list_display = ("code", "name", "category", "city", "latest_score", "scores_link")
    list_filter = ("category",)
    search_fields = ("code", "name")
    list_select_related = ()
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Merchant]:
        return with_latest_score(super().get_queryset(request))

    @admin.display(description=_("service score"), ordering="service_score")
    def latest_score(self, obj: Any) -> Any:
        return obj.service_score if obj.service_score is not None else "—"

    @admin.display(description=_("trend"))
    def scores_link(self, obj: Merchant) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:merchants_merchant_scores", args=[obj.pk]), _("Scores")
        )

    def get_urls(self) -> list[Any]:
        scores = self.admin_site.admin_view(self.scores_view)
        return [path("<int:pk>/scores/", scores, name="merchants_merchant_scores"), *super().get_urls()]

    def scores_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A merchant's service score explained: each component's points against the marketplace median, the
        changes that would raise it most, and the trend."""
        if not request.user.has_perm("merchants.view_merchantscore"):
            raise PermissionDenied
        merchant = get_object_or_404(self.get_queryset(request), pk=pk)
        if not allows(request.user, merchant):  # get_queryset is scoped already; belt and braces
            raise Http404
        history = score_history(merchant, TREND_DAYS)
        medians = marketplace_medians(history[0].day, history[-1].day) if history else {}
        latest = history[-1] if history else None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Service score of %(name)s") % {"name": merchant.name},
            "merchant": merchant,
            "latest": latest,
            "explanation": explain(latest, day_medians(latest.day)) if latest else None,
            "chart": charts.line_chart(
                [(s.day, float(s.service_score)) for s in history],
                [(day, float(value)) for day, value in sorted(medians.items())],
                label=str(_("Service score trend against the marketplace median")),
                empty=str(_("No scores yet: they are computed every night.")),
            ),
            "history": list(reversed(history[-14:])),
            "opts": self.model._meta,
            "window_start": latest.day - timedelta(days=WINDOW_DAYS - 1) if latest else None,
        }
        return TemplateResponse(request, "admin/merchants/merchant/scores.html", context)


@admin.register(MerchantScore)
class MerchantScoreAdmin(TenantScopedAdmin):
    list_display = (
        "merchant", "day", "service_score", "traffic_weight", "dsr_item", "dsr_service", "dsr_logistics",
        "dispute_rate", "refund_hours", "reviews",
    )  # fmt: skip
    list_filter = ("day",)
    search_fields = ("merchant__code", "merchant__name")
    list_select_related = ("merchant",)
    raw_id_fields = ("merchant",)
    show_full_result_count = False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # written by the nightly run only


@admin.register(MerchantMembership)
class MerchantMembershipAdmin(TenantScopedAdmin):
    list_display = ("user", "merchant", "created_at")
    list_filter = ("created_at",)
    search_fields = ("user__username", "merchant__name", "merchant__code")
    list_select_related = ("user", "merchant")
    autocomplete_fields = ("user", "merchant")
