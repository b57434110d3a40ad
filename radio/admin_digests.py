"""The radio's channels and their subscribers, the digests, the items nobody acknowledged, and the business
teams' replies (imported by radio/admin.py, which holds the curators' screening)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from core.admin_filters import DefaultChoiceFilter
from core.paginator import CappedPaginator
from core.roles import BUSINESS, SUPERVISOR
from core.tenancy import TenantScopedAdmin, TenantScopedInline, is_merchant_staff
from core.users import actor
from radio import selectors, services
from radio.models import Channel, Digest, DigestItem, Reply, Subscription


class SubscriptionInline(TenantScopedInline):
    model = Subscription
    extra = 1
    fields = ("user", "created_at")
    readonly_fields = ("created_at",)
    verbose_name = _("subscriber")
    verbose_name_plural = _("subscribers")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user":
            # Business users and curators: a short list, so a select box rather than a search.
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(Q(groups__name__in=[BUSINESS, SUPERVISOR]) | Q(is_superuser=True), is_active=True)
                .distinct()
                .order_by("username")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Channel)
class ChannelAdmin(TenantScopedAdmin):
    list_display = ("name", "code", "department", "active", "subscriber_count", "page_link")
    list_filter = ("active", "department")
    search_fields = ("name", "code")
    list_select_related = ("department",)
    prepopulated_fields = {"code": ("name",)}
    inlines = [SubscriptionInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Channel]:
        return super().get_queryset(request).annotate(subscriber_total=Count("subscriptions"))

    @admin.display(description=_("subscribers"), ordering="subscriber_total")
    def subscriber_count(self, obj: Any) -> int:
        return int(obj.subscriber_total)

    @admin.display(description=_("digest"))
    def page_link(self, obj: Channel) -> str:
        day = timezone.localdate().isoformat()
        return format_html('<a href="{}">{}</a>', reverse("radio:channel", args=[day, obj.code]), _("Today"))


class ChannelVisibleAdmin(TenantScopedAdmin):
    """Digests and their items: curators see every channel, business users the channels they follow."""

    channel_path = "channel"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if selectors.reads_every_channel(actor(request)):
            return queryset
        return queryset.filter(**{f"{self.channel_path}__in": selectors.readable_channels(actor(request))})

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Digest)
class DigestAdmin(ChannelVisibleAdmin):
    list_display = ("day", "channel", "items_count", "customers", "acknowledged", "audio_status", "page_link")
    list_filter = ("channel", "audio_status")
    date_hierarchy = "day"
    search_fields = ("channel__name",)
    list_select_related = ("channel",)
    ordering = ("-day", "channel__name")
    actions = ["record_again"]
    fields = readonly_fields = ("channel", "day", "built_at", "covers_until", "items_count", "customers", "figures",
                                "recording", "audio_status", "audio_error", "audio_seconds")  # fmt: skip

    def get_queryset(self, request: HttpRequest) -> QuerySet[Digest]:
        return (
            super().get_queryset(request).annotate(acked=Count("items", filter=Q(items__acknowledged_at__isnull=False)))
        )

    @admin.display(description=_("acknowledged"), ordering="acked")
    def acknowledged(self, obj: Any) -> str:
        return f"{obj.acked} / {obj.items_count}"

    @admin.display(description=_("page"))
    def page_link(self, obj: Digest) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("radio:channel", args=[obj.day.isoformat(), obj.channel.code]), _("Open")
        )

    @admin.display(description=_("audio"))
    def recording(self, obj: Digest) -> str:
        # Through the radio's own view, which checks the channel; never the file's public media URL.
        if obj.audio_status != Digest.Audio.READY or not obj.audio:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("radio:audio", args=[obj.pk]), _("Listen"))

    @admin.action(description=_("Record the audio again"), permissions=["change"])
    def record_again(self, request: HttpRequest, queryset: QuerySet[Digest]) -> None:
        n = services.requeue_audio(queryset)
        self.message_user(request, ngettext("%d digest queued.", "%d digests queued.", n) % n)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A shop's staff read their shop's digest on /radio/ (radio.selectors); the admin's list is the platform's.
        return not is_merchant_staff(actor(request)) and super().has_view_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The action needs the model's change permission; the rows themselves are read-only.
        return obj is None and request.user.has_perm("radio.change_digest")


class AcknowledgementFilter(DefaultChoiceFilter):
    """Opens on the items nobody in the channel ever acknowledged, from digests before today."""

    title = _("acknowledgement")
    parameter_name = "ack"
    default_title = _("Never acknowledged")

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("today", _("Today's, not yet acknowledged")), ("yes", _("Acknowledged")), ("all", _("All"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[DigestItem]) -> QuerySet[DigestItem]:
        today = timezone.localdate()
        value = self.value()
        if value == "all":
            return queryset
        if value == "yes":
            return queryset.filter(acknowledged_at__isnull=False)
        if value == "today":
            return queryset.filter(acknowledged_at__isnull=True, digest__day=today)
        return queryset.filter(acknowledged_at__isnull=True, digest__day__lt=today)


@admin.register(DigestItem)
class DigestItemAdmin(ChannelVisibleAdmin):
    channel_path = "digest__channel"
    list_display = ("headline", "channel", "day", "customers", "severity", "source_kind", "nominated_by",
                    "acknowledged", "replies")  # fmt: skip
    list_filter = (AcknowledgementFilter, "digest__channel", "severity", "source_kind")
    search_fields = ("headline", "quote")
    list_select_related = ("digest__channel", "nomination__nominated_by", "acknowledged_by")
    ordering = ("-digest__day", "digest__channel__name", "position")
    show_full_result_count = False
    paginator = CappedPaginator
    readonly_fields = ("digest", "nomination", "position", "headline", "quote", "note", "customers", "severity",
                       "source_kind", "nominated_at", "acknowledged_at", "acknowledged_by")  # fmt: skip

    def get_queryset(self, request: HttpRequest) -> QuerySet[DigestItem]:
        return super().get_queryset(request).annotate(reply_total=Count("replies"))

    @admin.display(description=pgettext_lazy("radio", "channel"), ordering="digest__channel__name")
    def channel(self, obj: DigestItem) -> str:
        return obj.digest.channel.name

    @admin.display(description=_("day"), ordering="digest__day")
    def day(self, obj: DigestItem) -> Any:
        return obj.digest.day

    @admin.display(description=_("nominated by"))
    def nominated_by(self, obj: DigestItem) -> Any:
        return obj.nomination.nominated_by or "—"

    @admin.display(description=_("acknowledged"), ordering="acknowledged_at")
    def acknowledged(self, obj: DigestItem) -> str:
        if obj.acknowledged_at is None:
            return format_html('<span class="radio-status pending">{}</span>', _("never"))
        who = obj.acknowledged_by.get_username() if obj.acknowledged_by else "—"
        return f"{who} · {timezone.localtime(obj.acknowledged_at):%m-%d %H:%M}"

    @admin.display(description=_("replies"), ordering="reply_total")
    def replies(self, obj: Any) -> int:
        return int(obj.reply_total)


@admin.register(Reply)
class ReplyAdmin(TenantScopedAdmin):
    """The business teams' answers; an agent sees those to their own nominations."""

    list_display = ("body_short", "headline", "channel", "author", "created_at", "nominated_by")
    list_filter = ("item__digest__channel",)
    search_fields = ("body",)
    list_select_related = ("item__digest__channel", "item__nomination__nominated_by", "author")
    ordering = ("-created_at",)
    show_full_result_count = False
    paginator = CappedPaginator
    readonly_fields = ("item", "author", "body", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reply]:
        queryset = super().get_queryset(request)
        if selectors.reads_every_channel(actor(request)):
            return queryset
        return queryset.filter(item__nomination__nominated_by=request.user.pk)

    @admin.display(description=_("reply"))
    def body_short(self, obj: Reply) -> str:
        return Truncator(obj.body).chars(80)

    @admin.display(description=_("item"))
    def headline(self, obj: Reply) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:radio_nomination_change", args=[obj.item.nomination_id]),
            obj.item.headline,
        )  # fmt: skip

    @admin.display(description=pgettext_lazy("radio", "channel"))
    def channel(self, obj: Reply) -> str:
        return obj.item.digest.channel.name

    @admin.display(description=_("nominated by"))
    def nominated_by(self, obj: Reply) -> Any:
        return obj.item.nomination.nominated_by or "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
