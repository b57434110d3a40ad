from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from core.admin_actions import apply_to_each
from core.paginator import CappedPaginator
from core.tenancy import TenantScopedAdmin
from core.text import mask_pii
from core.users import actor
from crm import admin_patterns  # noqa: F401  (registers the risk patterns' admin)
from crm.admin_consumers import local_time, swap_pii
from crm.models import CreditRating, CreditTier, Order, Review, RiskFlag
from crm.services import moderate_reviews, review_risk_flag

EVIDENCE_LABELS = {
    "reviews": _("reviews"),
    "shops": _("shops"),
    "window_start": _("window starts"),
    "window_days": _("window (days)"),
    "review_ids": _("review ids"),
    "orders": _("orders"),
    "order_ids": _("order ids"),
    "within_days": _("within (days)"),
    "phrases": _("phrases"),
    "copies": _("copies"),
    "text": _("text"),
    "score": _("score"),
    "patterns": _("patterns"),
}


@admin.register(CreditTier)
class CreditTierAdmin(TenantScopedAdmin):
    list_display = (
        "name", "min_score", "instant_refund_limit", "priority_routing", "instant_returns", "return_refund_at_once",
        "instant_disputes", "description",
    )  # fmt: skip
    list_filter = ("priority_routing", "instant_returns", "instant_disputes")
    search_fields = ("name",)
    list_select_related = ()
    ordering = ("-min_score",)


