"""What the network recognisers share: the call split into its speakers' channels, and retries."""

from __future__ import annotations

import io
import logging
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, TypeVar

from django.conf import settings
from django.utils.translation import gettext as _

from qa.models import Speaker
from qa.transcription import MODEL_RATE, TranscriptionError, channels_differ, pcm16k, read_wav_header

log = logging.getLogger(__name__)

T = TypeVar("T")


class EngineUnavailable(Exception):
    """The engine could not be reached or dropped the connection: worth another attempt."""


@dataclass(frozen=True)
class Channel:
    """One speaker's audio as 16 kHz mono 16-bit PCM (or the whole mixed call, speaker unknown)."""

    speaker: str
    pcm: bytes

    def wav(self) -> bytes:
        """The same audio as a WAV file, for engines that take files."""
        out = io.BytesIO()
        with wave.open(out, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(MODEL_RATE)
            wav.writeframes(self.pcm)
        return out.getvalue()


def speaker_channels(audio: IO[bytes], stereo_speakers: tuple[str, str] | None = None) -> tuple[list[Channel], float]:
    """The call's channels to recognise one by one, and its length in seconds.

    A stereo recording has the agent on one channel and the consumer on the other (QA_STEREO_SPEAKERS);
    a mono one (or "stereo" carrying one signal twice) is one channel whose speaker is unknown.
    """
    speakers = stereo_speakers or tuple(settings.QA_STEREO_SPEAKERS)
    layout = read_wav_header(audio)
    if layout.channels == 2 and channels_differ(audio, layout):
        channels = [Channel(speaker, b"".join(pcm16k(audio, layout, index))) for index, speaker in enumerate(speakers)]
    else:
        channels = [Channel(Speaker.UNKNOWN.value, b"".join(pcm16k(audio, layout, None)))]
    return channels, round(layout.seconds, 3)


def with_retries(engine: str, attempt: Callable[[], T], *, attempts: int, backoff: float = 0.5) -> T:
    """Run ``attempt`` until it succeeds or ``attempts`` are spent; only EngineUnavailable is retried.

    The last failure becomes the recording's failure reason, naming the engine and what it answered.
    """
    for number in range(1, attempts + 1):
        try:
            return attempt()
        except EngineUnavailable as error:
            log.warning("%s attempt %d of %d failed: %s", engine, number, attempts, error)
            if number == attempts:
                raise TranscriptionError(
                    _("%(engine)s failed after %(attempts)d attempts: %(reason)s")
                    % {"engine": engine, "attempts": attempts, "reason": error}
                ) from None
            time.sleep(backoff * number)
    raise AssertionError("unreachable")


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]
