"""Spoken test audio: espeak-ng's English voice, as WAV bytes in whatever layout a test needs."""

from __future__ import annotations

import io
import shutil
import subprocess
import warnings
import wave

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ESPEAK = shutil.which("espeak-ng") or "/usr/bin/espeak-ng"
# Slow and low-pitched: what PocketSphinx's English model recognises best from espeak-ng's voice.
VOICE = ("-v", "en-us", "-s", "120", "-g", "5")


def need_espeak() -> None:
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (make test installs it with apt): no speech to recognise")


def pcm(text: str) -> tuple[bytes, int]:
    """16-bit mono PCM of the text spoken, and its sample rate (espeak-ng's 22050 Hz)."""
    need_espeak()
    raw = subprocess.run([ESPEAK, *VOICE, "--stdout", text], capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(raw)) as wav:
        return wav.readframes(wav.getnframes()), wav.getframerate()


def silence(seconds: float, rate: int = 22050) -> bytes:
    return b"\0\0" * int(seconds * rate)


def wav(frames: bytes, *, rate: int = 22050, channels: int = 1, width: int = 2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(width)
        file.setframerate(rate)
        file.writeframes(frames)
    return out.getvalue()


def spoken(text: str) -> bytes:
    """The text spoken, as espeak-ng writes it: a 22050 Hz mono 16-bit WAV."""
    frames, rate = pcm(text)
    return wav(frames, rate=rate)


def stereo(left: bytes, right: bytes) -> bytes:
    """Two 16-bit mono signals as one stereo signal (the shorter padded with silence)."""
    size = max(len(left), len(right))
    left, right = left.ljust(size, b"\0"), right.ljust(size, b"\0")
    return audioop.add(audioop.tostereo(left, 2, 1, 0), audioop.tostereo(right, 2, 0, 1), 2)


def resampled(frames: bytes, rate: int, new_rate: int, *, width: int = 2) -> bytes:
    out = audioop.ratecv(frames, 2, 1, rate, new_rate, None)[0]
    if width == 1:
        return audioop.bias(audioop.lin2lin(out, 2, 1), 1, 128)  # 8-bit WAV is unsigned
    return audioop.lin2lin(out, 2, width) if width != 2 else out
