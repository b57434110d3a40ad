"""Transcribing a recording: upload, claim, recognise, store, fail and retry; a transcript imported meanwhile
wins; a recording whose workers keep dying is failed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from qa import importing, recordings
from qa.models import Recording, Transcript
from qa.segments import SegmentIn
from qa.transcription import Transcription, TranscriptionBackend
from tests.qa import speech
from tests.qa.transcription_support import CALLED_AT, NOT_WAV, REFUND

pytestmark = pytest.mark.usefixtures("english")

ENGLISH_ONLY = (
    "The offline recogniser understands English only, and this recording is in zh: import its transcript instead."
)


def test_uploading_stores_the_recording_pending_and_queues_it_after_the_commit(
    call: Callable[..., Recording], agent: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as queued:
        recording = call(speech.spoken(REFUND))
    recording.refresh_from_db()
    assert (recording.status, recording.attempts, recording.uploaded_by) == ("pending", 0, agent)
    assert len(queued) == 1  # qa.tasks.transcribe_recording.delay(id), on commit
    assert Path(recording.audio.path).read_bytes()[:4] == b"RIFF"


@pytest.mark.parametrize(
    ("fields", "data", "errors"),
    [
        ({}, b"ID3" + b"\0" * 50,
         {"audio": [NOT_WAV % "MP3"]}),
        ({"language": "zh"}, None, {"language": [ENGLISH_ONLY]}),
    ],
)  # fmt: skip
def test_an_upload_the_recogniser_cannot_read_is_refused_and_nothing_is_stored(
    call: Callable[..., Recording], media: Path, fields: dict[str, Any], data: bytes | None,
    errors: dict[str, list[str]], django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    with django_capture_on_commit_callbacks() as queued, pytest.raises(ValidationError) as refused:
        call(data or speech.wav(b"\0" * 60), **fields)
    assert refused.value.message_dict == errors
    assert Recording.objects.count() == 0 and queued == []


def test_too_big_a_file_is_refused(call: Callable[..., Recording], settings: Any) -> None:
    settings.QA_RECORDING_MAX_MB = 0
    with pytest.raises(ValidationError) as refused:
        call(speech.wav(b"\0" * 60))
    assert refused.value.message_dict == {"audio": ["The file is 0 MB; recordings of at most 0 MB are accepted."]}


def test_transcribing_saves_the_transcript_and_marks_the_recording_done_once(
    call: Callable[..., Recording], agent: User, django_capture_on_commit_callbacks: Any
) -> None:
    recording = call(speech.spoken(REFUND))
    assert recordings.transcribe_recording(recording.pk) == "done"

    recording.refresh_from_db()
    assert (recording.status, recording.attempts, recording.failure_reason) == ("done", 1, "")
    assert recording.transcribed_at is not None
    assert recording.duration_seconds == pytest.approx(len(speech.pcm(REFUND)[0]) / 2 / 22050, abs=0.001)
    transcript = Transcript.objects.get(recording=recording)
    assert (transcript.kind, transcript.source, transcript.language) == ("call", "recogniser", "en")
    assert transcript.consumer is not None
    assert (transcript.agent, transcript.consumer.external_id, transcript.started_at) == (agent, "C1", CALLED_AT)
    assert transcript.duration_seconds == recording.duration_seconds
    [segment] = transcript.segments.all()
    assert "refund" in segment.text.split() and segment.speaker == "unknown"

    # Idempotent: the same task again finds nothing to claim and changes nothing.
    with django_capture_on_commit_callbacks() as queued:
        assert recordings.transcribe_recording(recording.pk) == "skipped"
        assert recordings.transcribe_recording(recording.pk, redelivered=True) == "skipped"
    recording.refresh_from_db()
    assert (recording.status, recording.attempts) == ("done", 1)
    assert Transcript.objects.get().pk == transcript.pk and queued == []


def test_a_failure_is_marked_with_its_reason_and_a_retry_queues_it_again(
    call: Callable[..., Recording], django_capture_on_commit_callbacks: Any
) -> None:
    recording = call(speech.wav(speech.silence(2)))
    assert recordings.transcribe_recording(recording.pk) == "failed"
    recording.refresh_from_db()
    assert (recording.status, recording.attempts) == ("failed", 1)
    assert recording.failure_reason == "No speech was recognised in the recording."
    assert not Transcript.objects.exists()

    with django_capture_on_commit_callbacks() as queued:
        assert recordings.retry_recording(recording) is True
    recording.refresh_from_db()
    assert (recording.status, recording.failure_reason, recording.attempts) == ("pending", "", 1)
    assert len(queued) == 1
    # A retry of what has not failed does nothing.
    with django_capture_on_commit_callbacks() as queued:
        assert recordings.retry_recording(recording) is False
    assert queued == []

    assert recordings.transcribe_recording(recording.pk) == "failed"  # the same audio fails the same way
    recording.refresh_from_db()
    assert (recording.status, recording.attempts) == ("failed", 2)


def test_a_missing_audio_file_fails_the_recording_with_that_reason(call: Callable[..., Recording]) -> None:
    recording = call(speech.wav(speech.silence(1)))
    Path(recording.audio.path).unlink()
    assert recordings.transcribe_recording(recording.pk) == "failed"
    recording.refresh_from_db()
    assert recording.failure_reason == "The audio file is missing from storage."


class ExplodingBackend(TranscriptionBackend):
    """A backend whose recogniser crashes: the recording says what happened, not a traceback."""

    def transcribe(self, audio: IO[bytes], *, language: str) -> Transcription:
        raise RuntimeError("decoder exploded at frame 812")


class SlowBackend(TranscriptionBackend):
    def transcribe(self, audio: IO[bytes], *, language: str) -> Transcription:
        raise SoftTimeLimitExceeded()


class ImportedMeanwhileBackend(TranscriptionBackend):
    """While this backend "recognises", the call's transcript is imported from elsewhere."""

    def transcribe(self, audio: IO[bytes], *, language: str) -> Transcription:
        recording = Recording.objects.get()
        outcome = importing.import_document(
            {"external_id": "vendor-1", "recording": recording.pk, "segments": [{"speaker": "agent", "text": "导入"}]}
        )
        assert outcome.transcript is not None
        return Transcription(segments=[SegmentIn(speaker="unknown", text="recognised")], duration_seconds=1.0)


