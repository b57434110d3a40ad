"""Any server of the OpenAI-compatible transcription API: ``POST {base}/audio/transcriptions``.

The request is ``multipart/form-data`` with ``file``, ``model``, ``language``, ``response_format=verbose_json``
and ``timestamp_granularities[]=segment``, and ``Authorization: Bearer <key>`` when a key is set; the
answer is ``{"text": ..., "duration": ..., "segments": [{"start": 0.0, "end": 2.5, "text": ...}]}``
(seconds), or ``{"error": {"message": ...}}`` with a 4xx/5xx status. FunASR, faster-whisper servers
and vLLM serve it. A stereo call is sent as two files, one per speaker.
"""

from __future__ import annotations

import json
import uuid
from functools import partial
from typing import IO, Any
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from django.conf import settings
from django.utils.translation import gettext as _

from qa.services import SegmentIn
from qa.speech.common import Channel, EngineUnavailable, speaker_channels, with_retries
from qa.transcription import Transcription, TranscriptionBackend, TranscriptionError, read_wav_header

ENGINE = "OpenAI-compatible API"


def multipart(fields: dict[str, str], file_field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
        "Content-Type: audio/wav\r\n\r\n".encode()
    )
    parts.append(content)
    parts.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def segments_of(answer: dict[str, Any], speaker: str) -> list[SegmentIn]:
    """The timed segments of one answer: its ``segments``, or its whole ``text`` when it has none."""
    out = []
    for segment in answer.get("segments") or []:
        text = str(segment.get("text", "")).strip()
        if text:
            out.append(SegmentIn(speaker, text, _ms(segment.get("start")), _ms(segment.get("end"))))
    if not out and str(answer.get("text", "")).strip():
        out.append(SegmentIn(speaker, str(answer["text"]).strip()))
    return out


def _ms(seconds: Any) -> int | None:
    try:
        return max(0, round(float(seconds) * 1000))
    except (TypeError, ValueError):
        return None


def _engine_message(body: bytes) -> str:
    try:
        error = json.loads(body).get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message)[:300]
    except (ValueError, AttributeError):
        pass
    return body.decode("utf-8", "replace")[:300] or "-"


class OpenAITranscriptionBackend(TranscriptionBackend):
    """Recognition by a server at ``QA_OPENAI_ASR_URL`` (its ``/v1`` base), model ``QA_OPENAI_ASR_MODEL``."""

    def __init__(self) -> None:
        self.base = settings.QA_OPENAI_ASR_URL.rstrip("/")
        self.model = settings.QA_OPENAI_ASR_MODEL
        self.timeout = settings.QA_ASR_TIMEOUT
        self.attempts = settings.QA_ASR_ATTEMPTS
        if not self.base:
            raise ValueError("QA_OPENAI_ASR_URL is empty: name the server's /v1 base, e.g. http://127.0.0.1:8000/v1")

    def check(self, audio: IO[bytes], *, language: str) -> None:
        read_wav_header(audio)

    def transcribe(self, audio: IO[bytes], *, language: str) -> Transcription:
        channels, seconds = speaker_channels(audio)
        segments = []
        for channel in channels:
            answer = with_retries(ENGINE, partial(self._post, channel, language), attempts=self.attempts)
            segments.extend(segments_of(answer, channel.speaker))
        segments.sort(key=lambda s: (s.start_ms is None, s.start_ms or 0, s.end_ms or 0))
        return Transcription(segments=segments, duration_seconds=seconds)

    def _post(self, channel: Channel, language: str) -> dict[str, Any]:
        fields = {"model": self.model, "language": language, "response_format": "verbose_json"}
        fields["timestamp_granularities[]"] = "segment"
        body, content_type = multipart(fields, "file", "call.wav", channel.wav())
        request = Request(f"{self.base}/audio/transcriptions", data=body, method="POST")
        request.add_header("Content-Type", content_type)
        if settings.QA_OPENAI_ASR_KEY:
            request.add_header("Authorization", f"Bearer {settings.QA_OPENAI_ASR_KEY}")
        try:
            with urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except HTTPError as error:
            message = _("HTTP %(status)d: %(message)s") % {
                "status": error.code,
                "message": _engine_message(error.read()),
            }
            if error.code >= 500 or error.code == 429:
                raise EngineUnavailable(message) from None
            raise TranscriptionError(
                _("%(engine)s refused the recording: %(message)s") % {"engine": ENGINE, "message": message}
            ) from None
        except TimeoutError:
            raise TranscriptionError(
                _("%(engine)s sent no answer within %(seconds)d seconds.") % {"engine": ENGINE, "seconds": self.timeout}
            ) from None
        except (URLError, ConnectionError, OSError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, TimeoutError):
                raise TranscriptionError(
                    _("%(engine)s sent no answer within %(seconds)d seconds.")
                    % {"engine": ENGINE, "seconds": self.timeout}
                ) from None
            raise EngineUnavailable(
                _("cannot reach %(url)s: %(error)s") % {"url": self.base, "error": reason}
            ) from None
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("text", ""), str):
            raise TranscriptionError(
                _("%(engine)s answered something that is not a transcription: %(answer)s")
                % {"engine": ENGINE, "answer": raw[:200].decode("utf-8", "replace")}
            )
        return answer
