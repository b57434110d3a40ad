"""The admin of risk patterns: edit them (each change of definition a new version), and backtest them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.tenancy import TenantScopedAdmin
from core.text import mask_pii
from core.users import actor
from crm.models import RiskPattern, RiskPatternVersion
from crm.patterns import check
from crm.risk import backtest, settings_in_force
from crm.services import save_risk_pattern

MAX_BACKTEST_DAYS = 3650


class RiskPatternForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, problem in check(data.get("match", ""), data.get("terms", ""), data.get("near_terms", "")).items():
            self.add_error(name, problem)
        return data


class BacktestForm(forms.Form):
    days = forms.IntegerField(label=_("days back"), min_value=1, max_value=MAX_BACKTEST_DAYS)
    pattern = forms.ModelChoiceField(
        label=_("pattern"), queryset=RiskPattern.objects.all(), required=False, empty_label=_("every active pattern")
    )


@admin.register(RiskPattern)
class RiskPatternAdmin(TenantScopedAdmin):
    form = RiskPatternForm
    list_display = ("name", "flag", "match", "weight", "distance", "active", "version", "updated_at")
    list_filter = ("active", "flag", "match")
    search_fields = ("name", "terms")
    list_select_related = ()
    readonly_fields = ("version", "updated_at")
    fields = ("name", "description", "flag", "match", "terms", "near_terms", "then_terms", "except_terms", "ordered",
              "distance",
              "weight", "active", "version", "updated_at")  # fmt: skip

    def save_model(self, request: HttpRequest, obj: RiskPattern, form: Any, change: bool) -> None:
        save_risk_pattern(obj, by=actor(request))

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.backtest_view)
        return [path("backtest/", view, name="crm_riskpattern_backtest"), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        link = format_html('<a href="{}">{}</a>', reverse("admin:crm_riskpattern_backtest"), _("Backtest"))
        return super().changelist_view(request, {**(extra_context or {}), "backtest_link": link})

    def backtest_view(self, request: HttpRequest) -> HttpResponse:
        """The patterns over stored reviews, and what they would flag; writes nothing."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = BacktestForm(request.GET or {"days": settings_in_force()["RISK_PATTERN_LOOKBACK_DAYS"]})
        outcome = None
        if form.is_valid():
            chosen = form.cleaned_data["pattern"]
            outcome = backtest(days=form.cleaned_data["days"], patterns=[chosen] if chosen else None)
            for result in outcome.patterns:
                result.samples = [mask_pii(text) for text in result.samples or []]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Backtest the risk patterns"),
            "opts": self.model._meta,
            "form": form,
            "outcome": outcome,
            "settings_in_force": sorted(settings_in_force().items()),
        }
        return TemplateResponse(request, "admin/crm/riskpattern/backtest.html", context)


@admin.register(RiskPatternVersion)
class RiskPatternVersionAdmin(TenantScopedAdmin):
    list_display = ("pattern", "number", "flag", "match", "weight", "created_at", "created_by")
    list_filter = ("flag", "match")
    search_fields = ("pattern__name",)
    list_select_related = ("pattern", "created_by")
    raw_id_fields = ("pattern",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # frozen by save_risk_pattern

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
