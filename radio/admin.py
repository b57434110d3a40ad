"""The radio in the admin: the curators' screening queue, channels and subscribers, digests, the items nobody
acknowledged, and the agents' view of their nominations with the business teams' replies."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin_actions import apply_to_each
from core.admin_filters import DefaultChoiceFilter
from core.paginator import CappedPaginator
from core.roles import BUSINESS, SUPERVISOR
from core.tenancy import TenantScopedAdmin, TenantScopedInline
from radio import selectors, services
from radio.forms import ApproveForm, HeadlineForm, MergeForm, RejectForm
from radio.models import Channel, Digest, DigestItem, Nomination, Reply, SourceKind, Subscription

SOURCE_ADMIN = {
    SourceKind.TICKET: "admin:tickets_ticket_change",
    SourceKind.CHAT: "admin:tickets_chatsession_change",
    SourceKind.TRANSCRIPT: "admin:qa_transcript_change",
    SourceKind.FINDING: "admin:qa_finding_change",
}


def source_link(kind: str, source_id: int, ticket_id: int | None) -> str:
    """A link to the nomination's source in the admin, where that page exists (else to its ticket)."""
    label = f"{SourceKind(kind).label} #{source_id}"
    for name, pk in ((SOURCE_ADMIN[SourceKind(kind)], source_id), ("admin:tickets_ticket_change", ticket_id)):
        if pk is None:
            continue
        try:
            return format_html('<a href="{}">{}</a>', reverse(name, args=[pk]), label)
        except NoReverseMatch:
            continue
    return label


class ScreeningFilter(DefaultChoiceFilter):
    """Curators open the queue on what waits for screening; agents on their own nominations."""

    title = _("queue")
    parameter_name = "queue"
    default_title = _("Waiting for screening")

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("mine", _("My nominations")), ("all", _("All nominations"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Nomination]) -> QuerySet[Nomination]:
        value = self.value()
        if value == "all" or (value is None and request.GET.get("status")):
            return queryset
        if value == "mine" or not request.user.has_perm("radio.change_nomination"):
            return queryset.filter(nominated_by=request.user.pk)
        return queryset.filter(status=Nomination.Status.PENDING)


def _count(queryset: QuerySet[Any], key: str) -> Any:
    """A correlated COUNT(*) of ``queryset`` grouped by ``key`` (0 when there are none)."""
    counted = queryset.order_by().values(key).annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


