"""The consumer's page: who they are (phone and ID masked, revealed one logged look at a time), their credit, their
risk flags, and their story: orders, reviews, tickets, chats and calls, latest first."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core.paginator import CappedPaginator
from core.privacy import sees_pii
from core.tenancy import TenantScopedAdmin
from core.text import mask_pii
from core.users import actor
from crm.indicators import BASE_SCORE, INDICATORS
from crm.models import Consumer, CreditRating, PiiReveal
from crm.services import reveal_consumer_pii

PII_FIELDS = {"phone", "id_number"}
MASKED_PHONE = re.compile(r"^(1\d{2})\*+(\d{4})$")
LABELS = {i.key: i.label for i in INDICATORS}
STORY_ROWS = 20  # orders and reviews shown on a consumer's page; the rest are a link away


def local_time(moment: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return timezone.localtime(moment).strftime(fmt)


def can_see_pii(request: HttpRequest) -> bool:
    return request.user.has_perm("crm.view_consumer_pii")


# Masked display -> whole value, for holders of crm.view_consumer_pii. Chosen per request by swapping
# field names (never by state on the shared ModelAdmin instance, which serves every thread).
# The phone and ID number stay masked for them too, with a reveal button that logs each look (PiiReveal).
PII_SWAPS = {"phone_display": "phone_reveal", "id_number_display": "id_number_reveal",
             "recent_reviews": "recent_reviews_pii", "text_display": "text"}  # fmt: skip


def swap_pii(fields: Any, request: HttpRequest) -> tuple[str, ...]:
    if not can_see_pii(request):
        return tuple(fields)
    return tuple(PII_SWAPS.get(f, f) for f in fields)


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
        "recent_reviews", "recent_reviews_pii", "flags", "phone_reveal", "id_number_reveal", "recent_tickets",
        "recent_chats", "recent_calls",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("external_id", "display_name", "phone_display", "id_number_display", "registered_at")}),
        (_("Credit"), {"fields": ("tier", "credit_score", "rating_breakdown")}),
        (_("Risk flags"), {"fields": ("flags",)}),
        (_("Tickets"), {"fields": ("recent_tickets",)}),
        (_("Chats"), {"fields": ("recent_chats",)}),
        (_("Calls"), {"fields": ("recent_calls",)}),
        (_("Orders"), {"fields": ("recent_orders",)}),
        (_("Reviews"), {"fields": ("recent_reviews",)}),
    )

    # Adding (supervisors, crm.add_consumer): the identity the platform gave, typed once; nothing derived yet.
    add_fieldsets = ((None, {"fields": ("external_id", "display_name", "phone", "id_number", "registered_at")}),)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        # The platform owns identities: nobody edits them here once the consumer exists.
        return (*self.readonly_fields, "external_id", "registered_at", "phone", "id_number")

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

    # Holders of crm.view_consumer_pii get the reveal buttons and the reviews whole; everyone else the masked displays.
    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        return [(name, {**opts, "fields": swap_pii(opts["fields"], request)}) for name, opts in self.fieldsets]

    @admin.display(description=_("phone"))
    def phone_display(self, obj: Consumer) -> str:
        return obj.masked_phone

    @admin.display(description=_("ID number"))
    def id_number_display(self, obj: Consumer) -> str:
        return obj.masked_id_number

    @admin.display(description=_("phone"))
    def phone_reveal(self, obj: Consumer) -> SafeString:
        return _revealable(obj, "phone", obj.masked_phone)

    @admin.display(description=_("ID number"))
    def id_number_reveal(self, obj: Consumer) -> SafeString:
        return _revealable(obj, "id_number", obj.masked_id_number)

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
            % {"score": rating.score, "base": BASE_SCORE, "when": local_time(rating.computed_at)},
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
                    local_time(o.placed_at, "%Y-%m-%d"),
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
                    local_time(r.created_at, "%Y-%m-%d"),
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
                    local_time(f.detected_at, "%Y-%m-%d"),
                )
                for f in flags
            ),
        )

    @admin.display(description=_("latest tickets"))
    def recent_tickets(self, obj: Consumer) -> SafeString:
        tickets = obj.tickets.select_related("department").order_by("-created_at")[:STORY_ROWS]
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">#{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:tickets_ticket_change", args=[t.pk]),
                    t.pk,
                    local_time(t.created_at),
                    mask_pii(t.subject),
                    t.get_kind_display(),
                    t.get_status_display(),
                )
                for t in tickets
            ),
        )
        link = reverse("admin:tickets_ticket_changelist") + f"?queue=all&consumer__id__exact={obj.pk}"
        return _story(rows, link, _("All tickets"))

    @admin.display(description=_("latest chats"))
    def recent_chats(self, obj: Consumer) -> SafeString:
        # A chat always has its ticket (ChatSession.ticket): the consumer's chats are their tickets' chats.
        tickets = obj.tickets.filter(chat__isnull=False).select_related("chat", "chat__agent")
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:chat_chatsession_change", args=[t.chat.pk]),
                    local_time(t.chat.created_at),
                    t.chat.get_state_display(),
                    t.chat.get_language_display(),
                    _person(t.chat.agent),
                )
                for t in tickets.order_by("-chat__created_at")[:STORY_ROWS]
            ),
        )
        return _story(
            rows, reverse("admin:chat_chatsession_changelist") + f"?consumer__id__exact={obj.pk}", _("All chats")
        )

    @admin.display(description=_("latest calls"))
    def recent_calls(self, obj: Consumer) -> SafeString:
        calls = obj.recordings.select_related("agent").order_by("-called_at")[:STORY_ROWS]
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td class="num">{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:qa_recording_change", args=[r.pk]),
                    local_time(r.called_at),
                    _person(r.agent),
                    _duration(r.duration_seconds),
                    r.get_status_display(),
                )
                for r in calls
            ),
        )
        return _story(rows, reverse("admin:qa_recording_changelist") + f"?consumer__id__exact={obj.pk}", _("All calls"))

    def get_urls(self) -> list[Any]:
        reveal = self.admin_site.admin_view(require_POST(self.reveal_view))
        return [path("<int:pk>/reveal/", reveal, name="crm_consumer_reveal"), *super().get_urls()]

    def reveal_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        consumer = self.get_object(request, str(pk))
        if consumer is None or not self.has_view_permission(request, consumer):
            raise Http404
        field = request.POST.get("field", "")
        try:
            value = reveal_consumer_pii(consumer, field, actor(request))
        except ValidationError as error:
            return HttpResponseBadRequest(" ".join(error.messages))
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"field": field, "value": value})
        context = {**self.admin_site.each_context(request), "consumer": consumer, "value": value,
                   "label": PiiReveal.Field(field).label, "opts": self.opts, "title": str(consumer)}  # fmt: skip
        return TemplateResponse(request, "admin/crm/consumer/reveal.html", context)

    class Media:
        css = {"all": ["crm/admin.css"]}
        js = ["crm/reveal.js"]


def _revealable(obj: Consumer, field: str, masked: str) -> SafeString:
    # A button of the page's own form, posted to the reveal view (works without JavaScript; reveal.js fetches it).
    return format_html(
        '<span class="pii" data-field="{}">{}</span> <button type="submit" class="button reveal" formaction="{}" '
        'formmethod="post" formnovalidate name="field" value="{}">{}</button>',
        field, masked, reverse("admin:crm_consumer_reveal", args=[obj.pk]), field, _("Reveal"),
    )  # fmt: skip


def _story(rows: SafeString, link: str, label: Any) -> SafeString:
    if not rows:
        return format_html('<p class="quiet">{}</p>', _("None"))
    return format_html('<table class="story">{}</table><p><a href="{}">{}</a></p>', rows, link, label)


def _person(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "—"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


@admin.register(PiiReveal)
class PiiRevealAdmin(TenantScopedAdmin):
    """Who looked at which consumer's whole phone or ID number, and when: for those who may look themselves."""

    list_display = ("revealed_at", "consumer", "field", "revealed_by")
    list_filter = ("field",)
    search_fields = ("=consumer__external_id", "revealed_by__username")
    list_select_related = ("consumer", "revealed_by")
    raw_id_fields = ("consumer",)
    date_hierarchy = "revealed_at"
    show_full_result_count = False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return sees_pii(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return sees_pii(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # written by the reveal button only

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
