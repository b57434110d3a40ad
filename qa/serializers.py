"""API representations of recordings and transcript imports, and the inputs that create them.

Rows named in a request (agent, consumer, ticket) are looked up through core.tenancy.scope, as the
tickets API does: an unknown row and a forbidden one get the same answer.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.api import no_such
from crm.models import Consumer
from qa.models import Recording, Transcript
from tickets.models import Ticket
from tickets.serializers import ScopedPrimaryKeyRelatedField, ScopedSlugRelatedField


class RecordingSerializer(serializers.ModelSerializer[Recording]):
    agent: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)
    consumer: serializers.SlugRelatedField[Consumer] = serializers.SlugRelatedField(
        slug_field="external_id", read_only=True
    )
    uploaded_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)
    transcript = serializers.SerializerMethodField(help_text=_("The transcript's id once there is one."))

    class Meta:
        model = Recording
        fields = [
            "id",
            "status",
            "failure_reason",
            "attempts",
            "language",
            "agent",
            "consumer",
            "ticket",
            "called_at",
            "duration_seconds",
            "uploaded_by",
            "created_at",
            "transcribed_at",
            "transcript",
        ]

    def get_transcript(self, recording: Recording) -> int | None:
        try:
            return recording.transcript.pk
        except Transcript.DoesNotExist:
            return None


class UploadRecordingSerializer(serializers.Serializer[Any]):
    audio = serializers.FileField(
        help_text=_("The call's audio: PCM WAV, mono or stereo (left agent, right consumer).")
    )
    agent = ScopedSlugRelatedField(
        slug_field="username",
        queryset=get_user_model()._default_manager.filter(is_active=True, is_staff=True),
        required=False,
        allow_null=True,
        default=None,
        error_messages=no_such(_("No such agent.")),
        help_text=_("The agent's username; default: you. Only supervisors upload other agents' calls."),
    )
    consumer = ScopedSlugRelatedField(
        slug_field="external_id",
        queryset=Consumer.objects.all(),
        error_messages=no_such(_("No such consumer.")),
        help_text=_("The consumer's external id."),
    )
    ticket = ScopedPrimaryKeyRelatedField(
        queryset=Ticket.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        error_messages=no_such(_("No such ticket.")),
        help_text=_("The ticket's number; it must be the consumer's."),
    )
    language = serializers.ChoiceField(choices=["en", "zh"], default="en", help_text=_("en or zh."))
    called_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text=_("When the call started; default: now.")
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        request = self.context["request"]
        if data["agent"] is None:
            data["agent"] = request.user
        elif data["agent"] != request.user and not request.user.has_perm("qa.change_recording"):
            raise serializers.ValidationError({"agent": _("You can upload only your own calls.")})
        ticket = data["ticket"]
        if ticket is not None and ticket.consumer_id != data["consumer"].pk:
            raise serializers.ValidationError({"ticket": _("This ticket is another consumer's.")})
        return data


class ProblemSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField(allow_null=True, help_text=_("The line of the text, when it has lines."))
    segment = serializers.IntegerField(allow_null=True, help_text=_("The segment's number in the JSON, from 1."))
    field = serializers.CharField(help_text=_("The field at fault."))
    message = serializers.CharField()


class ImportedSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text=_("The transcript's id."))
    external_id = serializers.CharField()
    replaced = serializers.BooleanField(help_text=_("True when this replaced an earlier import of the same id."))
    segments = serializers.IntegerField(help_text=_("How many segments were saved."))
    rejected_segments = ProblemSerializer(many=True, help_text=_("The segments left out, and why."))
