"""A WAV whose header lies about its sizes is refused at upload, naming the field, never a 500 or a retry loop."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import translation

from qa.models import Recording
from qa.transcription import TranscriptionError, read_wav_header
from tests.crm import factories as f
from tests.qa import speech

GOOD = speech.wav(b"\1\2" * 16000, rate=16000)  # 44-byte header, then 32,000 bytes of audio


def patched(offset: int, value: int, data: bytes = GOOD) -> bytes:
    out = bytearray(data)
    out[offset : offset + 4] = struct.pack("<I", value)
    return bytes(out)


CORRUPT = [
    pytest.param(GOOD[:100], "its data part has 32000 bytes, but the file has 56", id="truncated"),
    pytest.param(GOOD[:44], "its data part has 32000 bytes, but the file has 0", id="header-only"),
    pytest.param(patched(40, 0xFFFFFFFF), "its data part has 4294967295 bytes, but the file has 32000", id="data-size"),
    pytest.param(patched(16, 0xFFFFFFF0), "its format header has 4294967280 bytes, not 16 to 64", id="fmt-size"),
    pytest.param(GOOD[:36], "has no audio data part", id="no-data-part"),
]


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.mark.parametrize(("data", "says"), CORRUPT)
def test_a_wav_header_that_lies_about_its_sizes_is_refused_with_the_reason(data: bytes, says: str) -> None:
    with pytest.raises(TranscriptionError) as refused:
        read_wav_header(io.BytesIO(data))
    assert says in str(refused.value) and refused.value.field == "audio"


def test_a_placeholder_riff_size_of_a_streamed_wav_is_accepted() -> None:
    # sox and ffmpeg writing to a pipe leave the RIFF size 0xFFFFFFFF; the data part is exact.
    layout = read_wav_header(io.BytesIO(patched(4, 0xFFFFFFFF)))
    assert (layout.channels, layout.rate, layout.frames) == (1, 16000, 16000)


@pytest.mark.parametrize(("data", "says"), CORRUPT[:4])
def test_the_api_refuses_a_corrupt_upload_as_a_400_on_audio_and_stores_nothing(
    db: None, agent: User, client_for: Callable[[User], Client], tmp_path: Path, settings: Any, data: bytes, says: str,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    settings.MEDIA_ROOT = tmp_path
    f.consumer("C1")
    audio = io.BytesIO(data)
    audio.name = "call.wav"
    with django_capture_on_commit_callbacks() as queued:
        response = client_for(agent).post(
            "/api/recordings/", {"audio": audio, "consumer": "C1", "language": "en"}, headers={"Accept-Language": "en"}
        )
    assert response.status_code == 400
    [message] = response.json()["errors"]["audio"]
    assert says in message
    assert Recording.objects.count() == 0 and queued == []
