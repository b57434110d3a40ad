"""The radio in the admin: the curators' screening queue and the agents' view of their nominations with the
business teams' feedback. Channels, digests, their items and the replies are in ``radio.admin_digests``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin_actions import apply_to_each
from core.admin_filters import DefaultChoiceFilter
from core.paginator import CappedPaginator
from core.tenancy import TenantScopedAdmin
from core.users import actor
from radio import (
    admin_digests,  # noqa: F401  (registers the digests' admins)
    selectors,
    services,
)
from radio.forms import SCREENING_FORMS, ApproveForm, HeadlineForm, MergeForm, RejectForm, form_problems
from radio.models import Channel, DigestItem, Nomination, Reply, SourceKind

SOURCE_ADMIN = {
    SourceKind.TICKET: "admin:tickets_ticket_change",
    SourceKind.CHAT: "admin:chat_chatsession_change",
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


# What the screening page shows besides the nomination.
SCREEN_RELATED = ("suggested_channel", "nominated_by", "screened_by", "merged_into", "department")


def screening_page(nomination: Nomination, *, can_screen: bool) -> dict[str, Any]:
    """The screening page: the nomination, its source, where it went on air, and (for a curator) the decisions."""
    items = list(
        DigestItem.objects.filter(nomination=nomination)
        .select_related("digest__channel", "acknowledged_by")
        .order_by("digest__day", "digest__channel__name")
    )
    selectors.attach_replies(items)
    suggested = [nomination.suggested_channel_id] if nomination.suggested_channel_id else []
    placed = list(nomination.placements.values_list("channel_id", flat=True))
    return {
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
        nomination = get_object_or_404(self.get_queryset(request).select_related(*SCREEN_RELATED), pk=object_id)
        if not self.has_view_permission(request, nomination):
            raise PermissionDenied
        page = screening_page(nomination, can_screen=self.has_change_permission(request, nomination))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, **page}
        return TemplateResponse(request, "admin/radio/nomination/screen.html", context)

    def screen_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The screening page's buttons: approve into channels, edit the headline, reject with a reason."""
        nomination = get_object_or_404(self.get_queryset(request), pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, nomination):
            raise PermissionDenied
        self._screen(request, nomination)
        return HttpResponseRedirect(reverse("admin:radio_nomination_change", args=[nomination.pk]))

    def _screen(self, request: HttpRequest, nomination: Nomination) -> None:
        """Apply the screening form the button named; what it did, or why not, is the page's message."""
        form_class = SCREENING_FORMS.get(str(request.POST.get("action", "")))
        try:
            if form_class is None:
                raise ValidationError(_("Unknown action."))
            form = form_class(request.POST)
            if not form.is_valid():
                raise form_problems(form)
            form.apply(nomination, by=actor(request))
            self.message_user(request, form.done, messages.SUCCESS)
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)

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
                    lambda n: services.approve_nomination(n, channels, by=actor(request), headline=headline or None),
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
                    lambda n: services.reject_nomination(n, reason, by=actor(request)),
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
        if "apply" not in request.POST:
            oldest = queryset.order_by("-customers", "nominated_at").first()
            form = MergeForm(initial={"primary": oldest.pk if oldest else None}, nominations=queryset)
        elif (form := MergeForm(request.POST, nominations=queryset)).is_valid():
            self._merge(request, queryset, form)
            return None
        return self._decision_page(request, queryset, "merge_action", _("Merge duplicates"), form, _("Merge"))

    def _merge(self, request: HttpRequest, queryset: QuerySet[Nomination], form: MergeForm) -> None:
        try:
            merged = form.merge(queryset, by=actor(request))
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)
            return
        said = _("Merged into #%(id)s: %(n)s customers said it.") % {"id": merged.pk, "n": merged.customers}
        self.message_user(request, said, messages.SUCCESS)
