"""The recordings' state machine: upload, claim, recognise (outside any transaction), store, fail, retry.

A recording is uploaded (``upload_recording``), which queues ``qa.tasks.transcribe_recording`` on the
``transcription`` queue once the upload commits. The task calls ``transcribe_recording``:

1. **Claim** the recording with one conditional UPDATE: pending or failed → transcribing, attempts + 1.
   A recording already "transcribing" is claimed again only by a *redelivered* message — the broker
   hands a task back when the worker running it died (``acks_late`` + ``reject_on_worker_lost``, and
   Redis's visibility timeout when the whole machine is gone). A second, ordinary message for a
   recording that is being transcribed finds nothing to claim and does nothing.
2. **Recognise** with the configured backend (``qa.transcription``), outside any transaction (minutes of
   CPU; no row is locked meanwhile).
3. **Store**: lock the recording, and if it is still "transcribing" save the transcript
   (``qa.services.save_transcript``, which replaces any earlier one of this recording) and mark it
   done, in one transaction. If something else finished it meanwhile (an imported transcript, or a
   redelivered twin), the result is dropped.
4. **Fail** on any error: the recording is marked failed with the reason — the error's message, not a
   traceback (that goes to the log) — and ``retry_recording`` puts it back in the queue.

So running the task twice never transcribes twice, a done recording is never touched again, and a
worker dying mid-task loses nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.queue import enqueue, enqueue_each
from core.users import Actor
from qa.models import Recording, Transcript
from qa.services import save_transcript
from qa.transcription import Transcription, TranscriptionError, get_backend

log = logging.getLogger(__name__)

MAX_WORKER_DEATHS = 3  # claims of one recording by tasks whose worker died before a recording is given up
TRANSCRIBE_TASK = "qa.tasks.transcribe_recording"  # queue `transcription` (CELERY_TASK_ROUTES)


def check_upload(audio: Any, *, language: str) -> None:
    """Refuse audio the backend can never transcribe (not WAV, a language it does not know, too big):
    a ValidationError on the field at fault, now, rather than a failure later in the worker."""
    if not audio:
        raise ValidationError({"audio": _("Choose the call's audio file.")})
    limit = settings.QA_RECORDING_MAX_MB * 1024 * 1024
    if audio.size is not None and audio.size > limit:
        raise ValidationError(
            {
                "audio": _("The file is %(size).0f MB; recordings of at most %(max)d MB are accepted.")
                % {"size": audio.size / 1024 / 1024, "max": settings.QA_RECORDING_MAX_MB}
            }
        )
    try:
        get_backend().check(getattr(audio, "file", audio), language=language)
    except TranscriptionError as error:
        raise ValidationError({error.field: str(error)}) from None


class KeyReused(ValidationError):
    """The uploader's idempotency key names an upload of another call (another agent or consumer)."""


def uploaded_under(key: str, *, by: Actor | None) -> Recording | None:
    """The recording ``by`` already uploaded under ``key`` (keys are the uploader's own), if there is one."""
    return Recording.objects.filter(uploaded_by_id=getattr(by, "pk", None), idempotency_key=key).first()


def _same_upload(existing: Recording, recording: Recording) -> Recording:
    if (existing.agent_id, existing.consumer_id) != (recording.agent_id, recording.consumer_id):
        raise KeyReused({"idempotency_key": _("This key was used for another recording.")})
    return existing


def upload_recording(recording: Recording, *, by: Actor | None = None, key: str = "") -> Recording:
    """Store a new recording (built, unsaved, by a form or serializer) and queue its transcription on commit.

    With an idempotency ``key`` a retried upload (the answer was lost, the client tries again) returns
    the recording the first one stored, unchanged and not queued again; the same key for another call
    is a ``KeyReused``. Two uploads racing with one key: the unique constraint lets one in, the other
    returns its recording.
    """
    if recording.pk is not None:
        raise ValueError("upload_recording stores new recordings only")
    if len(key) > 64:
        raise ValidationError({"idempotency_key": _("An idempotency key of 1 to 64 characters is required.")})
    existing = uploaded_under(key, by=by) if key else None
    if existing is not None:
        return _same_upload(existing, recording)
    check_upload(recording.audio, language=recording.language)
    recording.status = Recording.Status.PENDING
    recording.attempts = 0
    recording.failure_reason = ""
    recording.uploaded_by = by
    recording.idempotency_key = key
    if recording.called_at is None:
        recording.called_at = timezone.now()
    try:
        with transaction.atomic():
            recording.save()
            if get_backend().recognises:
                enqueue(TRANSCRIBE_TASK, recording.pk)
    except IntegrityError:
        raced = uploaded_under(key, by=by) if key else None
        if raced is None:
            raise
        recording.audio.delete(save=False)  # the loser's copy of the file: the winner's row keeps its own
        return _same_upload(raced, recording)
    return recording