@pytest.mark.parametrize(
    ("backend_name", "reason"),
    [
        ("ExplodingBackend", "RuntimeError: decoder exploded at frame 812"),
        ("SlowBackend", "Transcription took longer than the 3000-second limit (QA_TRANSCRIPTION_TIME_LIMIT)."),
    ],
)
def test_an_unexpected_error_fails_the_recording_with_the_exception_message(
    call: Callable[..., Recording], settings: Any, backend_name: str, reason: str
) -> None:
    recording = call(speech.wav(speech.silence(1)))
    settings.QA_TRANSCRIPTION_BACKEND = f"{__name__}.{backend_name}"
    assert recordings.transcribe_recording(recording.pk) == "failed"
    recording.refresh_from_db()
    assert (recording.status, recording.failure_reason) == ("failed", reason)


def test_a_transcript_imported_while_recognising_wins_and_the_recognised_one_is_dropped(
    call: Callable[..., Recording], settings: Any
) -> None:
    recording = call(speech.wav(speech.silence(1)))
    settings.QA_TRANSCRIPTION_BACKEND = f"{__name__}.ImportedMeanwhileBackend"
    assert recordings.transcribe_recording(recording.pk) == "skipped"
    recording.refresh_from_db()
    assert recording.status == "done"
    transcript = Transcript.objects.get()
    assert (transcript.source, transcript.external_id) == ("import", "vendor-1")
    assert list(transcript.segments.values_list("text", flat=True)) == ["导入"]


def test_a_recording_being_transcribed_is_left_alone_unless_the_broker_redelivers_its_task(
    call: Callable[..., Recording],
) -> None:
    recording = call(speech.spoken(REFUND))
    # A worker claimed it and died before finishing: the row still says "transcribing".
    Recording.objects.filter(pk=recording.pk).update(status=Recording.Status.TRANSCRIBING, attempts=1)

    assert recordings.transcribe_recording(recording.pk) == "skipped"  # an ordinary duplicate message
    recording.refresh_from_db()
    assert (recording.status, recording.attempts) == ("transcribing", 1)

    assert recordings.transcribe_recording(recording.pk, redelivered=True) == "done"  # the dead worker's task
    recording.refresh_from_db()
    assert (recording.status, recording.attempts) == ("done", 2)
    assert Transcript.objects.filter(recording=recording).count() == 1


def test_a_recording_whose_workers_keep_dying_is_failed_instead_of_claimed_forever(
    call: Callable[..., Recording],
) -> None:
    recording = call(speech.wav(speech.silence(1)))
    Recording.objects.filter(pk=recording.pk).update(status=Recording.Status.TRANSCRIBING, attempts=3)
    assert recordings.transcribe_recording(recording.pk, redelivered=True) == "failed"
    recording.refresh_from_db()
    assert (recording.status, recording.attempts) == ("failed", 3)
    assert (
        recording.failure_reason
        == "A worker stopped while transcribing it, after 3 attempts; retry it once the cause is fixed."
    )


def test_with_imported_transcripts_a_recording_waits_for_its_import(
    call: Callable[..., Recording], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.QA_TRANSCRIPTION_BACKEND = "qa.transcription.ImportedTranscriptsBackend"
    with django_capture_on_commit_callbacks() as queued:
        recording = call(b"any audio at all, even an MP3")
    assert queued == []  # nothing to recognise here
    assert recordings.transcribe_recording(recording.pk) == "waiting"
    recording.refresh_from_db()
    assert (recording.status, recording.attempts) == ("pending", 0)

    importing.import_document(
        {"external_id": "v-1", "recording": recording.pk, "segments": [{"speaker": "consumer", "text": "我要退款"}]}
    )
    recording.refresh_from_db()
    assert recording.status == "done"