@admin.register(Nomination)
class NominationAdmin(TenantScopedAdmin):
    list_display = (
        "number", "what", "status_badge", "severity_label", "customers", "suggested_channel", "nominated_by",
        "nominated_at", "feedback",
    )  # fmt: skip
    list_display_links = ("number", "what")
    list_filter = (ScreeningFilter, "status", "source_kind", "severity", "suggested_channel", "department")
    search_fields = ("quote", "headline", "note")
    search_help_text = _("Words of the quote, headline or note.")
    list_select_related = ("suggested_channel", "nominated_by")
    ordering = ("-nominated_at", "-id")
    show_full_result_count = False
    paginator = CappedPaginator
    list_per_page = 50
    actions = ["approve_action", "merge_action", "reject_action"]

    class Media:
        css = {"all": ["radio/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Nomination]:
        queryset = super().get_queryset(request)
        if not request.user.has_perm("radio.change_nomination"):
            queryset = queryset.filter(nominated_by=request.user.pk)  # an agent sees their own nominations
        return queryset.annotate(
            reply_count=_count(Reply.objects.filter(item__nomination_id=OuterRef("pk")), "item__nomination_id"),
            acked_count=_count(
                DigestItem.objects.filter(nomination_id=OuterRef("pk"), acknowledged_at__isnull=False), "nomination_id"
            ),
            item_count=_count(DigestItem.objects.filter(nomination_id=OuterRef("pk")), "nomination_id"),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # nominated from a ticket, chat, transcript or finding (radio:nominate)

    @admin.display(description=_("#"), ordering="id")
    def number(self, obj: Nomination) -> str:
        return f"#{obj.pk}"

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Nomination) -> str:
        return format_html('<span class="radio-status {}">{}</span>', obj.status, obj.get_status_display())

    @admin.display(description=_("headline / the consumer's words"))
    def what(self, obj: Nomination) -> str:
        source = source_link(obj.source_kind, obj.source_id, obj.ticket_id)
        if obj.headline:
            return format_html('<strong>{}</strong><br>{}<div class="radio-source">{}</div>', obj.headline,
                               Truncator(obj.quote).chars(60), source)  # fmt: skip
        return format_html('{}<div class="radio-source">{}</div>', Truncator(obj.quote).chars(80), source)

    @admin.display(description=_("severity"), ordering="severity")
    def severity_label(self, obj: Nomination) -> str:
        return format_html('<span class="radio-sev s{}">{}</span>', obj.severity, obj.get_severity_display())

    @admin.display(description=_("business feedback"))
    def feedback(self, obj: Any) -> str:
        if obj.status == Nomination.Status.REJECTED:
            return format_html("<em>{}</em>", Truncator(obj.rejection_reason).chars(60))
        if not obj.item_count:
            return "—"
        parts = [str(_("%(a)s of %(n)s acknowledged") % {"a": obj.acked_count, "n": obj.item_count})]
        if obj.reply_count:
            parts.append(ngettext("%(n)d reply", "%(n)d replies", obj.reply_count) % {"n": obj.reply_count})
        return " · ".join(parts)

    # --- the screening page --------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        screen = self.admin_site.admin_view(self.screen_view)
        return [path("<int:pk>/screen/", screen, name="radio_nomination_screen"), *super().get_urls()]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        nomination = get_object_or_404(
            self.get_queryset(request).select_related("suggested_channel", "nominated_by", "screened_by",
                                                      "merged_into", "department"), pk=object_id,
        )  # fmt: skip
        if not self.has_view_permission(request, nomination):
            raise PermissionDenied
        can_screen = self.has_change_permission(request, nomination)
        items = list(
            DigestItem.objects.filter(nomination=nomination)
            .select_related("digest__channel", "acknowledged_by")
            .order_by("digest__day", "digest__channel__name")
        )
        selectors.attach_replies(items)
        suggested = [nomination.suggested_channel_id] if nomination.suggested_channel_id else []
        placed = list(nomination.placements.values_list("channel_id", flat=True))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Nomination #%(id)s") % {"id": nomination.pk},
            "nomination": nomination,
            "source": source_link(nomination.source_kind, nomination.source_id, nomination.ticket_id),
            "items": items,
            "placed": Channel.objects.filter(pk__in=placed),
            "merged": nomination.merged.order_by("nominated_at") if can_screen else [],
            "can_screen": can_screen and nomination.status in (Nomination.Status.PENDING, Nomination.Status.APPROVED),
            "approve_form": ApproveForm(initial={"channels": placed or suggested, "headline": nomination.headline}),
            "reject_form": RejectForm(),
            "headline_form": HeadlineForm(initial={"headline": nomination.headline}, auto_id="edit_%s"),
        }
        return TemplateResponse(request, "admin/radio/nomination/screen.html", context)

    def screen_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The screening page's buttons: approve into channels, edit the headline, reject with a reason."""
        nomination = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, nomination):
            raise PermissionDenied
        action = request.POST.get("action", "")
        try:
            if action == "approve":
                form: Any = ApproveForm(request.POST)
                self._valid(form)
                services.approve_nomination(nomination, form.cleaned_data["channels"], by=request.user,
                                            headline=form.cleaned_data["headline"])  # fmt: skip
                self.message_user(request, _("Approved: on the radio with the next digest."), messages.SUCCESS)
            elif action == "headline":
                form = HeadlineForm(request.POST)
                self._valid(form)
                services.edit_headline(nomination, form.cleaned_data["headline"], by=request.user)
                self.message_user(request, _("Headline saved."), messages.SUCCESS)
            elif action == "reject":
                form = RejectForm(request.POST)
                self._valid(form)
                services.reject_nomination(nomination, form.cleaned_data["reason"], by=request.user)
                self.message_user(request, _("Rejected; the agent sees your reason."), messages.SUCCESS)
            else:
                raise ValidationError(_("Unknown action."))
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:radio_nomination_change", args=[nomination.pk]))

    @staticmethod
    def _valid(form: Any) -> None:
        if not form.is_valid():
            raise ValidationError(
                [f"{form.fields[name].label if name in form.fields else ''}: {' '.join(errors)}"
                 for name, errors in form.errors.items()]
            )  # fmt: skip

    # --- bulk decisions, each with a confirmation page ------------------------------------------

    def _decision_page(self, request: HttpRequest, queryset: QuerySet[Nomination], action: str, title: Any,
                       form: Any, button: Any) -> TemplateResponse:  # fmt: skip
        return TemplateResponse(
            request,
            "admin/radio/nomination/decision.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": title,
                "nominations": queryset,
                "action": action,
                "form": form,
                "button": button,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description=_("Approve into channels…"), permissions=["change"])
    def approve_action(self, request: HttpRequest, queryset: QuerySet[Nomination]) -> TemplateResponse | None:
        if "apply" in request.POST:
            form = ApproveForm(request.POST)
            if form.is_valid():
                channels = list(form.cleaned_data["channels"])
                headline = form.cleaned_data["headline"] if queryset.count() == 1 else None
                apply_to_each(
                    self, request, queryset,
                    lambda n: services.approve_nomination(n, channels, by=request.user, headline=headline or None),
                    lambda n: ngettext("%d nomination approved.", "%d nominations approved.", n) % n,
                )  # fmt: skip
                return None
        else:
            suggested = {n.suggested_channel_id for n in queryset if n.suggested_channel_id}
            only = queryset.first() if queryset.count() == 1 else None
            form = ApproveForm(initial={"channels": list(suggested), "headline": only.headline if only else ""})
        return self._decision_page(request, queryset, "approve_action", _("Approve into channels"), form,
                                   _("Approve"))  # fmt: skip

    @admin.action(description=_("Reject with a reason…"), permissions=["change"])
    def reject_action(self, request: HttpRequest, queryset: QuerySet[Nomination]) -> TemplateResponse | None:
        if "apply" in request.POST:
            form = RejectForm(request.POST)
            if form.is_valid():
                reason = form.cleaned_data["reason"]
                apply_to_each(
                    self, request, queryset,
                    lambda n: services.reject_nomination(n, reason, by=request.user),
                    lambda n: ngettext("%d nomination rejected.", "%d nominations rejected.", n) % n,
                )  # fmt: skip
                return None
        else:
            form = RejectForm()
        return self._decision_page(request, queryset, "reject_action", _("Reject with a reason"), form, _("Reject"))

    @admin.action(description=_("Merge duplicates…"), permissions=["change"])
    def merge_action(self, request: HttpRequest, queryset: QuerySet[Nomination]) -> TemplateResponse | None:
        if queryset.count() < 2:
            self.message_user(request, _("Choose at least two nominations to merge."), messages.WARNING)
            return None
        if "apply" in request.POST:
            form = MergeForm(request.POST, nominations=queryset)
            if form.is_valid():
                primary = form.cleaned_data["primary"]
                try:
                    merged = services.merge_nominations(
                        primary, [n for n in queryset if n.pk != primary.pk], by=request.user
                    )
                except ValidationError as error:
                    self.message_user(request, "; ".join(error.messages), messages.ERROR)
                else:
                    self.message_user(
                        request,
                        _("Merged into #%(id)s: %(n)s customers said it.") % {"id": merged.pk, "n": merged.customers},
                        messages.SUCCESS,
                    )
                return None
        else:
            oldest = queryset.order_by("-customers", "nominated_at").first()
            form = MergeForm(initial={"primary": oldest.pk if oldest else None}, nominations=queryset)
        return self._decision_page(request, queryset, "merge_action", _("Merge duplicates"), form, _("Merge"))


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
        if selectors.reads_every_channel(request.user):
            return queryset
        return queryset.filter(**{f"{self.channel_path}__in": selectors.readable_channels(request.user)})

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

    @admin.display(description=_("channel"), ordering="digest__channel__name")
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
        if selectors.reads_every_channel(request.user):
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

    @admin.display(description=_("channel"))
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
