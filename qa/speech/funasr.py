"""The FunASR runtime server (Alibaba's open-source recogniser) over its WebSocket protocol, offline mode.

The protocol (FunASR's runtime/docs/websocket_protocol.md, "Offline File Transcription"): the client
sends one JSON text frame ``{"mode": "offline", "wav_name": ..., "wav_format": "pcm", "audio_fs": 16000,
"is_speaking": true, "itn": true[, "hotwords": "{\\"词\\": 20}"]}``, then the audio as binary frames,
then ``{"is_speaking": false}``; the server answers with one JSON frame ``{"mode": "offline", "wav_name":
..., "text": ..., "is_final": ..., "timestamp": "[[100,200],...]", "stamp_sents": [{"text_seg": "正 是 因
为", "punc": "，", "start": 430, "end": 1130, "ts_list": [...]}]}`` (times in ms). The protocol is mono,
so a stereo call is sent as two files, one per speaker.
"""

from __future__ import annotations

import json
import re
import ssl
from functools import partial
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from qa.services import SegmentIn
from qa.speech.common import Channel, EngineUnavailable, chunks, speaker_channels, with_retries
from qa.transcription import MODEL_RATE, Transcription, TranscriptionBackend, TranscriptionError, read_wav_header

ENGINE = "FunASR"
_CHUNK_BYTES = MODEL_RATE * 2 * 2  # two seconds of 16 kHz 16-bit audio per frame
_SPACE_BETWEEN_CJK = re.compile(r"(?<=[\u3400-\u9fff\uf900-\ufaff]) (?=[\u3400-\u9fff\uf900-\ufaff])")


def _joined(text_seg: str) -> str:
    """ "正 是 因 为" -> "正是因为"; English words keep their spaces."""
    return _SPACE_BETWEEN_CJK.sub("", text_seg.strip())


def segments_of(result: dict[str, Any], speaker: str) -> list[SegmentIn]:
    """The timed segments of one FunASR result: a sentence each, or the whole text when it has no stamps."""
    sentences = result.get("stamp_sents") or []
    if isinstance(sentences, list) and sentences:
        out = []
        for sentence in sentences:
            text = _joined(str(sentence.get("text_seg", ""))) + str(sentence.get("punc", "") or "")
            if text.strip():
                out.append(SegmentIn(speaker, text.strip(), _ms(sentence.get("start")), _ms(sentence.get("end"))))
        return out
    text = str(result.get("text", "")).strip()
    if not text:
        return []
    start = end = None
    stamps = result.get("timestamp")
    try:
        pairs = json.loads(stamps) if isinstance(stamps, str) else stamps
        if pairs:
            start, end = _ms(pairs[0][0]), _ms(pairs[-1][1])
    except (ValueError, TypeError, IndexError):
        pass
    return [SegmentIn(speaker, text, start, end)]


def _ms(value: Any) -> int | None:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return None


class FunASRBackend(TranscriptionBackend):
    """Recognition by a FunASR runtime server (``QA_FUNASR_URL``, e.g. ``ws://127.0.0.1:10095``)."""

    def __init__(self) -> None:
        self.url = settings.QA_FUNASR_URL
        self.timeout = settings.QA_ASR_TIMEOUT
        self.attempts = settings.QA_ASR_ATTEMPTS
        self.languages: tuple[str, ...] = tuple(settings.QA_FUNASR_LANGUAGES)
        if not self.url:
            raise ValueError("QA_FUNASR_URL is empty: name the FunASR server, e.g. ws://127.0.0.1:10095")

    def check(self, audio: IO[bytes], *, language: str) -> None:
        self._check_language(language)
        read_wav_header(audio)

    def transcribe(self, audio: IO[bytes], *, language: str) -> Transcription:
        self._check_language(language)
        channels, seconds = speaker_channels(audio)
        segments = []
        for number, channel in enumerate(channels):
            name = f"{getattr(audio, 'name', 'call') or 'call'}-{number}"
            result = with_retries(ENGINE, partial(self._recognise, channel, name), attempts=self.attempts)
            segments.extend(segments_of(result, channel.speaker))
        segments.sort(key=lambda s: (s.start_ms is None, s.start_ms or 0, s.end_ms or 0))
        return Transcription(segments=segments, duration_seconds=seconds)

    def _check_language(self, language: str) -> None:
        if self.languages and language not in self.languages:
            raise TranscriptionError(
                _("The FunASR server here recognises %(languages)s, and this recording is in %(language)s.")
                % {"languages": ", ".join(self.languages), "language": language},
                field="language",
            )

    def _recognise(self, channel: Channel, name: str) -> dict[str, Any]:
        start = {"mode": "offline", "wav_name": name, "wav_format": "pcm", "audio_fs": MODEL_RATE}
        start |= {"is_speaking": True, "itn": True}
        if settings.QA_FUNASR_HOTWORDS:
            start["hotwords"] = json.dumps(dict.fromkeys(settings.QA_FUNASR_HOTWORDS, 20), ensure_ascii=False)
        try:
            with connect(
                self.url, open_timeout=10, close_timeout=2, max_size=2**24, ssl=self._ssl(), compression=None
            ) as socket:
                socket.send(json.dumps(start, ensure_ascii=False))
                for chunk in chunks(channel.pcm, _CHUNK_BYTES):
                    socket.send(chunk)
                socket.send(json.dumps({"is_speaking": False}))
                return self._result(socket)
        except ConnectionClosed as closed:
            reason = f"code {closed.rcvd.code} {closed.rcvd.reason}".strip() if closed.rcvd else "no close frame"
            raise EngineUnavailable(
                _("the server closed the connection before sending a result (%(reason)s)") % {"reason": reason}
            ) from None
        except (OSError, InvalidHandshake) as error:
            raise EngineUnavailable(
                _("cannot connect to %(url)s: %(error)s") % {"url": self.url, "error": error}
            ) from None
        except InvalidURI:
            raise TranscriptionError(
                _("QA_FUNASR_URL is not a ws:// or wss:// address: %(url)s") % {"url": self.url}
            ) from None

    def _result(self, socket: ClientConnection) -> dict[str, Any]:
        try:
            frame = socket.recv(timeout=self.timeout)
        except TimeoutError:
            raise TranscriptionError(
                _("FunASR sent no result within %(seconds)d seconds.") % {"seconds": self.timeout}
            ) from None
        try:
            result = json.loads(frame)
        except (TypeError, ValueError):
            result = None
        if not isinstance(result, dict) or not isinstance(result.get("text", None), str):
            raise TranscriptionError(
                _("FunASR answered something that is not a recognition result: %(answer)s")
                % {"answer": str(frame)[:200]}
            )
        return result

    def _ssl(self) -> ssl.SSLContext | None:
        if not self.url.startswith("wss://"):
            return None
        context = ssl.create_default_context()
        if not settings.QA_FUNASR_SSL_VERIFY:  # FunASR's server ships a self-signed certificate by default
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context
