"""Refunds in the admin: the list (opening on the manual reviews for those who decide them), "refund an
order" for agents (the add page), and a refund's review page with its facts and the approve / reject buttons.

Every decision goes through ``tickets.refunds``: ``request_refund`` on the add page, ``review_refund`` on the
review page and in the bulk approval.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin_actions import apply_to_each
from core.admin_filters import DefaultChoiceFilter
from core.paginator import CappedPaginator
from core.privacy import sees_pii
from core.tenancy import TenantScopedAdmin
from core.users import Actor, actor
from crm.models import RiskFlag
from tickets import admin_desk, admin_desk_buttons, refunds
from tickets.models import RefundRequest

REVIEW_PERMISSION = "tickets.change_refundrequest"


class DecisionFilter(DefaultChoiceFilter):
    """Those who review refunds open the list on what waits for them; everyone else sees every decision."""

    title = _("decision")
    parameter_name = "decision"

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        self.reviewer = request.user.has_perm(REVIEW_PERMISSION)
        super().__init__(request, *args, **kwargs)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("all", _("All decisions")), *RefundRequest.Decision.choices]

    def default_lookup(self) -> str:
        return RefundRequest.Decision.MANUAL if self.reviewer else "all"

    def queryset(self, request: HttpRequest, queryset: QuerySet[RefundRequest]) -> QuerySet[RefundRequest]:
        value = self.value() or self.default_lookup()
        if value not in RefundRequest.Decision.values:
            return queryset
        return queryset.filter(decision=value)


class RefundForm(forms.ModelForm):
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    requested_by: Actor | None = None  # the signed-in user (set by RefundRequestAdmin.get_form): keys are theirs
    amount = forms.DecimalField(label=_("amount (yuan)"), max_digits=12, decimal_places=2, min_value=Decimal("0.01"))

    class Meta:
        model = RefundRequest
        fields = ("order", "amount", "reason")

    def validate_unique(self) -> None:
        # The form never saves its instance (save_model calls refunds.request_refund), and a used key is
        # no error: a resubmitted form is the same request and answers with its first decision. clean()
        # refuses the key only for another order or amount.
        return None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if all(data.get(field) is not None for field in ("idempotency_key", "order", "amount")):
            try:
                existing = refunds.replay(
                    data["idempotency_key"], data["order"], data["amount"], requested_by=self.requested_by
                )
            except refunds.KeyReused:
                raise ValidationError(_("This form was already used for another refund; reload the page.")) from None
            if existing is None and admin_desk.fully_refunded(data["order"]):
                raise ValidationError(_("This order is fully refunded: there is nothing left to refund."))
        return data


class ReviewForm(forms.Form):
    """The review page's buttons: approve, or reject with the reason the consumer will be told."""

    verdict = forms.ChoiceField(choices=[("approve", "approve"), ("reject", "reject")])
    note = forms.CharField(required=False, max_length=refunds.NOTE_MAX)


