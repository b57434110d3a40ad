"""The pluggable transcription backends: turning a recording's audio into timed, speaker-labelled segments.

Nothing here writes to the database: the recordings' state machine (upload, claim, recognise, store,
fail, retry) is ``qa.recordings``, which asks ``get_backend()`` for the configured backend.

Backends (setting ``QA_TRANSCRIPTION_BACKEND``, a dotted path to a ``TranscriptionBackend``):

``PocketsphinxBackend`` (the default)
    CMU PocketSphinx with the English model its wheel ships: offline, no download. It reads PCM WAV of
    any sample rate from 8 kHz up, 8 to 32 bits, mono or stereo, and converts it to the 16 kHz mono
    16-bit PCM the model needs with the standard library (``wave``, ``audioop``). Its voice-activity
    detector (``pocketsphinx.Endpointer``) cuts the audio into utterances; each becomes a segment
    timed by its first and last recognised word. Who speaks: a stereo call recording has the agent on
    one channel and the consumer on the other (left = agent, right = consumer, or as
    ``QA_STEREO_SPEAKERS`` says), so each channel is recognised on its own and its segments carry its
    speaker. A mono recording mixes both voices and the recogniser cannot tell them apart, so its
    segments are labelled ``unknown``: calling them all "agent" would hold agents to what consumers
    said (and miss consumer-scoped rules), whereas rules for any speaker still see every word.

``ImportedTranscriptsBackend``
    For deployments whose transcripts are produced elsewhere: nothing is recognised here; a recording
    waits ("pending") until its transcript is imported with its ``recording`` id
    (``qa.importing``, docs/transcript-format.md), which marks it done.
"""

from __future__ import annotations

import warnings
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Any, ClassVar

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from qa.models import Speaker
from qa.segments import SegmentIn

with warnings.catch_warnings():
    # Deprecated since 3.11 and gone in 3.13; this project runs 3.11 (see requirements.txt). Its
    # replacement is a numpy resampler, a dependency this one module does not justify yet.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

MODEL_RATE = 16000  # what the English model was trained on: 16 kHz, mono, 16-bit PCM
_CHUNK_FRAMES = 16384  # WAV frames read at a time: memory stays flat whatever the recording's length
_FRAME_RATE = 100  # PocketSphinx's feature frames per second (its default -frate)


class TranscriptionError(Exception):
    """The recording cannot be transcribed; the message says why, in words for the person who uploaded it."""

    def __init__(self, message: str, *, field: str = "audio") -> None:
        super().__init__(message)
        self.field = field  # the upload's field at fault: "audio" or "language"


@dataclass(frozen=True)
class Transcription:
    """What a backend heard: the timed, speaker-labelled segments in order, and the audio's length."""

    segments: list[SegmentIn]
    duration_seconds: float | None


class TranscriptionBackend:
    """Turns a recording's audio into segments. Subclass it and name it in QA_TRANSCRIPTION_BACKEND."""

    # False: this backend recognises nothing itself, recordings wait for an imported transcript.
    recognises: ClassVar[bool] = True

    def check(self, audio: IO[bytes], *, language: str) -> None:
        """Refuse, at upload, audio this backend will never transcribe (TranscriptionError). Quick: headers only."""

    def transcribe(self, audio: IO[bytes], *, language: str) -> Transcription:
        """Recognise the whole recording; raise TranscriptionError when it cannot."""
        raise NotImplementedError


class ImportedTranscriptsBackend(TranscriptionBackend):
    """No recogniser here: transcripts are produced elsewhere and imported with the recording's id."""

    recognises = False

    def transcribe(self, audio: IO[bytes], *, language: str) -> Transcription:
        raise TranscriptionError(
            _("This installation does not recognise speech: import the call's transcript with the recording's id.")
        )


# --- PocketSphinx -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Wav:
    channels: int
    width: int  # bytes per sample
    rate: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


