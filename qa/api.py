"""API views of recordings and transcript imports (routes in qa/urls.py).

Each view parses its input, calls one service (qa.recordings, qa.importing) and answers with the
result; bad input is a 400 whose messages name the field.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import service_errors
from core.exceptions import Conflict
from core.filters import StrictFilterSet
from core.pagination import CursorPagination
from core.parsers import FormParser, JSONParser, MultiPartParser, PlainTextParser
from core.permissions import ModelPermissions
from core.queue import watching
from core.tenancy import TenantScopedQuerysetMixin
from core.users import actor
from qa import selectors
from qa.importing import Imported, import_document, import_text
from qa.models import Recording, Transcript
from qa.recordings import KeyReused, retry_recording, upload_recording
from qa.serializers import ImportedSerializer, RecordingSerializer, UploadRecordingSerializer

RECORDINGS = Recording.objects.select_related("agent", "consumer", "uploaded_by", "transcript")
TEXT_METADATA = ("external_id", "agent", "consumer", "ticket", "recording", "started_at", "language", "duration")


class RecordingFilter(StrictFilterSet):
    agent = django_filters.CharFilter(field_name="agent__username", help_text=_("The agent's username."))
    consumer = django_filters.CharFilter(field_name="consumer__external_id", help_text=_("Consumer external id."))

    class Meta:
        model = Recording
        fields = ["status", "language", "ticket"]


class ReadableRecordingsMixin(TenantScopedQuerysetMixin):
    """The recordings the requester may read: the transcripts' rule (qa.selectors.readable_by), tenancy on top."""

    def get_queryset(self) -> QuerySet[Recording]:
        return selectors.readable_by(super().get_queryset(), self.request.user)


class RecordingPagination(CursorPagination):
    ordering = ("-created_at", "-id")


class ChangeRecordingPermission(ModelPermissions):
    """Retrying a recording changes it, although the request is a POST."""

    perms_map = {
        **ModelPermissions.perms_map,
        "POST": ["%(app_label)s.view_%(model_name)s", "%(app_label)s.change_%(model_name)s"],
    }


# Views carry extend_schema texts rather than docstrings: drf-spectacular publishes either, and these translate.
@extend_schema_view(
    get=extend_schema(
        summary=_("List recordings"),
        description=_(
            "Uploaded call recordings, newest first, with where their transcription stands (pending,"
            " transcribing, done, failed with the reason) and their transcript's id. Filter by status,"
            " language, agent, consumer or ticket. Needs permission to view recordings."
        ),
    ),
    post=extend_schema(
        summary=_("Upload a recording"),
        description=_(
            "A call's audio (multipart form: audio, consumer, optional agent, ticket, language, called_at)."
            " It is stored and queued for transcription; the answer is 202 with its id and status: poll the"
            " recording until it is done or failed. Audio the recogniser cannot read (not PCM WAV, a"
            " language it does not know) is refused at once with a 400 naming the field. Needs permission"
            " to add recordings.\n\n"
            "Retries are safe with an Idempotency-Key header (1 to 64 characters): the same key answers 200"
            " with the recording the first upload stored (not stored or queued again); the same key for"
            " another agent or consumer is refused with 409. Keys are the uploader's own: another user's"
            " same key is an upload of their own. While the task queue is down the recording is kept and"
            " queued when it is back (still 202)."
        ),
        request={"multipart/form-data": UploadRecordingSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description=_("Makes a retried upload return the first one's recording."),
            )
        ],
        responses={
            200: OpenApiResponse(RecordingSerializer, description=_("A retry: the first upload's recording.")),
            202: OpenApiResponse(RecordingSerializer, description=_("Stored and queued.")),
            400: OpenApiResponse(description=_("Invalid input; the messages name the fields.")),
            409: OpenApiResponse(description=_("The key was used for another recording.")),
        },
    ),
)
class RecordingListView(ReadableRecordingsMixin, generics.ListCreateAPIView[Recording]):
    queryset = RECORDINGS
    filterset_class = RecordingFilter
    pagination_class = RecordingPagination
    parser_classes = [MultiPartParser, FormParser]

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return UploadRecordingSerializer if self.request.method == "POST" else RecordingSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = self.get_serializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = Recording(**form.validated_data)
        key = request.headers.get("Idempotency-Key", "")
        with service_errors():
            try:
                recording = upload_recording(upload, by=actor(request), key=key)
            except KeyReused as error:
                raise Conflict(error.messages[0], serializers.as_serializer_error(error)) from error
        body = RecordingSerializer(RECORDINGS.get(pk=recording.pk), context=self.get_serializer_context()).data
        # A retry under the same key is answered with the first upload's recording, as it now stands.
        return Response(body, status=status.HTTP_202_ACCEPTED if recording is upload else status.HTTP_200_OK)