@admin.register(RefundRequest)
class RefundRequestAdmin(TenantScopedAdmin):
    """Refunds: the manual review queue, and "refund an order" for agents (the add page)."""

    list_display = (
        "number", "order", "consumer_name", "merchant", "amount", "decision_badge", "why", "created", "decider",
    )  # fmt: skip
    list_display_links = ("number",)
    list_filter = (DecisionFilter,)
    search_fields = ("=order__order_no", "=consumer__external_id")
    list_select_related = ("order", "consumer", "merchant", "decided_by")
    autocomplete_fields = ("order",)
    show_full_result_count = False
    paginator = CappedPaginator
    actions = ["approve"]
    form = RefundForm

    class Media:
        css = {"all": ["tickets/desk.css"]}

    @admin.display(description=_("#"), ordering="id")
    def number(self, obj: RefundRequest) -> str:
        return f"#{obj.pk}"

    @admin.display(description=_("decision"), ordering="decision")
    def decision_badge(self, obj: RefundRequest) -> str:
        outcome = admin_desk.REFUND_OUTCOME.get(obj.decision, "")
        return format_html('<span class="decision {}">{}</span>', outcome, obj.get_decision_display())

    @admin.display(description=_("why"))
    def why(self, obj: RefundRequest) -> str:
        # One line in the list (the whole text in the tooltip and on the review page): rows stay one line high.
        text = " ".join(refunds.explain(obj.reasons))
        return format_html('<span class="why" title="{}">{}</span>', text, text)

    @admin.display(description=_("consumer"), ordering="consumer__display_name")
    def consumer_name(self, obj: RefundRequest) -> str:
        # The name, the external id in the tooltip: the list stays within the window (as the queue's).
        return format_html('<span title="{}">{}</span>', obj.consumer.external_id, obj.consumer.display_name)

    @admin.display(description=_("created at"), ordering="created_at")
    def created(self, obj: RefundRequest) -> str:
        return admin_desk.narrow_time(obj.created_at)

    @admin.display(description=_("decided by"), ordering="decided_by__first_name")
    def decider(self, obj: RefundRequest) -> str:
        return refunds.person(obj.decided_by) if obj.decided_by else "—"

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form: Any = super().get_form(request, obj, change, **kwargs)
        form.base_fields["idempotency_key"].initial = uuid.uuid4().hex  # a resubmitted form is one request
        form.requested_by = request.user  # a class of this request's own (get_form makes one per call)
        return form

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Decisions are final except through the review page and the bulk approval; no edit form.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: RefundRequest, form: Any, change: bool) -> None:
        decided = refunds.request_refund(
            form.cleaned_data["order"], form.cleaned_data["amount"], form.cleaned_data["reason"],
            key=form.cleaned_data["idempotency_key"], requested_by=actor(request),
        )  # fmt: skip
        obj.pk = decided.pk

    def response_add(self, request: HttpRequest, obj: RefundRequest, post_url_continue: str | None = None) -> Any:
        """One message that says the decision (not Django's "added"), and the refund's own page."""
        decided = RefundRequest.objects.get(pk=obj.pk)
        self.message_user(request, admin_desk_buttons.refund_said(decided), admin_desk.refund_level(decided))
        return HttpResponseRedirect(reverse("admin:tickets_refundrequest_change", args=[decided.pk]))

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None  # the refund's own record is the log

    # --- the review page ---------------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        review = self.admin_site.admin_view(self.review_view)
        return [path("<int:pk>/review/", review, name="tickets_refundrequest_review"), *super().get_urls()]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        """A refund's page: the request, the consumer's standing, the policy's reasons and the verdict buttons."""
        refund = self._get_visible(request, object_id)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": str(refund),
                   **review_context(request, refund)}  # fmt: skip
        return TemplateResponse(request, "admin/tickets/refundrequest/review.html", context)

    def review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        refund = self._get_visible(request, pk)
        form = ReviewForm(request.POST)
        if request.method != "POST" or not request.user.has_perm(REVIEW_PERMISSION) or not form.is_valid():
            raise PermissionDenied
        try:
            decided = refunds.review_refund(refund, approve=form.cleaned_data["verdict"] == "approve",
                                            by=actor(request), note=form.cleaned_data["note"])  # fmt: skip
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)
        else:
            self.message_user(request, admin_desk_buttons.refund_said(decided), admin_desk.refund_level(decided))
        return HttpResponseRedirect(reverse("admin:tickets_refundrequest_change", args=[refund.pk]))

    def _get_visible(self, request: HttpRequest, object_id: str | int) -> RefundRequest:
        if not str(object_id).isascii() or not str(object_id).isdigit() or len(str(object_id)) > 18:
            raise Http404
        related = ("order", "consumer__tier", "merchant", "ticket", "decided_by", "requested_by")
        refund = get_object_or_404(self.get_queryset(request).select_related(*related), pk=object_id)
        if not self.has_view_permission(request, refund):
            raise PermissionDenied
        return refund

    # --- the bulk approval ----------------------------------------------------------------------------
    # There is no bulk rejection: a rejection needs its reason, given on the refund's review page.

    @admin.action(description=_("Approve the selected refunds"), permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[RefundRequest]) -> None:
        apply_to_each(
            self,
            request,
            queryset,
            lambda refund: refunds.review_refund(refund, approve=True, by=actor(request)),
            lambda n: ngettext("%d refund decided.", "%d refunds decided.", n) % n,
        )


def review_context(request: HttpRequest, refund: RefundRequest) -> dict[str, Any]:
    """What a reviewer weighs: the consumer (numbers masked unless they may see them), tier, score, live risk
    flags, what is left on the order, and the policy's reasons."""
    user = request.user
    consumer = refund.consumer
    flags = RiskFlag.objects.filter(consumer=consumer, status__in=["open", "confirmed"]).order_by("-detected_at")
    return {
        "refund": refund,
        "consumer": consumer,
        "phone": consumer.phone if sees_pii(user) else consumer.masked_phone,
        "flags": list(flags) if user.has_perm("crm.view_riskflag") else None,
        "reasons": refunds.explain(refund.reasons),
        "outcome": admin_desk.REFUND_OUTCOME.get(refund.decision, ""),
        "left": refunds.left_to_refund(refund.order),
        "decided_by": refunds.person(refund.decided_by) if refund.decided_by else None,
        "requested_by": refunds.person(refund.requested_by) if refund.requested_by else None,
        "can_review": refund.decision == RefundRequest.Decision.MANUAL and user.has_perm(REVIEW_PERMISSION),
        "note_max": refunds.NOTE_MAX,
    }
