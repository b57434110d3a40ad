"""From recording to transcript: the offline recogniser on real speech, the claim, failures, retries, a dying worker."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import translation

from crm.models import Consumer
from qa import importing, recordings
from qa.models import Recording, Transcript
from qa.segments import SegmentIn
from qa.transcription import PocketsphinxBackend, Transcription, TranscriptionBackend, TranscriptionError
from tests.conftest import celery_process, stop_process
from tests.crm import factories as f
from tests.qa import speech

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALLED_AT = datetime(2026, 11, 23, 10, 15, tzinfo=SHANGHAI)
REFUND = "I want a refund for my order."
GREETING = "Hello, thank you for calling customer service."


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def media(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Uploaded audio goes to a temporary folder, here and in worker processes started after this fixture."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    monkeypatch.setenv("MEDIA_ROOT", str(root))
    return root


@pytest.fixture
def backend() -> PocketsphinxBackend:
    return PocketsphinxBackend(stereo_speakers=["agent", "consumer"])


def heard(backend: TranscriptionBackend, data: bytes, language: str = "en") -> list[tuple[str, str, int, int]]:
    result = backend.transcribe(io.BytesIO(data), language=language)
    return [(s.speaker, s.text, s.start_ms or 0, s.end_ms or 0) for s in result.segments]


def wait_for(condition: Callable[[], bool], timeout: float = 60, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# --- The offline recogniser ----------------------------------------------------------------------


def test_the_offline_backend_recognises_english_speech_as_a_timed_segment(backend: PocketsphinxBackend) -> None:
    data = speech.spoken(REFUND)
    result = backend.transcribe(io.BytesIO(data), language="en")

    [segment] = result.segments
    # espeak-ng's voice through PocketSphinx comes out as "i want a refund for my order" on this machine;
    # the words asserted are the ones it recognises whatever the resampler's phase.
    assert segment.speaker == "unknown"  # mono: one channel, both voices, no way to tell them apart
    assert "refund" in segment.text.split() and "order" in segment.text.split()
    assert result.duration_seconds == pytest.approx(len(speech.pcm(REFUND)[0]) / 2 / 22050, abs=0.001)
    assert segment.start_ms is not None and segment.end_ms is not None
    assert result.duration_seconds is not None
    assert 0 <= segment.start_ms < 500 < 2500 < segment.end_ms <= result.duration_seconds * 1000


@pytest.mark.parametrize(("rate", "width"), [(8000, 1), (11025, 2), (16000, 2), (44100, 3), (48000, 4)])
def test_wav_at_other_rates_and_sample_sizes_is_converted_and_recognised(
    backend: PocketsphinxBackend, rate: int, width: int
) -> None:
    frames, espeak_rate = speech.pcm(REFUND)
    data = speech.wav(speech.resampled(frames, espeak_rate, rate, width=width), rate=rate, width=width)
    [(speaker, text, _start, _end)] = heard(backend, data)
    assert speaker == "unknown"
    assert text.endswith(("for my order", "or my order"))


def test_a_stereo_call_gets_the_agent_from_the_left_channel_and_the_consumer_from_the_right(
    backend: PocketsphinxBackend,
) -> None:
    agent, rate = speech.pcm(GREETING)
    consumer, _rate = speech.pcm(REFUND)
    pause = speech.silence(1.0)
    # The agent speaks first on the left; after a pause the consumer answers on the right.
    data = speech.wav(speech.stereo(agent + pause, b"\0" * len(agent) + pause + consumer), channels=2)

    turns = heard(backend, data)
    assert [speaker for speaker, *_ in turns] == ["agent", "consumer"]
    (_, agent_text, _, agent_end), (_, consumer_text, consumer_start, consumer_end) = turns
    assert "you" in agent_text.split() and "customer" in agent_text.split()
    assert consumer_text.endswith("my order")
    agent_seconds = len(agent) / 2 / rate
    assert agent_end <= agent_seconds * 1000 < consumer_start < consumer_end
    assert consumer_start == pytest.approx((agent_seconds + 1.0) * 1000, abs=500)

    # QA_STEREO_SPEAKERS says which side is whose.
    swapped = PocketsphinxBackend(stereo_speakers=["consumer", "agent"])
    assert [speaker for speaker, *_ in heard(swapped, data)] == ["consumer", "agent"]


def test_stereo_that_carries_one_signal_twice_is_read_as_mono(backend: PocketsphinxBackend) -> None:
    frames, _rate = speech.pcm(REFUND)
    turns = heard(backend, speech.wav(speech.stereo(frames, frames), channels=2))
    assert [speaker for speaker, *_ in turns] == ["unknown"]  # not the same words twice, once per "speaker"


def test_silence_has_no_segments(backend: PocketsphinxBackend) -> None:
    result = backend.transcribe(io.BytesIO(speech.wav(speech.silence(3))), language="en")
    assert result == Transcription(segments=[], duration_seconds=3.0)


def float_wav() -> bytes:
    """A WAV of 32-bit float samples (format code 3), which is not PCM."""
    data = b"\0" * 400
    fmt = (3).to_bytes(2, "little") + (1).to_bytes(2, "little") + (16000).to_bytes(4, "little")
    fmt += (64000).to_bytes(4, "little") + (4).to_bytes(2, "little") + (32).to_bytes(2, "little")
    body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt + b"data" + len(data).to_bytes(4, "little") + data
    return b"RIFF" + len(body).to_bytes(4, "little") + body


HINT = "ffmpeg -i INPUT -ac 1 -ar 16000 -c:a pcm_s16le OUTPUT.wav"
NOT_WAV = "The file is %s audio, not WAV. Convert it to PCM WAV first, e.g. with: " + HINT
ENGLISH_ONLY = (
    "The offline recogniser understands English only, and this recording is in zh: import its transcript instead."
)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"ID3\x04\x00" + b"\0" * 100, NOT_WAV % "MP3"),
        (b"OggS" + b"\0" * 100, NOT_WAV % "Ogg"),
        (b"\0\0\0\x20ftypM4A " + b"\0" * 100,
         NOT_WAV % "MP4/M4A"),
        (b"hello, this is text", f"The file is not a WAV recording. Upload PCM WAV audio (convert it with: {HINT})."),
        (b"", f"The file is not a WAV recording. Upload PCM WAV audio (convert it with: {HINT})."),
        (float_wav(), f"The WAV file is not plain PCM audio (unknown format: 3). Convert it with: {HINT}"),
        (speech.wav(b"\0" * 60, channels=3),
         "The recording has 3 channels; only mono or stereo (agent and consumer) can be transcribed."),
        (speech.wav(b"\0" * 60, rate=4000), "The sample rate is 4000 Hz; speech needs at least 8000 Hz."),
        (speech.wav(b""), "The recording is empty: it has no audio."),
        (speech.wav(b"\0" * 60)[:30], "The WAV file is truncated: its header is incomplete."),
    ],
)  # fmt: skip
def test_audio_the_recogniser_cannot_read_is_refused_with_the_reason(
    backend: PocketsphinxBackend, data: bytes, message: str
) -> None:
    with pytest.raises(TranscriptionError) as refused:
        backend.check(io.BytesIO(data), language="en")
    assert str(refused.value) == message
    assert refused.value.field == "audio"
    with pytest.raises(TranscriptionError):
        backend.transcribe(io.BytesIO(data), language="en")


def test_the_offline_recogniser_refuses_a_language_it_does_not_know(backend: PocketsphinxBackend) -> None:
    with pytest.raises(TranscriptionError) as refused:
        backend.check(io.BytesIO(speech.wav(b"\0" * 60)), language="zh")
    assert refused.value.field == "language"
    assert str(refused.value) == (
        "The offline recogniser understands English only, and this recording is in zh: import its transcript instead."
    )


# --- The service: claim, recognise, store, fail, retry --------------------------------------------


@pytest.fixture
def call(db: None, agent: User, media: Path) -> Callable[..., Recording]:
    consumer = f.consumer("C1", display_name="王小明")

    def upload(data: bytes, **fields: Any) -> Recording:
        fields = {"language": "en", "called_at": CALLED_AT, **fields}
        recording = Recording(audio=ContentFile(data, name="call.wav"), agent=agent, consumer=consumer, **fields)
        return recordings.upload_recording(recording, by=agent)

    return upload


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


# --- Through a real Celery worker ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_recording_uploaded_through_the_api_is_transcribed_end_to_end_by_the_worker(
    media: Path, make_user: Callable[..., User], client_for: Callable[[User], Client],
    celery_worker: subprocess.Popen[bytes],
) -> None:  # fmt: skip
    from core import roles

    agent = make_user("caller", roles.AGENT)
    consumer = Consumer.objects.create(external_id="C-E2E", display_name="王小明", registered_at=CALLED_AT)
    audio = io.BytesIO(speech.spoken(REFUND))
    audio.name = "call.wav"
    response = client_for(agent).post(
        "/api/recordings/", {"audio": audio, "consumer": consumer.external_id, "language": "en"}
    )
    assert response.status_code == 202, response.content
    recording_id = response.json()["id"]
    assert response.json()["status"] == "pending"

    done = Recording.objects.filter(pk=recording_id, status__in=["done", "failed"])
    wait_for(done.exists, timeout=90, what="the worker to transcribe the recording")
    recording = Recording.objects.get(pk=recording_id)
    assert (recording.status, recording.failure_reason, recording.attempts) == ("done", "", 1)
    text = " ".join(Transcript.objects.get(recording=recording).segments.values_list("text", flat=True))
    assert "refund" in text.split() and "order" in text.split()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_killed_mid_transcription_loses_nothing(
    media: Path,
    call: Callable[..., Recording],
) -> None:
    from celery import current_app

    # About 40 seconds of speech: long enough to be caught in the middle of recognising it.
    sentences = [REFUND, GREETING] * 6
    frames = b"".join(speech.pcm(sentence)[0] + speech.silence(0.6) for sentence in sentences)
    worker = celery_process(
        "worker", "-P", "prefork", "-c", "1", "-n", f"dying-{os.getpid()}@%h", "-Q", "celery,transcription,search",
        "--without-mingle", "--without-gossip", "-l", "warning",
    )  # fmt: skip
    try:
        wait_for(lambda: bool(current_app.control.ping(timeout=0.5)), timeout=30, what="the worker to start")
        recording = call(speech.wav(frames))  # queued on commit
        wait_for(Recording.objects.filter(pk=recording.pk, status="transcribing").exists, timeout=30, what="the claim")
        [child] = children_of(worker.pid)
        os.kill(child, signal.SIGKILL)  # the pool process dies mid-task, as if the OOM killer took it

        wait_for(
            Recording.objects.filter(pk=recording.pk, status__in=["done", "failed"]).exists,
            timeout=120,
            what="the redelivered task",
        )
    finally:
        stop_process(worker)
    recording.refresh_from_db()
    assert (recording.status, recording.attempts) == ("done", 2)  # claimed again by the redelivered message
    transcript = Transcript.objects.get(recording=recording)
    assert transcript.segments.count() >= 10
    assert "order" in " ".join(transcript.segments.values_list("text", flat=True)).split()