@extend_schema_view(
    get=extend_schema(
        summary=_("One recording"),
        description=_("A recording's transcription status, failure reason, attempts and transcript id."),
    )
)
class RecordingDetailView(ReadableRecordingsMixin, generics.RetrieveAPIView[Recording]):
    queryset = RECORDINGS
    serializer_class = RecordingSerializer


class RecordingRetryView(ReadableRecordingsMixin, generics.GenericAPIView[Recording]):
    queryset = RECORDINGS
    serializer_class = RecordingSerializer
    permission_classes = [ChangeRecordingPermission]
    filter_backends: list[Any] = []
    pagination_class = None

    @extend_schema(
        summary=_("Retry a failed recording"),
        description=_(
            "Put a failed recording back in the transcription queue (202). A recording that has not failed"
            " is left as it is (409). Needs permission to view and change recordings."
        ),
        request=None,
        responses={202: RecordingSerializer, 409: OpenApiResponse(description=_("The recording has not failed."))},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        recording = self.get_object()
        if not retry_recording(recording):
            recording.refresh_from_db(fields=["status"])
            message = _("Only a failed recording can be retried; this one is “%(status)s”.") % {
                "status": recording.get_status_display()
            }
            raise Conflict(message, {"status": [message]})
        body = self.get_serializer(RECORDINGS.get(pk=recording.pk)).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class TranscriptImportView(generics.GenericAPIView[Transcript]):
    queryset = Transcript.objects.none()  # for ModelPermissions: POST needs qa.add_transcript
    serializer_class = ImportedSerializer
    parser_classes = [JSONParser, PlainTextParser]
    filter_backends: list[Any] = []
    pagination_class = None

    @extend_schema(
        summary=_("Import a transcript"),
        description=_(
            "A transcript produced elsewhere, in the format of docs/transcript-format.md: a JSON document"
            " (application/json), or plain text (text/plain) of “agent: …” / “consumer: …” lines with the"
            " metadata as query parameters (external_id, agent, started_at, and optionally consumer, ticket,"
            " recording, language, duration). Importing an external_id again replaces that transcript"
            " (so a retry never makes a second one)."
            " Segments with bad input are left out and listed under rejected_segments (201); when nothing"
            " can be imported the answer is 400 with the messages by field. While the task queue is down"
            " the transcript is saved and its evaluation by the QA rules waits to be queued: 202, the same"
            " body. Needs permission to add transcripts."
        ),
        request={"application/json": OpenApiTypes.OBJECT, "text/plain": OpenApiTypes.STR},
        parameters=[
            OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.QUERY, description=_("For text/plain only."))
            for name in TEXT_METADATA
        ],
        responses={
            201: ImportedSerializer,
            202: OpenApiResponse(ImportedSerializer, description=_("Saved; its evaluation waits for the queue.")),
            400: OpenApiResponse(description=_("Nothing could be imported; the messages name the fields.")),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with watching() as held:
            if isinstance(request.data, str):
                metadata = {name: _query_value(name, request.query_params.get(name)) for name in TEXT_METADATA}
                outcome = import_text(request.data, metadata, user=request.user)
            else:
                outcome = import_document(request.data, user=actor(request))
        if outcome.transcript is None:
            raise serializers.ValidationError(_errors(outcome))
        body = {
            "id": outcome.transcript.pk,
            "external_id": outcome.transcript.external_id,
            "replaced": outcome.replaced,
            "segments": outcome.segments,
            "rejected_segments": [problem.as_dict() for problem in outcome.rejected_segments],
        }
        return Response(body, status=status.HTTP_202_ACCEPTED if held.rows else status.HTTP_201_CREATED)


def _query_value(name: str, value: str | None) -> str | None:
    # "+08:00" arrives as " 08:00" when the caller forgot to encode the "+" of the offset.
    if name == "started_at" and value and re.search(r"\d \d\d:?\d\d$", value):
        return value[:-6] + "+" + value[-5:] if value[-3] == ":" else value[:-5] + "+" + value[-4:]
    return value


def _errors(outcome: Imported) -> dict[str, list[str]]:
    """Messages by field; the segments' problems (which left no segment to import) go under "segments"."""
    body: dict[str, list[str]] = defaultdict(list)
    for problem in outcome.errors:
        where = problem.where()
        body[problem.field].append(f"{where}: {problem.message}" if where else problem.message)
    if outcome.rejected_segments:
        body["segments"].extend(str(problem) for problem in outcome.rejected_segments)
    return dict(body)
