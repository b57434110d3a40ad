from __future__ import annotations

import re
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin_actions import apply_to_each
from core.paginator import CappedPaginator
from core.tenancy import TenantScopedAdmin
from core.text import mask_pii
from core.users import actor
from crm import admin_patterns  # noqa: F401  (registers the risk patterns' admin)
from crm.indicators import BASE_SCORE, INDICATORS
from crm.models import Consumer, CreditRating, CreditTier, Order, Review, RiskFlag
from crm.services import moderate_reviews, review_risk_flag

PII_FIELDS = {"phone", "id_number"}
MASKED_PHONE = re.compile(r"^(1\d{2})\*+(\d{4})$")
LABELS = {i.key: i.label for i in INDICATORS}
STORY_ROWS = 20  # orders and reviews shown on a consumer's page; the rest are a link away


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


def _local(moment: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return timezone.localtime(moment).strftime(fmt)


def can_see_pii(request: HttpRequest) -> bool:
    return request.user.has_perm("crm.view_consumer_pii")


# Masked display -> whole value, for holders of crm.view_consumer_pii. Chosen per request by swapping
# field names (never by state on the shared ModelAdmin instance, which serves every thread).
PII_SWAPS = {"phone_display": "phone", "id_number_display": "id_number", "recent_reviews": "recent_reviews_pii",
             "text_display": "text"}  # fmt: skip


def _swap_pii(fields: Any, request: HttpRequest) -> tuple[str, ...]:
    if not can_see_pii(request):
        return tuple(fields)
    return tuple(PII_SWAPS.get(f, f) for f in fields)


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


@admin.register(Consumer)
class ConsumerAdmin(TenantScopedAdmin):
    list_display = ("external_id", "display_name", "phone_display", "tier", "credit_score", "registered_at")
    list_filter = ("tier",)
    search_fields = ("=external_id", "display_name")
    search_help_text = _("External id, name, or a masked phone such as 138****8000.")
    list_select_related = ("tier",)
    show_full_result_count = False
    paginator = CappedPaginator
    readonly_fields = (
        "phone_display", "id_number_display", "tier", "credit_score", "rating_breakdown", "recent_orders",
        "recent_reviews", "recent_reviews_pii", "flags",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("external_id", "display_name", "phone_display", "id_number_display", "registered_at")}),
        (_("Credit"), {"fields": ("tier", "credit_score", "rating_breakdown")}),
        (_("Risk flags"), {"fields": ("flags",)}),
        (_("Orders"), {"fields": ("recent_orders",)}),
        (_("Reviews"), {"fields": ("recent_reviews",)}),
    )

    # Adding (supervisors, crm.add_consumer): the identity the platform gave, typed once; nothing derived yet.
    add_fieldsets = ((None, {"fields": ("external_id", "display_name", "phone", "id_number", "registered_at")}),)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        # The platform owns identities: nobody edits them here once the consumer exists.
        return (*self.readonly_fields, "external_id", "registered_at", "id_number")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        # A masked phone finds the consumer without anyone typing (or seeing) the whole number.
        masked = MASKED_PHONE.match(search_term.strip())
        if masked:
            return queryset.filter(phone__startswith=masked[1], phone__endswith=masked[2]), False
        return super().get_search_results(request, queryset, search_term)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # A filter on the phone (?phone__startswith=139...) would reveal it digit by digit.
        if lookup.split("__")[0] in PII_FIELDS and (request is None or not can_see_pii(request)):
            return False
        return super().lookup_allowed(lookup, value, request)

    # Holders of crm.view_consumer_pii see the stored fields; everyone else the masked displays.
    def get_list_display(self, request: HttpRequest) -> Any:
        return _swap_pii(self.list_display, request)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        return [(name, {**opts, "fields": _swap_pii(opts["fields"], request)}) for name, opts in self.fieldsets]

    @admin.display(description=_("phone"))
    def phone_display(self, obj: Consumer) -> str:
        return obj.masked_phone

    @admin.display(description=_("ID number"))
    def id_number_display(self, obj: Consumer) -> str:
        return obj.masked_id_number

    @admin.display(description=_("why this score"))
    def rating_breakdown(self, obj: Consumer) -> Any:
        rating = CreditRating.objects.filter(consumer=obj).first()
        if rating is None:
            return _("Not rated yet: ratings are computed nightly.")
        rows = sorted(rating.contributions.items(), key=lambda kv: -abs(kv[1][1]))
        body = format_html_join(
            "",
            '<tr><td>{}</td><td class="num">{}</td><td class="num {}">{}</td></tr>',
            (
                (
                    LABELS.get(key, key),
                    "—" if raw is None else raw,
                    "pos" if points > 0 else "neg",
                    f"{points:+.1f}",
                )
                for key, (raw, points) in rows
                if points
            ),
        )
        return format_html(
            '<p>{}</p><table class="rating-breakdown"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            _("Score %(score)s = base %(base)s + the points below (computed %(when)s).")
            % {"score": rating.score, "base": BASE_SCORE, "when": _local(rating.computed_at)},
            _("indicator"),
            _("value"),
            _("points"),
            body,
        )

    @admin.display(description=_("latest orders"))
    def recent_orders(self, obj: Consumer) -> SafeString:
        orders = obj.orders.select_related("merchant").order_by("-placed_at")[:STORY_ROWS]
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td class="num">{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:crm_order_change", args=[o.pk]),
                    o.order_no,
                    _local(o.placed_at, "%Y-%m-%d"),
                    o.merchant.name,
                    o.amount,
                    o.get_status_display(),
                    o.get_dispute_display() if o.dispute else "",
                )
                for o in orders
            ),
        )
        link = reverse("admin:crm_order_changelist") + f"?consumer__id__exact={obj.pk}"
        return format_html('<table class="story">{}</table><p><a href="{}">{}</a></p>', rows, link, _("All orders"))

    @admin.display(description=_("latest reviews"))
    def recent_reviews(self, obj: Consumer) -> SafeString:
        return self._reviews(obj, mask_pii)

    @admin.display(description=_("latest reviews"))
    def recent_reviews_pii(self, obj: Consumer) -> SafeString:
        return self._reviews(obj, lambda text: text)

    def _reviews(self, obj: Consumer, show: Any) -> SafeString:
        reviews = obj.reviews.select_related("merchant").order_by("-created_at")[:STORY_ROWS]
        rows = format_html_join(
            "",
            '<tr class="{}"><td>{}</td><td>{}</td><td>{}/{}/{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    "negative" if r.is_negative else "",
                    _local(r.created_at, "%Y-%m-%d"),
                    r.merchant.name,
                    r.item_stars,
                    r.service_stars,
                    r.logistics_stars,
                    show(r.text),
                    r.get_moderation_display(),
                )
                for r in reviews
            ),
        )
        link = reverse("admin:crm_review_changelist") + f"?consumer__id__exact={obj.pk}"
        return format_html('<table class="story">{}</table><p><a href="{}">{}</a></p>', rows, link, _("All reviews"))

    @admin.display(description=_("risk flags"))
    def flags(self, obj: Consumer) -> Any:
        flags = list(obj.risk_flags.order_by("-detected_at"))
        if not flags:
            return _("None")
        return format_html_join(
            "",
            '<p><a href="{}">{}</a> — {} ({})</p>',
            (
                (
                    reverse("admin:crm_riskflag_change", args=[f.pk]),
                    f.get_kind_display(),
                    f.get_status_display(),
                    _local(f.detected_at, "%Y-%m-%d"),
                )
                for f in flags
            ),
        )

    class Media:
        css = {"all": ["crm/admin.css"]}


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
        return _swap_pii(self.list_display, request)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return _swap_pii(self.fields, request)

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
    readonly_fields = ("consumer", "kind", "status", "evidence_display", "detected_at", "reviewed_by", "reviewed_at")
    fields = ("consumer", "kind", "status", "evidence_display", "detected_at", "reviewed_by", "reviewed_at", "note")
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
                (EVIDENCE_LABELS.get(k, k), mask_pii(str(v)) if k in ("text", "phrases") else v)
                for k, v in obj.evidence.items()
            ),
        )
        return format_html('<table class="evidence">{}</table>', items)

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
