"""The supervisors' QA desk: rules (versioned, backtested), the findings queue, transcripts, search, scorecards."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from core.paginator import CappedPaginator
from core.tenancy import TenantScopedAdmin
from merchants import charts
from qa import admin_recordings, evaluation, scorecards, searching, services
from qa.models import Category, Finding, Rule, RuleVersion, Scorecard, Segment, Transcript
from qa.presentation import can_see_pii, clock, marked, passage
from tickets.models import Department

SCORECARD_WEEKS = 12
MAX_BACKTEST_DAYS = 90


def nominate_url(source: str, pk: int, back: str) -> str | None:
    """The radio's nomination form for this source, when the radio is installed (qa never imports it)."""
    try:
        base = reverse("radio:nominate")
    except NoReverseMatch:
        return None
    return f"{base}?source={source}&id={pk}&next={back}"


# --- Rules ---------------------------------------------------------------------------------------


class TermsField(forms.CharField):
    """A list of terms, one per line, stored as a JSON list."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 60})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class RuleForm(forms.ModelForm):
    terms = TermsField(label=_("terms"), required=False, help_text=_("One per line."))
    near_terms = TermsField(
        label=_("near terms"),
        required=False,
        help_text=_("Proximity only: one per line; a term above within the distance of one of these."),
    )

    class Meta:
        model = Rule
        fields = [
            "name", "description", "kind", "terms", "near_terms", "distance", "pattern", "speaker", "category",
            "severity", "active",
        ]  # fmt: skip
        help_texts = {
            "distance": _(
                "Tokens allowed between the two matches: a Chinese character is one token, a Latin word or a "
                "number is one token."
            ),
        }


class RuleVersionInline(admin.TabularInline):
    model = RuleVersion
    extra = 0
    can_delete = False
    fields = ("number", "kind", "terms", "near_terms", "distance", "pattern", "speaker", "category", "severity",
              "created_at", "created_by")  # fmt: skip
    readonly_fields = fields
    ordering = ("-number",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Rule)
class RuleAdmin(TenantScopedAdmin):
    form = RuleForm
    list_display = ("name", "kind", "category", "severity", "speaker", "active", "version", "open_findings",
                    "backtest_link", "updated_at")  # fmt: skip
    list_filter = ("active", "kind", "category", "severity", "speaker")
    search_fields = ("name", "description")
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
    def open_findings(self, obj: Rule) -> str:
        url = reverse("admin:qa_finding_changelist") + f"?rule__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.open_count)  # type: ignore[attr-defined]

    @admin.display(description=_("backtest"))
    def backtest_link(self, obj: Rule) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:qa_rule_backtest", args=[obj.pk]), _("Backtest"))

    def save_model(self, request: HttpRequest, obj: Rule, form: forms.ModelForm, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in RuleForm.Meta.fields if name in form.cleaned_data}
        if change:
            saved = services.update_rule(obj, by=request.user, **fields)
        else:
            saved = services.create_rule(by=request.user, **fields)
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
        backtest = self.admin_site.admin_view(self.backtest_view)
        return [path("<int:pk>/backtest/", backtest, name="qa_rule_backtest"), *super().get_urls()]

    def backtest_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """What the rule (as it stands, active or not) would have flagged over the last N days."""
        rule = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, rule):
            raise PermissionDenied
        try:
            days = int(request.GET.get("days", 7))
        except ValueError:
            days = 0
        error = None
        result = None
        if not 1 <= days <= MAX_BACKTEST_DAYS:
            error = _("Days must be a whole number from 1 to %(max)s.") % {"max": MAX_BACKTEST_DAYS}
            days = 7
        else:
            result = evaluation.backtest(rule, days=days)
        mask = not can_see_pii(request.user)
        # One row per segment, with every match in it marked.
        grouped: dict[tuple[int, int | None], dict[str, Any]] = {}
        for sample in result.samples if result else []:
            row = grouped.setdefault((sample.transcript_id, sample.segment_id), {"sample": sample, "spans": []})
            row["spans"].append((sample.start, sample.end, rule.name))
        samples = [
            {"sample": row["sample"], "passage": marked(row["sample"].text, row["spans"], mask=mask)
             if row["sample"].segment_id else None}
            for row in grouped.values()
        ]  # fmt: skip
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Backtest: %(rule)s") % {"rule": rule.name},
            "rule": rule,
            "days": days,
            "error": error,
            "result": result,
            "samples": samples,
            "day_choices": [1, 7, 14, 30, 90],
        }
        return TemplateResponse(request, "admin/qa/rule/backtest.html", context)


@admin.register(RuleVersion)
class RuleVersionAdmin(TenantScopedAdmin):
    list_display = ("rule", "number", "kind", "category", "severity", "created_at", "created_by")
    list_filter = ("kind", "category")
    search_fields = ("rule__name",)
    list_select_related = ("rule", "created_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- The findings queue --------------------------------------------------------------------------


class FindingStatusFilter(admin.SimpleListFilter):
    """The queue opens on what is still to review."""

    title = _("status")
    parameter_name = "status"

    def __init__(self, request: HttpRequest, params: Any, model: Any, model_admin: Any) -> None:
        self.reviewer = can_review(request)
        super().__init__(request, params, model, model_admin)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [*Finding.Status.choices, ("all", _("All"))]

    def choices(self, changelist: ChangeList) -> Any:
        for lookup, title in self.lookup_choices:
            default = Finding.Status.OPEN if self.reviewer else Finding.Status.CONFIRMED
            selected = self.value() == lookup or (self.value() is None and lookup == default)
            yield {
                "selected": selected,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Finding]) -> QuerySet[Finding]:
        value = self.value()
        if value == "all":
            return queryset
        if value in Finding.Status.values:
            return queryset.filter(status=value)
        return queryset.filter(status=Finding.Status.OPEN if self.reviewer else Finding.Status.CONFIRMED)


class ReviewActionForm(ActionForm):
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)


def can_review(request: HttpRequest) -> bool:
    return request.user.has_perm("qa.change_finding")


@admin.register(Finding)
class FindingAdmin(TenantScopedAdmin):
    list_display = ("severity_badge", "category", "rule_name", "agent", "passage_in_context", "position",
                    "transcript_link", "occurred_at", "status")  # fmt: skip
    list_filter = (FindingStatusFilter, "category", "severity", ("rule", admin.RelatedOnlyFieldListFilter),
                   ("agent", admin.RelatedOnlyFieldListFilter), "transcript__kind")  # fmt: skip
    date_hierarchy = "occurred_at"
    search_fields = ("matched_text", "rule__name")
    list_select_related = ("rule", "rule_version", "agent", "segment", "transcript__recording")
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

    def get_list_filter(self, request: HttpRequest) -> Any:
        return self.list_filter if can_review(request) else (FindingStatusFilter, "category", "severity")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("severity"), ordering="-severity")
    def severity_badge(self, obj: Finding) -> str:
        return format_html('<span class="sev sev{}">{}</span>', obj.severity, obj.get_severity_display())

    @admin.display(description=_("rule"), ordering="rule__name")
    def rule_name(self, obj: Finding) -> str:
        return format_html('{} <span class="quiet">v{}</span>', obj.rule.name, obj.rule_version.number)

    @admin.display(description=_("passage"))
    def passage_in_context(self, obj: Finding, *, mask: bool = True) -> str:
        if obj.segment is None:
            terms = " / ".join(obj.rule_version.terms)
            return format_html('<span class="absent">{}</span>', _("Never said: %(terms)s") % {"terms": terms})
        return format_html(
            '<span class="speaker {}">{}</span> {}', obj.segment.speaker, obj.segment.get_speaker_display(),
            passage(obj.segment.text, obj.start, obj.end, mask=mask),
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
        if obj.segment is None or obj.segment.start_ms is None or obj.transcript.recording is None:
            return "—"
        url = reverse("admin:qa_transcript_change", args=[obj.transcript_id]) + f"?t={obj.segment.start_ms // 1000}"
        return format_html('<a href="{}#seg-{}">▶ {}</a>', url, obj.segment.seq, clock(obj.segment.start_ms))

    @admin.display(description=_("transcript"), ordering="transcript")
    def transcript_link(self, obj: Finding) -> str:
        anchor = f"#seg-{obj.segment.seq}" if obj.segment else ""
        url = reverse("admin:qa_transcript_change", args=[obj.transcript_id]) + anchor
        return format_html('<a href="{}">#{}</a>', url, obj.transcript_id)

    def _review(self, request: HttpRequest, queryset: QuerySet[Finding], verdict: str) -> int:
        note = request.POST.get("note", "").replace("\x00", "")[:2000]
        return services.review_findings(
            queryset.select_related(None).only("pk"), verdict=verdict, by=request.user, note=note
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
        finding = get_object_or_404(
            self.get_queryset(request).select_related("rule", "rule_version", "agent", "segment", "reviewed_by",
                                                      "transcript__recording"),
            pk=object_id,
        )  # fmt: skip
        if request.method == "POST":
            if not can_review(request):
                raise PermissionDenied
            verdict = request.POST.get("verdict", "")
            if verdict not in (Finding.Status.CONFIRMED, Finding.Status.DISMISSED):
                self.message_user(request, _("Choose confirm or dismiss."), messages.ERROR)
            else:
                changed = self._review(request, Finding.objects.filter(pk=finding.pk), verdict)
                if not changed:
                    self.message_user(request, _("This finding was already reviewed."), messages.WARNING)
                else:
                    self.message_user(request, _("Finding reviewed."))
                return HttpResponseRedirect(self._next_open(request, finding))
        mask = not can_see_pii(request.user)
        around: list[dict[str, Any]] = []
        if finding.segment is not None:
            seq = finding.segment.seq
            for segment in Segment.objects.filter(transcript=finding.transcript_id, seq__gte=seq - 3, seq__lte=seq + 3):
                spans = [(finding.start, finding.end, finding.rule.name)] if segment.pk == finding.segment_id else []
                current = segment.pk == finding.segment_id
                text = marked(segment.text, spans, mask=mask)
                around.append({"segment": segment, "text": text, "clock": clock(segment.start_ms), "current": current})
        back = reverse("admin:qa_finding_change", args=[finding.pk])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Finding #%(id)s") % {"id": finding.pk},
            "finding": finding,
            "around": around,
            "can_review": can_review(request) and finding.status == Finding.Status.OPEN,
            "audio_url": reverse("admin:qa_transcript_audio", args=[finding.transcript_id])
            if finding.transcript.recording_id
            else None,
            "start_seconds": (finding.segment.start_ms or 0) // 1000 if finding.segment else 0,
            "nominate_url": nominate_url("finding", finding.pk, back) if can_review(request) else None,
        }
        return TemplateResponse(request, "admin/qa/finding/review.html", context)

    def _next_open(self, request: HttpRequest, finding: Finding) -> str:
        """After a verdict, the next open finding in queue order, so a supervisor can clear the queue."""
        following = (
            Finding.objects.filter(status=Finding.Status.OPEN)
            .filter(
                Q(severity__lt=finding.severity)
                | Q(severity=finding.severity, created_at__gt=finding.created_at)
                | Q(severity=finding.severity, created_at=finding.created_at, pk__gt=finding.pk)
            )
            .order_by("-severity", "created_at", "pk")
            .values_list("pk", flat=True)
            .first()
        )
        if following:
            return reverse("admin:qa_finding_change", args=[following])
        return reverse("admin:qa_finding_changelist")


# --- Transcripts and search ----------------------------------------------------------------------


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

    def filters(self) -> searching.Filters:
        data = self.cleaned_data
        department = data["department"]
        return searching.Filters(
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

    class Media:
        css = {"all": ["qa/qa.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Transcript]:
        queryset = super().get_queryset(request).annotate(finding_count=Count("findings"))
        if not request.user.has_perm("qa.search_transcript"):
            queryset = queryset.filter(agent_id=request.user.pk)  # an agent reads their own calls and chats
        return queryset

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # transcripts come from recordings, imports and chats

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Transcript], search_term: str
    ) -> tuple[QuerySet[Transcript], bool]:
        """The exact fields, or any transcript with a segment the full-text search finds (same syntax)."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            segments = searching.matching(search_term)
        except searching.SearchSyntaxError:
            return found, may_have_duplicates
        return found | queryset.filter(pk__in=segments.values("transcript_id")), may_have_duplicates

    @admin.display(description=_("length"))
    def length(self, obj: Transcript) -> str:
        if obj.duration_seconds:
            return clock(int(obj.duration_seconds * 1000))
        return _("%(n)s characters") % {"n": obj.characters}

    @admin.display(description=_("findings"), ordering="finding_count")
    def findings_count(self, obj: Transcript) -> str:
        url = reverse("admin:qa_finding_changelist") + f"?transcript__id__exact={obj.pk}&status=all"
        return format_html('<a href="{}">{}</a>', url, obj.finding_count)  # type: ignore[attr-defined]

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
        transcript = get_object_or_404(
            self.get_queryset(request).select_related("agent", "consumer", "department", "ticket", "recording"),
            pk=object_id,
        )
        if not self.has_view_permission(request, transcript):
            raise PermissionDenied
        mask = not can_see_pii(request.user)
        findings = list(transcript.findings.select_related("rule").order_by("start"))
        by_segment: dict[int | None, list[Finding]] = {}
        for finding in findings:
            by_segment.setdefault(finding.segment_id, []).append(finding)
        segments = [
            {
                "segment": segment,
                "clock": clock(segment.start_ms),
                "seconds": (segment.start_ms or 0) / 1000,
                "text": marked(
                    segment.text, [(f.start, f.end, f.rule.name) for f in by_segment.get(segment.pk, [])], mask=mask
                ),
                "findings": by_segment.get(segment.pk, []),
            }
            for segment in transcript.segments.all()
        ]
        back = reverse("admin:qa_transcript_change", args=[transcript.pk])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": str(transcript),
            "transcript": transcript,
            "segments": segments,
            "absent": by_segment.get(None, []),
            "audio_url": reverse("admin:qa_transcript_audio", args=[transcript.pk])
            if transcript.recording_id
            else None,
            "start_at": request.GET.get("t", ""),
            "nominate_url": nominate_url("transcript", transcript.pk, back),
        }
        return TemplateResponse(request, "admin/qa/transcript/detail.html", context)

    def audio_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        """The recording's audio, for the player; with byte ranges so that the player can seek."""
        transcript = get_object_or_404(self.get_queryset(request).select_related("recording"), pk=pk)
        if not self.has_view_permission(request, transcript) or transcript.recording is None:
            raise Http404
        return admin_recordings.audio_response(request, transcript.recording.audio)

    def search_view(self, request: HttpRequest) -> HttpResponse:
        """Full-text search over every transcript and chat: phrases, AND/OR/NOT, filters, highlighted hits."""
        if not request.user.has_perm("qa.search_transcript"):
            raise PermissionDenied
        form = SearchForm(request.GET or None)
        page = None
        error = None
        if form.is_bound and form.is_valid() and form.cleaned_data["q"].strip():
            try:
                number = max(int(request.GET.get("page", 1)), 1)
            except ValueError:
                number = 1
            try:
                page = searching.search(
                    form.cleaned_data["q"], form.filters(), page=number, mask=not can_see_pii(request.user)
                )
            except searching.SearchSyntaxError as problem:
                error = str(problem)
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
class SegmentAdmin(TenantScopedAdmin):
    """Registered for permissions and raw-id lookups; transcripts show segments in context."""

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