# The first bytes of formats people upload by mistake, to say what the file is rather than what it is not.
_MAGIC = (
    (b"ID3", "MP3"),
    (b"\xff\xfb", "MP3"),
    (b"\xff\xf3", "MP3"),
    (b"\xff\xf2", "MP3"),
    (b"OggS", "Ogg"),
    (b"fLaC", "FLAC"),
    (b"#!AMR", "AMR"),
    (b"\x1aE\xdf\xa3", "WebM/Matroska"),
    (b"\x30\x26\xb2\x75", "WMA"),
)
_CONVERT_HINT = "ffmpeg -i INPUT -ac 1 -ar 16000 -c:a pcm_s16le OUTPUT.wav"


def _kind_of(head: bytes) -> str | None:
    if head[4:8] == b"ftyp":
        return "MP4/M4A"
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), None)


def _check_chunks(audio: IO[bytes]) -> None:
    """Refuse a WAV whose header lies about its sizes (a truncated upload, 0xFFFFFFFF placeholders).

    The standard library trusts those sizes: a huge ``fmt `` size makes it fail deep inside, a huge
    ``data`` size makes it promise frames that are not there.
    """
    size = audio.seek(0, 2)
    audio.seek(12)
    try:
        while (header := audio.read(8)) and len(header) == 8:
            part, declared = header[:4], int.from_bytes(header[4:], "little")
            left = size - audio.tell()
            name = part.decode("latin-1").strip() or "?"
            if part == b"fmt " and not 16 <= declared <= 64:
                raise TranscriptionError(
                    _("The WAV file is corrupt: its format header has %(declared)d bytes, not 16 to 64.")
                    % {"declared": declared}
                )
            if declared > left and part == b"fmt ":
                raise TranscriptionError(_("The WAV file is truncated: its header is incomplete."))
            if declared > left:
                raise TranscriptionError(
                    _(
                        "The WAV file is truncated or corrupt: its header says its %(part)s part has "
                        "%(declared)d bytes, but the file has %(left)d."
                    )
                    % {"part": name, "declared": declared, "left": left}
                )
            if part == b"data":
                return
            audio.seek(declared + declared % 2, 1)
        raise TranscriptionError(_("The WAV file has no audio data part: it is truncated or corrupt."))
    finally:
        audio.seek(0)


def read_wav_header(audio: IO[bytes]) -> _Wav:
    """The WAV's layout, or TranscriptionError saying why it is not audio this backend reads."""
    audio.seek(0)
    head = audio.read(12)
    audio.seek(0)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        kind = _kind_of(head)
        if kind:
            message = _("The file is %(kind)s audio, not WAV. Convert it to PCM WAV first, e.g. with: %(hint)s") % {
                "kind": kind,
                "hint": _CONVERT_HINT,
            }
        else:
            message = _("The file is not a WAV recording. Upload PCM WAV audio (convert it with: %(hint)s).") % {
                "hint": _CONVERT_HINT
            }
        raise TranscriptionError(message)
    _check_chunks(audio)
    try:
        with wave.open(audio, "rb") as wav:
            layout = _Wav(wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes())
    except wave.Error as error:
        # The stdlib reads plain PCM only: "unknown format: 3" is float, 6/7 A-/µ-law, 65534 extensible.
        raise TranscriptionError(
            _("The WAV file is not plain PCM audio (%(error)s). Convert it with: %(hint)s")
            % {"error": error, "hint": _CONVERT_HINT}
        ) from None
    except EOFError:
        raise TranscriptionError(_("The WAV file is truncated: its header is incomplete.")) from None
    finally:
        audio.seek(0)
    if layout.channels not in (1, 2):
        raise TranscriptionError(
            _("The recording has %(channels)d channels; only mono or stereo (agent and consumer) can be transcribed.")
            % {"channels": layout.channels}
        )
    if layout.rate < 8000:
        raise TranscriptionError(
            _("The sample rate is %(rate)d Hz; speech needs at least 8000 Hz.") % {"rate": layout.rate}
        )
    if layout.frames == 0:
        raise TranscriptionError(_("The recording is empty: it has no audio."))
    return layout


