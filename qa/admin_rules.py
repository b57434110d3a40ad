"""The QA desk's rules: versioned definitions, switched on and off, and backtested against recent transcripts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.tenancy import TenantScopedAdmin
from core.users import actor
from qa import selectors, services
from qa.models import Finding, PiiKind, ProximityScope, Rule, RuleKind, RuleVersion, all_pii_kinds
from qa.presentation import can_see_pii

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _OpenCount(TypedDict):
    """What get_queryset annotates: ``open_count``."""

    open_count: int


class TermsField(forms.CharField):
    """A list of terms, one per line, stored as a JSON list."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 60})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class RuleForm(forms.ModelForm):
    terms = TermsField(label=capfirst(_("terms")), required=False, help_text=_("One per line."))
    negations = TermsField(
        label=capfirst(_("negation terms")),
        required=False,
        help_text=_("One per line: a match with one of these just before it is not a match (没法保证 退款)."),
    )
    scope = forms.TypedChoiceField(
        label=capfirst(_("proximity scope")),
        choices=ProximityScope.choices,
        required=False,
        empty_value=ProximityScope.SEGMENT,
        help_text=_("Proximity only: both in one turn, or anywhere in the turns of one speaker in the call."),
    )
    pii_kinds = forms.MultipleChoiceField(
        label=capfirst(_("personal numbers")),
        required=False,
        choices=PiiKind.choices,
        initial=all_pii_kinds,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Personal data rules only: which numbers read out count."),
    )
    near_terms = TermsField(
        label=capfirst(_("near terms")),
        required=False,
        help_text=_("Proximity only: one per line; a term above within the distance of one of these."),
    )

    class Meta:
        model = Rule
        fields = [
            "name", "name_en", "description", "kind", "terms", "near_terms", "distance", "scope", "negations",
            "negation_window", "pattern", "pii_kinds", "speaker", "category", "severity", "active",
        ]  # fmt: skip
        help_texts = {
            "negation_window": _("Tokens allowed between a negation term and the match it cancels."),
            "distance": _(
                "Tokens allowed between the two matches: a Chinese character is one token, a Latin word or a "
                "number is one token."
            ),
        }

    def clean_pii_kinds(self) -> list[str]:
        """In the detector's order; a rule of another kind keeps what it had (no new version for a hidden field)."""
        chosen = self.cleaned_data["pii_kinds"]
        if not chosen and self.cleaned_data.get("kind") != RuleKind.PII:
            return list(self.instance.pii_kinds) if self.instance.pk else all_pii_kinds()
        return [kind for kind in PiiKind.values if kind in chosen]


class ApplyForm(forms.Form):
    days = forms.IntegerField(
        label=_("days"), min_value=1, max_value=services.MAX_HISTORY_DAYS,
        widget=forms.NumberInput(attrs={"size": 4, "style": "width: 5em"}),
    )  # fmt: skip


class RuleVersionInline(admin.TabularInline):
    model = RuleVersion
    extra = 0
    can_delete = False
    fields = ("number", "kind", "terms", "near_terms", "distance", "scope", "negations", "negation_window",
              "pattern", "pii_kinds", "speaker", "category", "severity", "created_at", "created_by")  # fmt: skip
    readonly_fields = fields
    ordering = ("-number",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Rule)
class RuleAdmin(TenantScopedAdmin):
    form = RuleForm
    list_display = ("name", "name_en", "kind", "category", "severity", "speaker", "active", "version", "open_findings",
                    "backtest_link", "updated_at")  # fmt: skip
    list_filter = ("active", "kind", "category", "severity", "speaker")
    search_fields = ("name", "name_en", "description")
    list_select_related = ()
    inlines = [RuleVersionInline]
    actions = ["activate", "deactivate"]
    readonly_fields = ("version",)

    class Media:
        css = {"all": ["qa/qa.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Rule]:
        open_findings = Count("findings", filter=Q(findings__status=Finding.Status.OPEN))
        return super().get_queryset(request).annotate(open_count=open_findings)

    @admin.display(description=_("open findings"), ordering="open_count")
    def open_findings(self, obj: WithAnnotations[Rule, _OpenCount]) -> str:
        url = reverse("admin:qa_finding_changelist") + f"?rule__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.open_count)

    @admin.display(description=_("backtest"))
    def backtest_link(self, obj: Rule) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:qa_rule_backtest", args=[obj.pk]), _("Backtest"))

    def save_model(self, request: HttpRequest, obj: Rule, form: forms.ModelForm, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in RuleForm.Meta.fields if name in form.cleaned_data}
        if change:
            saved = services.update_rule(obj, by=actor(request), **fields)
        else:
            saved = services.create_rule(by=actor(request), **fields)
        obj.pk, obj.version = saved.pk, saved.version

    @admin.action(description=_("Activate the selected rules"), permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Rule]) -> None:
        changed = sum(services.set_rule_active(rule, True) for rule in queryset)
        self.message_user(request, ngettext("%d rule activated.", "%d rules activated.", changed) % changed)

    @admin.action(description=_("Deactivate the selected rules"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Rule]) -> None:
        changed = sum(services.set_rule_active(rule, False) for rule in queryset)
        self.message_user(request, ngettext("%d rule deactivated.", "%d rules deactivated.", changed) % changed)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/backtest/", view(self.backtest_view), name="qa_rule_backtest"),
            path("<int:pk>/apply/", view(self.apply_view), name="qa_rule_apply"),
            path("<int:pk>/runs/", view(self.runs_view), name="qa_rule_runs"),
            *super().get_urls(),
        ]

    def _rule(self, request: HttpRequest, pk: int) -> Rule:
        """The rule, for a supervisor (whoever may change rules); 403 for anyone else."""
        rule = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, rule):
            raise PermissionDenied
        return rule

    def backtest_view(self, request: HttpRequest, pk: int, apply_form: ApplyForm | None = None) -> HttpResponse:
        """What the rule (as it stands, active or not) would have flagged over the last N days, and its runs."""
        rule = self._rule(request, pk)
        page = selectors.backtest_page(rule, request.GET.get("days"), mask=not can_see_pii(request.user))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, **page,
                   "apply_form": apply_form or ApplyForm(initial={"days": page["days"]})}  # fmt: skip
        return TemplateResponse(request, "admin/qa/rule/backtest.html", context, status=400 if apply_form else 200)

    def apply_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """POST: apply the rule's current version to the stored transcripts of the last N days, in the background."""
        rule = self._rule(request, pk)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        form = ApplyForm(request.POST)
        if not form.is_valid():
            return self.backtest_view(request, pk, apply_form=form)
        days = form.cleaned_data["days"]
        run = services.apply_rule_to_history(rule, days=days, by=actor(request))
        self.message_user(request, _("Applying v%(version)s to the last %(days)s days in the background.")
                          % {"version": run.rule_version.number, "days": days})  # fmt: skip
        return HttpResponseRedirect(reverse("admin:qa_rule_backtest", args=[rule.pk]) + f"?days={days}#runs")

    def runs_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        """The rule's recent runs over history, for the backtest page's progress."""
        return JsonResponse({"runs": selectors.rule_runs_progress(self._rule(request, pk))})


@admin.register(RuleVersion)
class RuleVersionAdmin(TenantScopedAdmin):
    list_display = ("rule", "number", "kind", "category", "severity", "created_at", "created_by")
    list_filter = ("kind", "category")
    search_fields = ("rule__name", "rule__name_en")
    list_select_related = ("rule", "created_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
