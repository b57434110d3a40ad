"""The recordings' admin: upload a call for transcription, follow it, retry a failed one (imported by qa/admin.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.db.models.fields.files import FieldFile
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.files import ranged_file_response
from core.paginator import CappedPaginator
from core.roles import AGENT, SUPERVISOR
from core.tenancy import TenantScopedAdmin
from core.users import Actor, actor
from qa import recordings, selectors
from qa.models import Recording, Transcript
from qa.presentation import clock

STATUS_COLOURS: dict[str, tuple[str, str]] = {
    Recording.Status.PENDING: ("#6b7280", "#f3f4f6"),
    Recording.Status.TRANSCRIBING: ("#1d4ed8", "#dbeafe"),
    Recording.Status.DONE: ("#047857", "#d1fae5"),
    Recording.Status.FAILED: ("#b91c1c", "#fee2e2"),
}


class RecordingForm(forms.ModelForm):
    """The upload: the audio and whose call it was. The audio is checked before it is stored."""

    class Meta:
        model = Recording
        fields = ("audio", "agent", "consumer", "ticket", "language", "called_at")
        help_texts = {
            "audio": _(
                "PCM WAV, any sample rate, mono or stereo. Stereo: the agent on the left channel, the consumer on"
                " the right, so that each turn gets its speaker."
            ),
            "called_at": _("When the call started."),
        }
        widgets = {"audio": forms.ClearableFileInput(attrs={"accept": ".wav,audio/wav,audio/x-wav"})}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        ticket, consumer = data.get("ticket"), data.get("consumer")
        if ticket is not None and consumer is not None and ticket.consumer_id != consumer.pk:
            self.add_error("ticket", _("This ticket is another consumer's."))
        if data.get("audio") and data.get("language"):
            try:
                recordings.check_upload(data["audio"], language=data["language"])
            except forms.ValidationError as error:
                self.add_error(None, error)
        return data


def audio_type(audio: FieldFile) -> str | None:
    """A recording's content type: "audio/wav" for a .wav (the upload check reads WAV headers), else None
    (guessed from the name)."""
    return "audio/wav" if (audio.name or "").lower().endswith(".wav") else None


def _person(user: Actor) -> str:
    name = user.get_full_name()
    return f"{name} ({user.get_username()})" if name else user.get_username()


@admin.register(Recording)
class RecordingAdmin(TenantScopedAdmin):
    form = RecordingForm
    list_display = ("number", "status_badge", "agent", "consumer_and_ticket", "call_time", "duration",
                    "transcript_link")  # fmt: skip
    list_display_links = ("number",)
    list_filter = ("status", "language", "called_at")
    search_fields = ("=id", "=consumer__external_id", "=agent__username", "=ticket__id")
    search_help_text = _("Recording number, consumer external id, agent username or ticket number.")
    list_select_related = ("agent", "consumer", "ticket", "transcript")
    autocomplete_fields = ("consumer", "ticket")
    date_hierarchy = "called_at"
    actions = ["retry"]
    paginator = CappedPaginator
    show_full_result_count = False
    upload_fields = ("audio", "agent", "consumer", "ticket", "language", "called_at")
    shown_fields = ("listen", "agent", "consumer", "ticket", "language", "called_at")
    derived_fields = ("status_badge", "failure_reason", "attempts", "duration", "transcribed_at",
                      "transcript_page", "uploaded_by", "created_at")  # fmt: skip

    def get_queryset(self, request: HttpRequest) -> QuerySet[Recording]:
        # The transcripts' rule: an agent lists, opens and plays only their own calls (selectors.readable_by).
        return selectors.readable_by(super().get_queryset(request), actor(request))

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ((None, {"fields": self.upload_fields}),)
        return ((None, {"fields": self.shown_fields}), (_("Transcription"), {"fields": self.derived_fields}))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        # A recording is what was said: it is never edited after the upload, only retried.
        return (*self.upload_fields, "listen", *self.derived_fields)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = {"agent": request.user.pk, "language": "en", "called_at": timezone.now()}
        return {**initial, **super().get_changeform_initial_data(request)}

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "agent":
            users = get_user_model()._default_manager.filter(is_active=True, is_staff=True)
            me = Q(pk=request.user.pk)
            if request.user.has_perm("qa.change_recording"):  # supervisors upload any agent's calls
                users = users.filter(Q(groups__name__in=[AGENT, SUPERVISOR]) | me).distinct()
            else:
                users = users.filter(me)
            kwargs["queryset"] = users.order_by("username")
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "agent" and field is not None:
            field.label_from_instance = _person
        return field

    def save_model(self, request: HttpRequest, obj: Recording, form: Any, change: bool) -> None:
        if change:
            return  # nothing is editable after the upload
        recordings.upload_recording(obj, by=actor(request))

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> Any:  # fmt: skip
        extra = dict(extra_context or {})
        if object_id is not None:
            get_object_or_404(self.get_queryset(request), pk=object_id)  # another agent's call: no such page
            extra.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().changeform_view(request, object_id, form_url, extra)

    @admin.display(description=_("No."), ordering="id")
    def number(self, obj: Recording) -> str:
        return f"#{obj.pk}"

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Recording) -> str:
        colour, background = STATUS_COLOURS.get(obj.status, ("#374151", "#f3f4f6"))
        badge = format_html(
            '<span style="color:{};background:{};padding:1px 8px;border-radius:9px;white-space:nowrap">{}</span>',
            colour,
            background,
            obj.get_status_display(),
        )
        if obj.attempts > 1:
            badge = format_html('{} <small title="{}">×{}</small>', badge, _("attempts"), obj.attempts)
        if obj.status == Recording.Status.FAILED and obj.failure_reason:
            reason = obj.failure_reason
            short = reason if len(reason) <= 60 else reason[:57] + "…"
            badge = format_html('{}<br><small title="{}" style="color:#b91c1c">{}</small>', badge, reason, short)
        return badge

    @admin.display(description=_("call started at"), ordering="called_at")
    def call_time(self, obj: Recording) -> str:
        return format_html(
            '<span style="white-space:nowrap">{}</span>', localtime(obj.called_at).strftime("%Y-%m-%d %H:%M")
        )

    @admin.display(description=_("consumer"), ordering="consumer")
    def consumer_and_ticket(self, obj: Recording) -> str:
        if obj.ticket_id is None:
            return str(obj.consumer)
        url = reverse("admin:tickets_ticket_change", args=[obj.ticket_id])
        return format_html('{}<br><small><a href="{}">{}</a></small>', obj.consumer, url,
                           _("Ticket #%(id)s") % {"id": obj.ticket_id})  # fmt: skip

    @admin.display(description=_("duration"), ordering="duration_seconds")
    def duration(self, obj: Recording) -> str:
        return clock(round(obj.duration_seconds * 1000)) if obj.duration_seconds is not None else "–"

    @admin.display(description=_("transcript"))
    def transcript_link(self, obj: Recording) -> str:
        url = self._transcript_url(obj)
        if url is None:
            return "–"
        return format_html('<a href="{}" title="{}">#{}</a>', url, _("Open the transcript"), obj.transcript.pk)

    @admin.display(description=_("transcript"))
    def transcript_page(self, obj: Recording) -> str:
        url = self._transcript_url(obj)
        if url is None:
            return "–"
        return format_html('<a href="{}">{} (#{})</a>', url, _("Open the transcript"), obj.transcript.pk)

    def _transcript_url(self, obj: Recording) -> str | None:
        try:
            transcript = obj.transcript
        except Transcript.DoesNotExist:
            return None
        try:
            return reverse("admin:qa_transcript_change", args=[transcript.pk])
        except NoReverseMatch:  # the transcripts' admin is not registered
            return None

    @admin.display(description=_("recording"))
    def listen(self, obj: Recording) -> str:
        if obj.pk is None or not obj.audio:
            return "–"
        url = reverse("admin:qa_recording_audio", args=[obj.pk])
        return format_html('<audio controls preload="none" src="{}"></audio> <a href="{}">{}</a>', url, url,
                           _("Download"))  # fmt: skip

    def get_urls(self) -> list[Any]:
        audio = self.admin_site.admin_view(self.audio_view)
        return [path("<int:pk>/audio/", audio, name="qa_recording_audio"), *super().get_urls()]

    def audio_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        """The uploaded audio, as it was uploaded; with byte ranges so that the player can seek."""
        recording = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_view_permission(request, recording):
            raise PermissionDenied
        return ranged_file_response(request, recording.audio, audio_type(recording.audio))

    @admin.action(description=_("Retry transcription of the failed recordings"), permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Recording]) -> None:
        selected = queryset.count()
        retried = recordings.retry_recordings(queryset)
        skipped = selected - retried
        if retried:
            message = ngettext(
                "%(count)d recording is queued for transcription again.",
                "%(count)d recordings are queued for transcription again.",
                retried,
            )
            self.message_user(request, message % {"count": retried}, messages.SUCCESS)
        if skipped:
            message = ngettext(
                "%(count)d recording had not failed and was left as it is.",
                "%(count)d recordings had not failed and were left as they are.",
                skipped,
            )
            self.message_user(request, message % {"count": skipped}, messages.WARNING)