def pcm16k(audio: IO[bytes], layout: _Wav, channel: int | None) -> Iterator[bytes]:
    """The recording (or one channel of it) as 16 kHz mono 16-bit PCM, a chunk at a time."""
    audio.seek(0)
    state = None
    with wave.open(audio, "rb") as wav:
        while chunk := wav.readframes(_CHUNK_FRAMES):
            if layout.width == 1:
                chunk = audioop.bias(chunk, 1, -128)  # 8-bit WAV is unsigned; audioop wants signed
            if layout.width != 2:
                chunk = audioop.lin2lin(chunk, layout.width, 2)
            if layout.channels == 2:
                left, right = (1.0, 0.0) if channel == 0 else (0.0, 1.0) if channel == 1 else (0.5, 0.5)
                chunk = audioop.tomono(chunk, 2, left, right)
            if layout.rate != MODEL_RATE:
                chunk, state = audioop.ratecv(chunk, 2, 1, layout.rate, MODEL_RATE, state)
            yield chunk


def channels_differ(audio: IO[bytes], layout: _Wav) -> bool:
    """False for "stereo" that carries one signal twice (a mono call saved as stereo)."""
    audio.seek(0)
    with wave.open(audio, "rb") as wav:
        while chunk := wav.readframes(_CHUNK_FRAMES):
            if layout.width == 1:
                chunk = audioop.bias(chunk, 1, -128)
            left = audioop.tomono(chunk, layout.width, 1.0, 0.0)
            right = audioop.tomono(chunk, layout.width, 0.0, 1.0)
            if left != right:
                return True
    return False


