"""The QA desk's transcripts: each call or chat with its findings marked and its recording, and the search page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.files import ranged_file_response
from core.paginator import CappedPaginator
from core.privacy import ConsumerTextAdmin, probes_pii
from core.tenancy import TenantScopedAdmin
from core.users import actor
from qa import admin_recordings, search_query, searching, selectors
from qa.models import Finding, Segment, Transcript
from qa.presentation import can_see_pii, clock
from tickets.models import Department

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _FindingCount(TypedDict):
    """What get_queryset annotates: ``finding_count``."""

    finding_count: int


# What a transcript's page shows besides the transcript.
PAGE_RELATED = ("agent", "consumer", "department", "ticket", "recording")


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=500, required=False)
    speaker = forms.ChoiceField(
        label=_("speaker"), required=False,
        choices=[("", _("Any speaker")), ("agent", _("Agent")), ("consumer", _("Consumer")), ("bot", _("Bot"))],
    )  # fmt: skip
    kind = forms.ChoiceField(
        label=_("kind"), required=False, choices=[("", _("Calls and chats")), *Transcript.Kind.choices]
    )
    agent = forms.CharField(label=_("agent (user name)"), required=False, max_length=150)
    department = forms.ModelChoiceField(label=_("department"), required=False, queryset=Department.objects.all())
    ticket = forms.IntegerField(label=_("ticket"), required=False, min_value=1)
    since = forms.DateField(
        label=pgettext_lazy("date range", "from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=pgettext_lazy("date range", "to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_agent(self) -> int | None:
        """The agent's user name, as the id the index stores."""
        name = self.cleaned_data["agent"].strip()
        if not name:
            return None
        agent_id = get_user_model().objects.filter(username=name).values_list("pk", flat=True).first()
        if agent_id is None:
            raise forms.ValidationError(_("No user with this name."))
        return agent_id

    def filters(self) -> search_query.Filters:
        data = self.cleaned_data
        department = data["department"]
        return search_query.Filters(
            speaker=data["speaker"], kind=data["kind"], agent=data["agent"],
            department=department.pk if department else None, ticket=data["ticket"], since=data["since"],
            until=data["until"],
        )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", _("The end date is before the start date."))
        return data

    def search(self, page: str | None, *, mask: bool) -> tuple[searching.SearchPage | None, str | None]:
        """The page of hits asked for, or the query's syntax error; (None, None) until a query is typed."""
        if not (self.is_bound and self.is_valid() and self.cleaned_data["q"].strip()):
            return None, None
        try:
            number = max(int(page or 1), 1)
        except ValueError:
            number = 1
        try:
            return searching.search(self.cleaned_data["q"], self.filters(), page=number, mask=mask), None
        except search_query.SearchSyntaxError as problem:
            return None, str(problem)


@admin.register(Transcript)
class TranscriptAdmin(TenantScopedAdmin):
    list_display = ("__str__", "kind", "source", "agent", "consumer", "department", "started_at", "length",
                    "findings_count", "evaluated_at")  # fmt: skip
    list_filter = ("kind", "source", "department", "language")
    date_hierarchy = "started_at"
    search_fields = ("=id", "=external_id", "agent__username")
    list_select_related = ("agent", "consumer", "department")
    raw_id_fields = ("recording", "ticket", "agent", "consumer")
    paginator = CappedPaginator
    show_full_result_count = False
    list_per_page = 50  # as the findings queue: each row is a dozen cells to render

    class Media:
        css = {"all": ["qa/qa.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Transcript]:
        # An agent reads their own calls and chats (selectors.readable_by). A correlated count, not a GROUP BY
        # over the join: PostgreSQL computes it for the page's rows only.
        findings = Finding.objects.filter(transcript=OuterRef("pk")).order_by().values("transcript")
        count = Subquery(findings.annotate(n=Count("pk")).values("n"), output_field=IntegerField())
        return selectors.readable_by(super().get_queryset(request), actor(request)).annotate(
            finding_count=Coalesce(count, 0)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # transcripts come from recordings, imports and chats

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Transcript], search_term: str
    ) -> tuple[QuerySet[Transcript], bool]:
        """The exact fields, or any transcript with a segment the full-text search finds (same syntax).

        A personal number is no search term for whoever sees it masked: the hits would confirm it."""
        if probes_pii(search_term, request.user):
            return queryset.none(), False
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            segments = search_query.matching(search_term)
        except search_query.SearchSyntaxError:
            return found, may_have_duplicates
        return found | queryset.filter(pk__in=segments.values("transcript_id")), may_have_duplicates

    @admin.display(description=_("length"))
    def length(self, obj: Transcript) -> str:
        if obj.duration_seconds:
            return clock(int(obj.duration_seconds * 1000))
        return _("%(n)s characters") % {"n": obj.characters}

    @admin.display(description=_("findings"), ordering="finding_count")
    def findings_count(self, obj: WithAnnotations[Transcript, _FindingCount]) -> str:
        url = reverse("admin:qa_finding_changelist") + f"?transcript__id__exact={obj.pk}&status=all"
        return format_html('<a href="{}">{}</a>', url, obj.finding_count)

    def get_urls(self) -> list[Any]:
        search = self.admin_site.admin_view(self.search_view)
        audio = self.admin_site.admin_view(self.audio_view)
        return [
            path("search/", search, name="qa_transcript_search"),
            path("<int:pk>/audio/", audio, name="qa_transcript_audio"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        can_search = request.user.has_perm("qa.search_transcript")
        extra = {"search_url": reverse("admin:qa_transcript_search") if can_search else None, **(extra_context or {})}
        return super().changelist_view(request, extra)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        """The transcript, speaker by speaker, with every finding marked and the recording to play."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        transcript = get_object_or_404(self.get_queryset(request).select_related(*PAGE_RELATED), pk=object_id)
        if not self.has_view_permission(request, transcript):
            raise PermissionDenied
        mask = not can_see_pii(request.user)
        page = selectors.transcript_page(transcript, mask=mask, start_at=request.GET.get("t", ""))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, **page}
        return TemplateResponse(request, "admin/qa/transcript/detail.html", context)

    def audio_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        """The recording's audio, for the player; with byte ranges so that the player can seek."""
        transcript = get_object_or_404(self.get_queryset(request).select_related("recording"), pk=pk)
        if not self.has_view_permission(request, transcript) or transcript.recording is None:
            raise Http404
        audio = transcript.recording.audio
        return ranged_file_response(request, audio, admin_recordings.audio_type(audio))

    def search_view(self, request: HttpRequest) -> HttpResponse:
        """Full-text search over every transcript and chat: phrases, AND/OR/NOT, filters, highlighted hits."""
        if not request.user.has_perm("qa.search_transcript"):
            raise PermissionDenied
        form = SearchForm(request.GET or None)
        page, error = form.search(request.GET.get("page"), mask=not can_see_pii(request.user))
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Search transcripts and chats"),
            "form": form,
            "page": page,
            "error": error,
            "query_string": query.urlencode(),
        }
        return TemplateResponse(request, "admin/qa/transcript/search.html", context)


@admin.register(Segment)
class SegmentAdmin(ConsumerTextAdmin, TenantScopedAdmin):
    """Registered for permissions and raw-id lookups; transcripts show segments in context."""

    consumer_text_columns = ("text",)
    list_display = ("transcript", "seq", "speaker", "start_ms", "text")
    list_filter = ("speaker",)
    search_fields = ("=transcript__id",)
    list_select_related = ("transcript",)
    raw_id_fields = ("transcript",)
    paginator = CappedPaginator
    show_full_result_count = False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