def retry_recording(recording: Recording) -> bool:
    """Put a failed recording back in the transcription queue; False if it was not failed (nothing done)."""
    with transaction.atomic():
        moved = Recording.objects.filter(pk=recording.pk, status=Recording.Status.FAILED).update(
            status=Recording.Status.PENDING, failure_reason=""
        )
        if moved and get_backend().recognises:
            enqueue(TRANSCRIBE_TASK, recording.pk)
    return bool(moved)


def retry_recordings(recordings: QuerySet[Recording]) -> int:
    """Put the failed ones of these recordings back in the transcription queue, in a fixed number of
    queries whatever their number; returns how many were (the others are left as they are)."""
    with transaction.atomic():
        failed = recordings.select_related(None).filter(status=Recording.Status.FAILED)
        ids = list(failed.select_for_update(of=("self",)).values_list("pk", flat=True))
        Recording.objects.filter(pk__in=ids).update(status=Recording.Status.PENDING, failure_reason="")
        if ids and get_backend().recognises:
            enqueue_each(TRANSCRIBE_TASK, ids)
    return len(ids)


def transcribe_recording(recording_id: int, *, redelivered: bool = False) -> str:
    """Transcribe one recording if it is waiting (see the module's doc); returns what happened:
    "done", "failed", "waiting" (the backend recognises nothing itself) or "skipped" (nothing to do)."""
    backend = get_backend()
    if not backend.recognises:
        return "waiting"
    claimable = Q(status__in=[Recording.Status.PENDING, Recording.Status.FAILED])
    if redelivered:  # the worker that claimed it died: the broker handed its task back
        # ... unless workers keep dying on this recording (a poison file): then it fails for good.
        gave_up = Recording.objects.filter(
            pk=recording_id, status=Recording.Status.TRANSCRIBING, attempts__gte=MAX_WORKER_DEATHS
        ).update(
            status=Recording.Status.FAILED,
            failure_reason=_(
                "A worker stopped while transcribing it, after %(count)d attempts; retry it once the cause is fixed."
            )
            % {"count": MAX_WORKER_DEATHS},
        )
        if gave_up:
            return "failed"
        claimable |= Q(status=Recording.Status.TRANSCRIBING)
    claimed = Recording.objects.filter(claimable, pk=recording_id).update(
        status=Recording.Status.TRANSCRIBING, attempts=F("attempts") + 1, failure_reason=""
    )
    if not claimed:
        return "skipped"
    recording = Recording.objects.select_related("agent", "consumer", "ticket").get(pk=recording_id)
    try:
        with recording.audio.open("rb") as audio:
            heard = backend.transcribe(audio, language=recording.language)
        if not heard.segments:
            raise TranscriptionError(_("No speech was recognised in the recording."))
        return _store(recording_id, heard)
    except SoftTimeLimitExceeded:
        reason = _("Transcription took longer than the %(seconds)d-second limit (QA_TRANSCRIPTION_TIME_LIMIT).") % {
            "seconds": settings.QA_TRANSCRIPTION_TIME_LIMIT
        }
    except TranscriptionError as error:
        reason = str(error)
    except FileNotFoundError:
        reason = _("The audio file is missing from storage.")
    except Exception as error:
        log.exception("transcribing recording %s failed", recording_id)
        reason = f"{type(error).__name__}: {error}".strip().rstrip(":")
    Recording.objects.filter(pk=recording_id, status=Recording.Status.TRANSCRIBING).update(
        status=Recording.Status.FAILED, failure_reason=reason[:2000]
    )
    return "failed"


def _store(recording_id: int, heard: Transcription) -> str:
    with transaction.atomic():
        recording = (
            Recording.objects.select_for_update(of=("self",))
            .select_related("agent", "consumer", "ticket")
            .get(pk=recording_id)
        )
        if recording.status != Recording.Status.TRANSCRIBING:
            return "skipped"  # finished meanwhile by an import or a redelivered twin: theirs stands
        save_transcript(
            kind=Transcript.Kind.CALL,
            source=Transcript.Source.RECOGNISER,
            segments=heard.segments,
            started_at=recording.called_at,
            agent=recording.agent,
            consumer=recording.consumer,
            ticket=recording.ticket,
            recording=recording,
            language=recording.language,
            duration_seconds=heard.duration_seconds,
        )
        mark_transcribed(recording, duration_seconds=heard.duration_seconds)
    return "done"


def mark_transcribed(recording: Recording, *, duration_seconds: float | None) -> None:
    """The recording has its transcript (recognised here or imported): done, and why it failed before is moot."""
    recording.status = Recording.Status.DONE
    recording.failure_reason = ""
    recording.transcribed_at = timezone.now()
    if duration_seconds is not None:
        recording.duration_seconds = duration_seconds
    recording.save(update_fields=["status", "failure_reason", "transcribed_at", "duration_seconds"])
