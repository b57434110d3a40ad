"""The offline recogniser (Pocketsphinx): English speech as timed segments, stereo calls, rates and sample
sizes, silence, and the audio and languages it refuses with the reason."""

from __future__ import annotations

import io

import pytest

from qa.transcription import PocketsphinxBackend, Transcription, TranscriptionBackend, TranscriptionError
from tests.qa import speech
from tests.qa.transcription_support import GREETING, HINT, NOT_WAV, REFUND

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def backend() -> PocketsphinxBackend:
    return PocketsphinxBackend(stereo_speakers=["agent", "consumer"])


def heard(backend: TranscriptionBackend, data: bytes, language: str = "en") -> list[tuple[str, str, int, int]]:
    result = backend.transcribe(io.BytesIO(data), language=language)
    return [(s.speaker, s.text, s.start_ms or 0, s.end_ms or 0) for s in result.segments]


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
