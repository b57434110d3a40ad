"""The QA desk's findings queue: what the rules found, in severity order, confirmed or dismissed with a note."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from core.admin_filters import DefaultChoiceFilter
from core.paginator import CappedPaginator
from core.privacy import probes_pii
from core.tenancy import TenantScopedAdmin
from core.users import actor
from qa import selectors, services
from qa.models import Finding, Transcript
from qa.presentation import can_see_pii, clock, passage

# What a finding's page shows besides the finding.
REVIEW_RELATED = ("rule", "rule_version", "agent", "segment", "reviewed_by", "transcript__recording")


class FindingStatusFilter(DefaultChoiceFilter):
    """The queue opens on what is still to review."""

    title = _("status")
    parameter_name = "status"

    def __init__(self, request: HttpRequest, params: Any, model: Any, model_admin: Any) -> None:
        self.reviewer = can_review(request)
        super().__init__(request, params, model, model_admin)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [*Finding.Status.choices, ("all", _("All"))]

    def default_lookup(self) -> str:
        return Finding.Status.OPEN if self.reviewer else Finding.Status.CONFIRMED

    def queryset(self, request: HttpRequest, queryset: QuerySet[Finding]) -> QuerySet[Finding]:
        value = self.value()
        if value == "all":
            return queryset
        if value in Finding.Status.values:
            return queryset.filter(status=value)
        return queryset.filter(status=self.default_lookup())


class ReviewActionForm(ActionForm):
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)


def can_review(request: HttpRequest) -> bool:
    return request.user.has_perm("qa.change_finding")


class QueueChangeList(ChangeList):
    """The queue: one row per rule per call (``selectors.one_per_call``); the review covers the row's matches.

    The rows join their segment and transcript; rules, versions and agents (a few distinct ones per page)
    come in three small queries: PostgreSQL spent ~16 ms *planning* the six-table join with the anti-join,
    ten times what it took to run.
    """

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet[Finding]:
        queryset = selectors.one_per_call(super().get_queryset(request, exclude_parameters))
        return queryset.prefetch_related("rule", "rule_version", "agent")


@admin.register(Finding)
class FindingAdmin(TenantScopedAdmin):
    list_display = ("severity_badge", "category", "rule_name", "agent_name", "passage_in_context", "position",
                    "transcript_link", "occurred_at", "status")  # fmt: skip
    list_filter = (FindingStatusFilter, "category", "severity", ("rule", admin.RelatedOnlyFieldListFilter),
                   ("agent", admin.RelatedOnlyFieldListFilter), "transcript__kind")  # fmt: skip
    date_hierarchy = "occurred_at"
    search_fields = ("matched_text", "rule__name")
    list_select_related = ("segment", "transcript")
    # Findings of one evaluation share their created_at: the id orders them as they were found.
    ordering = ("-severity", "created_at", "pk")
    action_form = ReviewActionForm
    actions = ["confirm", "dismiss"]
    paginator = CappedPaginator
    show_full_result_count = False
    list_per_page = 50

    class Media:
        css = {"all": ["qa/qa.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Finding]:
        queryset = super().get_queryset(request)
        if not can_review(request):
            # An agent sees the confirmed findings behind their own scorecard, nothing else.
            queryset = queryset.filter(agent_id=request.user.pk, status=Finding.Status.CONFIRMED)
        return queryset

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Finding], search_term: str) -> Any:
        if probes_pii(search_term, request.user):  # a matched number is no search term for whoever sees it masked
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return QueueChangeList

    def get_list_filter(self, request: HttpRequest) -> Any:
        return self.list_filter if can_review(request) else (FindingStatusFilter, "category", "severity")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=mark_safe('<input type="checkbox" id="action-toggle">'))
    def action_checkbox(self, obj: Finding) -> SafeString:
        """Django's checkbox as plain markup: its widget renders a template per row, a third of the page's time."""
        label = format_html(gettext("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME, obj.pk, label,
        )  # fmt: skip

    @admin.display(description=_("severity"), ordering="-severity")
    def severity_badge(self, obj: Finding) -> str:
        return format_html('<span class="sev sev{}">{}</span>', obj.severity, obj.get_severity_display())

    @admin.display(description=_("rule"), ordering="rule__name")
    def rule_name(self, obj: Finding) -> str:
        return format_html('{} <span class="quiet">v{}</span>', obj.rule.display_name, obj.rule_version.number)

    @admin.display(description=_("agent"), ordering="agent__first_name")
    def agent_name(self, obj: Finding) -> str:
        return (obj.agent.get_full_name() or obj.agent.get_username()) if obj.agent else "—"

    @admin.display(description=_("passage"))
    def passage_in_context(self, obj: Finding, *, mask: bool = True) -> str:
        if obj.segment is None:
            terms = " / ".join(obj.rule_version.terms)
            return format_html('<span class="absent">{}</span>', _("Never said: %(terms)s") % {"terms": terms})
        more = getattr(obj, "matches", 1) - 1
        also = ngettext("+%(n)d more in this call", "+%(n)d more in this call", more) % {"n": more} if more else ""
        return format_html(
            '<span class="speaker {}">{}</span> {}{}', obj.segment.speaker, obj.segment.get_speaker_display(),
            passage(obj.segment.text, obj.start, obj.end, mask=mask),
            format_html(' <span class="also">{}</span>', also) if also else "",
        )  # fmt: skip

    def get_list_display(self, request: HttpRequest) -> Any:
        # The passage is masked by who is looking: a column bound to this request, not state on the admin.
        mask = not can_see_pii(request.user)

        @admin.display(description=_("passage"))
        def passage_in_context(obj: Finding) -> str:
            return self.passage_in_context(obj, mask=mask)

        return [passage_in_context if name == "passage_in_context" else name for name in self.list_display]

    @admin.display(description=_("audio"))
    def position(self, obj: Finding) -> str:
        """A link that plays the call from the match (the transcript page's player), when there is a recording."""
        if obj.transcript.recording_id is None:
            kind = _("chat") if obj.transcript.kind == Transcript.Kind.CHAT else _("no recording")
            return format_html('<span class="quiet">{}</span>', kind)
        seconds = (obj.segment.start_ms or 0) // 1000 if obj.segment else 0
        anchor = f"#seg-{obj.segment.seq}" if obj.segment else ""
        url = reverse("admin:qa_transcript_change", args=[obj.transcript_id]) + f"?t={seconds}{anchor}"
        label = clock(obj.segment.start_ms) if obj.segment and obj.segment.start_ms is not None else _("Play")
        return format_html('<a class="play" href="{}" title="{}">▶ {}</a>', url, _("Play the call from here"), label)

    @admin.display(description=_("transcript"), ordering="transcript")
    def transcript_link(self, obj: Finding) -> str:
        anchor = f"#seg-{obj.segment.seq}" if obj.segment else ""
        url = reverse("admin:qa_transcript_change", args=[obj.transcript_id]) + anchor
        return format_html('<a href="{}">#{}</a>', url, obj.transcript_id)

    def _review(self, request: HttpRequest, queryset: QuerySet[Finding], verdict: str) -> int:
        note = request.POST.get("note", "").replace("\x00", "")[:2000]
        return services.review_finding_groups(
            queryset.select_related(None).only("pk"), verdict=verdict, by=actor(request), note=note
        )

    @admin.action(description=_("Confirm the selected findings (with the note)"), permissions=["change"])
    def confirm(self, request: HttpRequest, queryset: QuerySet[Finding]) -> None:
        changed = self._review(request, queryset, Finding.Status.CONFIRMED)
        self.message_user(request, ngettext("%d finding confirmed.", "%d findings confirmed.", changed) % changed)

    @admin.action(description=_("Dismiss the selected findings (with the note)"), permissions=["change"])
    def dismiss(self, request: HttpRequest, queryset: QuerySet[Finding]) -> None:
        changed = self._review(request, queryset, Finding.Status.DISMISSED)
        self.message_user(request, ngettext("%d finding dismissed.", "%d findings dismissed.", changed) % changed)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        """One finding: the passage in its conversation, the rule version, and confirm / dismiss with a note."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        finding = get_object_or_404(self.get_queryset(request).select_related(*REVIEW_RELATED), pk=object_id)
        if request.method == "POST" and (done := self._verdict(request, finding)) is not None:
            return done
        page = selectors.finding_page(finding, mask=not can_see_pii(request.user), reviewer=can_review(request))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, **page}
        return TemplateResponse(request, "admin/qa/finding/review.html", context)

    def _verdict(self, request: HttpRequest, finding: Finding) -> HttpResponse | None:
        """The page's confirm / dismiss buttons: the verdict, then the next open finding (None: no verdict chosen)."""
        if not can_review(request):
            raise PermissionDenied
        verdict = request.POST.get("verdict", "")
        if verdict not in (Finding.Status.CONFIRMED, Finding.Status.DISMISSED):
            self.message_user(request, _("Choose confirm or dismiss."), messages.ERROR)
            return None
        if self._review(request, Finding.objects.filter(pk=finding.pk), verdict):
            self.message_user(request, _("Finding reviewed."))
        else:
            self.message_user(request, _("This finding was already reviewed."), messages.WARNING)
        following = selectors.next_open_finding(finding)
        queue = reverse("admin:qa_finding_changelist")
        return HttpResponseRedirect(reverse("admin:qa_finding_change", args=[following]) if following else queue)