# --- Scorecards ----------------------------------------------------------------------------------


@admin.register(Scorecard)
class ScorecardAdmin(TenantScopedAdmin):
    list_display = ("agent", "week", "calls", "chats", "confirmed_summary", "score")
    list_filter = ("week",)
    search_fields = ("agent__username", "agent__first_name")
    list_select_related = ("agent",)
    ordering = ("-week", "score")
    actions = ["recompute"]

    class Media:
        css = {"all": ["qa/qa.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Scorecard]:
        queryset = super().get_queryset(request)
        if not request.user.has_perm("qa.change_scorecard"):
            queryset = queryset.filter(agent_id=request.user.pk)  # an agent sees their own
        return queryset

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("confirmed findings"))
    def confirmed_summary(self, obj: Scorecard) -> str:
        labels = dict(Category.choices)
        return ", ".join(f"{labels.get(k, k)} {v}" for k, v in sorted(obj.confirmed.items())) or "—"

    @admin.action(description=_("Recompute the selected weeks"), permissions=["change"])
    def recompute(self, request: HttpRequest, queryset: QuerySet[Scorecard]) -> None:
        weeks = sorted(set(queryset.values_list("week", flat=True)))
        for week in weeks:
            scorecards.compute_week(week)
        self.message_user(request, ngettext("%d week recomputed.", "%d weeks recomputed.", len(weeks)) % len(weeks))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        """An agent's week: figures, a trend of their weekly score against the team's median, and the findings."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        card = get_object_or_404(self.get_queryset(request).select_related("agent"), pk=object_id)
        since = card.week - timedelta(weeks=SCORECARD_WEEKS - 1)
        history = list(Scorecard.objects.filter(agent=card.agent_id, week__gte=since, week__lte=card.week)
                       .order_by("week").values_list("week", "score"))  # fmt: skip
        medians = scorecards.team_median_by_week(since, card.week)
        findings = scorecards.confirmed_findings(card)
        mask = not can_see_pii(request.user)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Scorecard of %(agent)s, week of %(week)s")
            % {"agent": card.agent.get_full_name() or card.agent.get_username(), "week": card.week},
            "card": card,
            "by_category": [(label, card.confirmed.get(value, 0)) for value, label in Category.choices],
            "chart": charts.trend_svg(
                [(week, float(value)) for week, value in history],
                [(week, value) for week, value in sorted(medians.items())],
                label=str(_("Weekly QA score against the team median")),
                empty=str(_("No scorecards yet.")),
            ),
            "findings": [
                {"finding": f, "passage": passage(f.segment.text, f.start, f.end, mask=mask) if f.segment else None}
                for f in findings[:100]
            ],
            "handled": card.calls + card.chats,
        }
        return TemplateResponse(request, "admin/qa/scorecard/detail.html", context)
