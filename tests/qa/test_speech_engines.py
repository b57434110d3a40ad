"""The network recognisers (qa/speech/) against local servers that speak their documented protocols.

FunASR's runtime server and OpenAI-compatible transcription servers cannot run here (no Chinese model
can be downloaded), so tests/qa/engine_servers.py stands in for them: each checks every field our
client sends against the protocol's documentation and answers in its documented shape, including
its failures (a server that dies mid-file, one that never answers, errors, overload).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.utils import translation

from qa import recordings, transcription
from qa.models import Recording, Transcript
from qa.speech.funasr import FunASRBackend
from qa.speech.openai_api import OpenAITranscriptionBackend
from qa.transcription import PerLanguageBackend, PocketsphinxBackend, TranscriptionError
from tests.crm import factories as f
from tests.qa import speech
from tests.qa.engine_servers import Behaviour, funasr_server, openai_server

TONE = b"".join((8000 if (i // 20) % 2 else -8000).to_bytes(2, "little", signed=True) for i in range(16000))
HUSH = b"".join((300 if (i // 20) % 2 else -300).to_bytes(2, "little", signed=True) for i in range(16000))
FUNASR = "qa.speech.funasr.FunASRBackend"
OPENAI = "qa.speech.openai_api.OpenAITranscriptionBackend"


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _quick(settings: Any) -> None:
    settings.QA_ASR_TIMEOUT = 1
    settings.QA_ASR_ATTEMPTS = 3
    settings.QA_STEREO_SPEAKERS = ["agent", "consumer"]
    transcription._backend.cache_clear()


def stereo_call() -> bytes:
    """The agent (left) speaks quietly, the consumer (right) loudly: each channel "says" something else."""
    return speech.wav(speech.stereo(HUSH, TONE), rate=16000, channels=2)


def texts(segments: list[Any]) -> list[tuple[str, str, int | None, int | None]]:
    return [(s.speaker, s.text, s.start_ms, s.end_ms) for s in segments]


# --- FunASR -------------------------------------------------------------------------------------------


def test_funasr_recognises_each_speakers_channel_with_sentence_times(settings: Any) -> None:
    behaviour = Behaviour()
    with funasr_server(behaviour) as url:
        settings.QA_FUNASR_URL = url
        heard = FunASRBackend().transcribe(ContentFile(stereo_call(), name="c.wav"), language="zh")
    assert behaviour.errors == []
    assert texts(heard.segments) == [
        ("agent", "您好很高，", 0, 500),
        ("consumer", "请问全，", 0, 500),
        ("agent", "兴为您服务。", 500, 1000),
        ("consumer", "额退款吗。", 500, 1000),
    ]
    assert heard.duration_seconds == 1.0
    # Each channel went as 16 kHz 16-bit mono PCM, the whole of it, in its own session.
    assert [len(r["audio"]) for r in behaviour.received] == [32000, 32000]
    assert behaviour.received[0]["start"]["itn"] is True


def test_funasr_that_dies_mid_file_is_tried_again_and_then_succeeds(settings: Any) -> None:
    behaviour = Behaviour(script=["die", "answer"])
    with funasr_server(behaviour) as url:
        settings.QA_FUNASR_URL = url
        heard = FunASRBackend().transcribe(ContentFile(speech.wav(TONE, rate=16000), name="c.wav"), language="zh")
    assert [s.text for s in heard.segments] == ["请问全，", "额退款吗。"]
    assert [s.speaker for s in heard.segments] == ["unknown", "unknown"]
    assert len(behaviour.received) == 2


def test_funasr_that_keeps_dying_fails_with_what_it_did(settings: Any) -> None:
    behaviour = Behaviour(script=["die"])
    with funasr_server(behaviour) as url:
        settings.QA_FUNASR_URL = url
        with pytest.raises(TranscriptionError) as failed:
            FunASRBackend().transcribe(ContentFile(speech.wav(TONE, rate=16000), name="c.wav"), language="zh")
    assert str(failed.value).startswith("FunASR failed after 3 attempts: the server closed the connection")
    assert len(behaviour.received) == 3


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        ("silent", "FunASR sent no result within 1 seconds."),
        ("garbage", "FunASR answered something that is not a recognition result: <html>502 Bad Gateway</html>"),
    ],
)
def test_funasr_that_never_answers_or_answers_nonsense_fails_at_once(settings: Any, action: str, reason: str) -> None:
    behaviour = Behaviour(script=[action])
    with funasr_server(behaviour) as url:
        settings.QA_FUNASR_URL = url
        with pytest.raises(TranscriptionError) as failed:
            FunASRBackend().transcribe(ContentFile(speech.wav(TONE, rate=16000), name="c.wav"), language="zh")
    assert str(failed.value) == reason
    assert len(behaviour.received) == 1  # not retried: the engine answered


def test_funasr_nobody_listening_is_retried_and_named(settings: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.QA_FUNASR_URL = f"ws://127.0.0.1:{port}"
    with pytest.raises(TranscriptionError) as failed:
        FunASRBackend().transcribe(ContentFile(speech.wav(TONE, rate=16000), name="c.wav"), language="zh")
    assert str(failed.value).startswith(f"FunASR failed after 3 attempts: cannot connect to ws://127.0.0.1:{port}")


def test_funasr_refuses_a_language_its_server_does_not_recognise_at_upload(settings: Any) -> None:
    settings.QA_FUNASR_LANGUAGES = ["zh"]
    with pytest.raises(TranscriptionError) as refused:
        FunASRBackend().check(ContentFile(speech.wav(TONE, rate=16000)), language="en")
    assert refused.value.field == "language"


# --- OpenAI-compatible API ----------------------------------------------------------------------------


def test_the_openai_api_recognises_each_channel_and_sends_the_key(settings: Any) -> None:
    behaviour = Behaviour()
    with openai_server(behaviour, key="sk-test") as url:
        settings.QA_OPENAI_ASR_URL = url
        settings.QA_OPENAI_ASR_KEY = "sk-test"
        settings.QA_OPENAI_ASR_MODEL = "paraformer-zh"
        heard = OpenAITranscriptionBackend().transcribe(ContentFile(stereo_call(), name="c.wav"), language="zh")
    assert behaviour.errors == []
    assert texts(heard.segments) == [("agent", "您好很高兴为您服务", 0, 1000), ("consumer", "请问全额退款吗", 0, 1000)]
    assert [r["form"]["model"] for r in behaviour.received] == ["paraformer-zh", "paraformer-zh"]
    assert [r["form"]["language"] for r in behaviour.received] == ["zh", "zh"]


def test_the_openai_api_overloaded_is_tried_again(settings: Any) -> None:
    behaviour = Behaviour(script=["overloaded", "answer"])
    with openai_server(behaviour) as url:
        settings.QA_OPENAI_ASR_URL = url
        heard = OpenAITranscriptionBackend().transcribe(ContentFile(speech.wav(TONE, rate=16000)), language="zh")
    assert [s.text for s in heard.segments] == ["请问全额退款吗"] and len(behaviour.received) == 2


@pytest.mark.parametrize(
    ("script", "key", "reason", "tries"),
    [
        (["refuse"], "", "OpenAI-compatible API refused the recording: HTTP 400: Unsupported language: xx", 1),
        (["answer"], "wrong", "OpenAI-compatible API refused the recording: HTTP 401: Incorrect API key provided", 1),
        (["overloaded"], "", "OpenAI-compatible API failed after 3 attempts: HTTP 503: model is loading", 3),
        (["slow"], "", "OpenAI-compatible API sent no answer within 1 seconds.", 1),
    ],
)
def test_the_openai_api_failures_name_the_engines_answer(
    settings: Any, script: list[str], key: str, reason: str, tries: int
) -> None:
    behaviour = Behaviour(script=script)
    with openai_server(behaviour, key="sk-right" if key else "") as url:
        settings.QA_OPENAI_ASR_URL = url
        settings.QA_OPENAI_ASR_KEY = key
        with pytest.raises(TranscriptionError) as failed:
            OpenAITranscriptionBackend().transcribe(ContentFile(speech.wav(TONE, rate=16000)), language="zh")
    assert str(failed.value) == reason
    assert len(behaviour.received) == tries


# --- Chosen per language, end to end through the recordings' service ------------------------------------


def test_the_backend_is_chosen_per_language(settings: Any) -> None:
    settings.QA_TRANSCRIPTION_BACKEND = f"zh={FUNASR}, en=qa.transcription.PocketsphinxBackend"
    backend = transcription.get_backend()
    assert isinstance(backend, PerLanguageBackend)
    assert isinstance(backend.for_language("zh"), FunASRBackend)
    assert isinstance(backend.for_language("en"), PocketsphinxBackend)
    with pytest.raises(TranscriptionError) as refused:
        backend.check(ContentFile(speech.wav(TONE, rate=16000)), language="ja")
    assert refused.value.field == "language"


@pytest.fixture
def media(tmp_path: Path, settings: Any) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_a_chinese_call_is_transcribed_by_funasr_and_a_dead_engine_fails_it_with_the_reason(
    db: None, agent: User, media: Path, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.QA_TRANSCRIPTION_BACKEND = f"zh={FUNASR},en=qa.transcription.PocketsphinxBackend"
    consumer = f.consumer("C9")
    behaviour = Behaviour(script=["answer", "die"])
    with funasr_server(behaviour) as url:
        settings.QA_FUNASR_URL = url
        ok = recordings.upload_recording(
            Recording(audio=ContentFile(stereo_call(), name="a.wav"), agent=agent, consumer=consumer, language="zh")
        )
        assert recordings.transcribe_recording(ok.pk) == "failed"  # the 2nd channel's session died 3 times
        ok.refresh_from_db()
        assert ok.failure_reason.startswith("FunASR failed after 3 attempts: the server closed the connection")
        behaviour.script[:] = ["answer"]
        behaviour.received.clear()
        recordings.retry_recording(ok)
        assert recordings.transcribe_recording(ok.pk) == "done"
    transcript = Transcript.objects.get(recording=ok)
    assert (transcript.language, transcript.source) == ("zh", "recogniser")
    assert [(s.speaker, s.text) for s in transcript.segments.order_by("seq")] == [
        ("agent", "您好很高，"),
        ("consumer", "请问全，"),
        ("agent", "兴为您服务。"),
        ("consumer", "额退款吗。"),
    ]