@admin.register(Order)
class OrderAdmin(TenantScopedAdmin):
    list_display = (
        "order_no", "consumer", "merchant", "item_title", "amount", "status", "refunded_amount", "dispute", "placed_at",
    )  # fmt: skip
    list_filter = ("status", "dispute", "returned")
    search_fields = ("=order_no",)
    list_select_related = ("consumer", "merchant")
    autocomplete_fields = ("consumer", "merchant")
    show_full_result_count = False
    paginator = CappedPaginator

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Orders come from the platform; refunds and disputes change them through crm's services only.
        return [field.name for field in Order._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # every field is read-only: orders come in through the import (docs/import-formats.md)


@admin.register(Review)
class ReviewAdmin(TenantScopedAdmin):
    list_display = ("order", "consumer", "merchant", "stars", "is_negative", "moderation", "text_display", "created_at")
    list_filter = ("is_negative", "moderation")
    search_fields = ("=order__order_no",)
    list_select_related = ("order", "consumer", "merchant")
    raw_id_fields = ("order", "consumer", "merchant")
    show_full_result_count = False
    paginator = CappedPaginator
    actions = ["publish", "hold", "remove"]
    fields = ("order", "consumer", "merchant", "stars", "text_display", "is_negative", "moderation", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*self.fields, "text")  # moderation changes through the actions, which call crm's service

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # reviews come from consumers (record_review) or the import

    def get_list_display(self, request: HttpRequest) -> Any:
        return swap_pii(self.list_display, request)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return swap_pii(self.fields, request)

    @admin.display(description=_("text"))
    def text_display(self, obj: Review) -> str:
        # Consumers type phone and ID numbers into reviews; masked for roles that do not need them.
        return mask_pii(obj.text)

    @admin.display(description=_("stars (item/service/logistics)"))
    def stars(self, obj: Review) -> str:
        return f"{obj.item_stars}/{obj.service_stars}/{obj.logistics_stars}"

    def _moderate(self, request: HttpRequest, queryset: QuerySet[Review], state: str) -> None:
        changed = moderate_reviews(queryset, state)
        self.message_user(request, ngettext("%d review updated.", "%d reviews updated.", changed) % changed)

    @admin.action(description=_("Publish the selected reviews"), permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        self._moderate(request, queryset, Review.Moderation.PUBLISHED)

    @admin.action(description=_("Hold the selected reviews for moderation"), permissions=["change"])
    def hold(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        self._moderate(request, queryset, Review.Moderation.HELD)

    @admin.action(description=_("Remove the selected reviews"), permissions=["change"])
    def remove(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        self._moderate(request, queryset, Review.Moderation.REMOVED)


@admin.register(RiskFlag)
class RiskFlagAdmin(TenantScopedAdmin):
    list_display = ("consumer", "kind", "status", "detected_at", "reviewed_by", "reviewed_at")
    list_filter = ("status", "kind")
    search_fields = ("consumer__external_id", "consumer__display_name")
    list_select_related = ("consumer", "reviewed_by")
    readonly_fields = (
        "consumer", "kind", "status", "evidence_display", "flagged_reviews", "detected_at", "reviewed_by",
        "reviewed_at", "verdict",
    )  # fmt: skip
    fields = (
        "consumer", "kind", "status", "evidence_display", "flagged_reviews", "detected_at", "reviewed_by",
        "reviewed_at", "note", "verdict",
    )  # fmt: skip
    actions = ["confirm", "clear"]
    ordering = ("status", "-detected_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # flags are raised by the rules, not by hand

    @admin.display(description=_("evidence"))
    def evidence_display(self, obj: RiskFlag) -> SafeString:
        items = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td></tr>",
            (
                (EVIDENCE_LABELS.get(k, k), _evidence_value(k, v))
                for k, v in obj.evidence.items()
                if k not in ("review_ids", "order_ids")  # the reviews themselves are listed below
            ),
        )
        return format_html('<table class="evidence">{}</table>', items)

    @admin.display(description=_("the reviews behind it"))
    def flagged_reviews(self, obj: RiskFlag) -> SafeString:
        ids = [i for i in obj.evidence.get("review_ids") or [] if isinstance(i, int)]
        reviews = Review.objects.filter(pk__in=ids).select_related("order", "merchant").order_by("-created_at")
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td><a href="{}">{}</a></td><td>{}</td><td>{}/{}/{}</td><td>{}</td></tr>',
            (
                (
                    local_time(r.created_at),
                    reverse("admin:crm_order_change", args=[r.order_id]),
                    r.order.order_no,
                    r.merchant.name,
                    r.item_stars,
                    r.service_stars,
                    r.logistics_stars,
                    mask_pii(r.text),
                )
                for r in reviews
            ),
        )
        return format_html('<table class="story">{}</table>', rows) if rows else format_html("{}", _("None"))

    @admin.display(description=_("verdict"))
    def verdict(self, obj: RiskFlag) -> SafeString:
        # Buttons of the page's own form posted to the review view; the note typed above goes with them.
        url = reverse("admin:crm_riskflag_review", args=[obj.pk])
        buttons = format_html_join(
            " ",
            '<button type="submit" class="button {}" formaction="{}" formmethod="post" name="status" value="{}">'
            "{}</button>",
            ((status, url, status, label) for status, label in _verdicts(obj)),
        )
        return buttons or format_html('<span class="quiet">{}</span>', _("Cleared: nothing left to decide."))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if self.has_change_permission(request, obj):
            return self.readonly_fields
        return tuple(f for f in self.readonly_fields if f != "verdict")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if self.has_change_permission(request, obj):
            return self.fields
        return tuple(f for f in self.fields if f != "verdict")

    def get_urls(self) -> list[Any]:
        review = self.admin_site.admin_view(require_POST(self.review_view))
        return [path("<int:pk>/review/", review, name="crm_riskflag_review"), *super().get_urls()]

    def review_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        flag = self.get_object(request, str(pk))
        if flag is None:
            raise Http404
        if not self.has_change_permission(request, flag):
            raise PermissionDenied
        try:
            review_risk_flag(flag, status=request.POST.get("status", ""), reviewer=actor(request),
                             note=request.POST.get("note", "").replace("\x00", ""))  # fmt: skip
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
        else:
            self.message_user(request, _("Flag updated."), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:crm_riskflag_change", args=[pk]))

    def _review(self, request: HttpRequest, queryset: QuerySet[RiskFlag], status: str) -> None:
        apply_to_each(
            self,
            request,
            queryset.select_related("consumer"),
            lambda flag: review_risk_flag(flag, status=status, reviewer=actor(request)),
            lambda n: ngettext("%d flag updated.", "%d flags updated.", n) % n,
        )

    @admin.action(description=_("Confirm the selected flags"), permissions=["change"])
    def confirm(self, request: HttpRequest, queryset: QuerySet[RiskFlag]) -> None:
        self._review(request, queryset, RiskFlag.Status.CONFIRMED)

    @admin.action(description=_("Clear the selected flags"), permissions=["change"])
    def clear(self, request: HttpRequest, queryset: QuerySet[RiskFlag]) -> None:
        self._review(request, queryset, RiskFlag.Status.CLEARED)


def _evidence_value(key: str, value: Any) -> Any:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    if key in ("text", "phrases"):
        return mask_pii(str(value))
    if key == "window_start" and isinstance(value, str):
        moment = parse_datetime(value)
        return local_time(moment) if moment is not None else value
    return value


def _verdicts(flag: RiskFlag) -> list[tuple[str, Any]]:
    if flag.status == RiskFlag.Status.OPEN:
        return [(RiskFlag.Status.CONFIRMED, _("Confirm")), (RiskFlag.Status.CLEARED, _("Clear"))]
    if flag.status == RiskFlag.Status.CONFIRMED:
        return [(RiskFlag.Status.CLEARED, _("Clear"))]
    return []


@admin.register(CreditRating)
class CreditRatingAdmin(TenantScopedAdmin):
    list_display = ("consumer", "score", "tier", "computed_at")
    list_filter = ("tier",)
    search_fields = ("=consumer__external_id",)
    list_select_related = ("consumer", "tier")
    raw_id_fields = ("consumer",)
    show_full_result_count = False
    paginator = CappedPaginator

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # written by the nightly run only