class PocketsphinxBackend(TranscriptionBackend):
    """Offline English speech recognition with the model the pocketsphinx wheel ships (see the module's doc)."""

    languages: ClassVar[tuple[str, ...]] = ("en",)

    def __init__(self, stereo_speakers: list[str] | None = None) -> None:
        speakers = stereo_speakers if stereo_speakers is not None else settings.QA_STEREO_SPEAKERS
        if len(speakers) != 2 or any(s not in Speaker.values for s in speakers):
            raise ValueError(f"QA_STEREO_SPEAKERS names two of {Speaker.values}, not {speakers!r}")
        self.stereo_speakers = tuple(speakers)
        self._decoder: Any = None

    def check(self, audio: IO[bytes], *, language: str) -> None:
        self._check_language(language)
        read_wav_header(audio)

    def transcribe(self, audio: IO[bytes], *, language: str) -> Transcription:
        self._check_language(language)
        layout = read_wav_header(audio)
        if layout.channels == 2 and channels_differ(audio, layout):
            heard = [
                (start, end, speaker, text)
                for channel, speaker in enumerate(self.stereo_speakers)
                for start, end, text in self._recognise(pcm16k(audio, layout, channel))
            ]
            heard.sort(key=lambda item: (item[0], item[1]))
        else:
            mixed = self._recognise(pcm16k(audio, layout, None))
            heard = [(start, end, Speaker.UNKNOWN.value, text) for start, end, text in mixed]
        segments = [
            SegmentIn(speaker=speaker, text=text, start_ms=round(start * 1000), end_ms=round(end * 1000))
            for start, end, speaker, text in heard
        ]
        return Transcription(segments=segments, duration_seconds=round(layout.seconds, 3))

    def _check_language(self, language: str) -> None:
        if language not in self.languages:
            raise TranscriptionError(
                _(
                    "The offline recogniser understands English only, and this recording is in %(language)s: "
                    "import its transcript instead."
                )
                % {"language": language},
                field="language",
            )

    def decoder(self) -> Any:
        """The recogniser, loaded once per process (about 0.4 s and 100 MB) and reused for every recording."""
        if self._decoder is None:
            # Imported on first use, not to cycle: only processes that recognise pay for the C extension.
            from pocketsphinx import Decoder

            self._decoder = Decoder(samprate=MODEL_RATE, loglevel="FATAL")
        return self._decoder

    def _recognise(self, pcm: Iterator[bytes]) -> Iterator[tuple[float, float, str]]:
        """(start s, end s, text) of each utterance the voice-activity detector finds in 16 kHz mono PCM."""
        from pocketsphinx import Endpointer  # on first use, as in decoder()

        endpointer = Endpointer(sample_rate=MODEL_RATE)
        size = endpointer.frame_bytes
        pending = bytearray()
        speech: list[bytes] = []
        for chunk in pcm:
            pending += chunk
            whole = len(pending) - len(pending) % size
            for offset in range(0, whole, size):
                found = endpointer.process(bytes(pending[offset : offset + size]))
                if found is not None:
                    speech.append(found)
                    if not endpointer.in_speech:
                        yield from self._utterance(endpointer.speech_start, b"".join(speech))
                        speech.clear()
            del pending[:whole]
        if endpointer.in_speech:
            found = endpointer.end_stream(bytes(pending))
            if found is not None:
                speech.append(found)
        if speech:
            yield from self._utterance(endpointer.speech_start, b"".join(speech))

    def _utterance(self, start: float, pcm: bytes) -> Iterator[tuple[float, float, str]]:
        decoder = self.decoder()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        text = hypothesis.hypstr.strip() if hypothesis is not None else ""
        if not text:
            return  # noise, a cough: nothing was said
        words = [s for s in decoder.seg() if not (s.word.startswith(("<", "[", "+")) or s.word == "<sil>")]
        if words:  # time the segment by its words, not by the detector's padding around them
            first, last = words[0].start_frame, words[-1].end_frame + 1
        else:
            first, last = 0, len(pcm) // 2 * _FRAME_RATE // MODEL_RATE
        yield start + first / _FRAME_RATE, start + last / _FRAME_RATE, text


class PerLanguageBackend(TranscriptionBackend):
    """Each language to its own backend (QA_TRANSCRIPTION_BACKEND="zh=...,en=...,*=...")."""

    def __init__(self, backends: dict[str, TranscriptionBackend]) -> None:
        self.backends = backends
        self.recognises = any(backend.recognises for backend in backends.values())  # type: ignore[misc]

    def for_language(self, language: str) -> TranscriptionBackend:
        backend = self.backends.get(language) or self.backends.get("*")
        if backend is None:
            raise TranscriptionError(
                _("No recogniser is set up for %(language)s: import this call's transcript instead.")
                % {"language": language},
                field="language",
            )
        return backend

    def check(self, audio: IO[bytes], *, language: str) -> None:
        self.for_language(language).check(audio, language=language)

    def transcribe(self, audio: IO[bytes], *, language: str) -> Transcription:
        return self.for_language(language).transcribe(audio, language=language)


def _one_backend(dotted: str) -> TranscriptionBackend:
    backend = import_string(dotted)()
    if not isinstance(backend, TranscriptionBackend):
        raise TypeError(f"QA_TRANSCRIPTION_BACKEND={dotted} is not a qa.transcription.TranscriptionBackend")
    return backend


@lru_cache(maxsize=4)
def _backend(setting: str) -> TranscriptionBackend:
    if "=" not in setting:
        return _one_backend(setting.strip())
    pairs = [item.split("=", 1) for item in setting.split(",") if item.strip()]
    return PerLanguageBackend({language.strip(): _one_backend(dotted.strip()) for language, dotted in pairs})


def get_backend() -> TranscriptionBackend:
    """The configured backend, one instance per process (the recogniser's model is loaded once)."""
    return _backend(settings.QA_TRANSCRIPTION_BACKEND)
