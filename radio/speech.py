"""The digest read aloud with espeak-ng: Chinese as numbered pinyin, English as English, checked for silence.

Debian's espeak-ng 1.51 reads Chinese characters with the ``cmn`` voice as pinyin with *English* tone
digits (garbled). Converting the text to numbered pinyin first (pypinyin, style TONE3) and speaking
it with the ``cmn-latn-pinyin`` voice gives the right tones. Text is split into runs: a run with
Chinese characters goes through pypinyin to the pinyin voice, a run of Latin letters to the English
voice; digits, spaces and punctuation stay with the run they are in.
"""

from __future__ import annotations

import array
import io
import math
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import lameenc
from django.conf import settings
from pypinyin import Style, lazy_pinyin

PINYIN_VOICE = "cmn-latn-pinyin"
# espeak-ng counts each pinyin syllable as a word: at 4/3 of the English rate (150 -> 200 a minute, about
# 3.3 syllables a second with the pauses) Chinese sounds like a newsreader rather than a dictation.
PINYIN_RATE = 4 / 3
ENGLISH_VOICE = "en-us"
PAUSE_MS = 250  # between runs of a sentence
SENTENCE_PAUSE_MS = 450  # between sentences
MIN_SECONDS = 0.5
MIN_RMS = 150.0  # of 16-bit samples: espeak-ng speech is in the thousands, silence is 0
TIMEOUT = 60  # seconds for one espeak-ng call

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN = re.compile(r"[A-Za-z]")
# A masked number (138****8000, **** **** **** 1234): read as "a number", never its visible digits.
MASKED = re.compile(r"[\d*]*\*[\d* ]*\d*")
NUMBER = re.compile(r"\d+(?:\.\d+)?")
DIGITS = "零一二三四五六七八九"
# Chinese and full-width punctuation, as the pause espeak-ng makes for ASCII punctuation.
PAUSES = str.maketrans(
    {"，": ",", "、": ",", "；": ";", "：": ":", "。": ".", "！": "!", "？": "?", "…": "...", "（": ",", "）": ",",
     "“": "", "”": "", "‘": "", "’": "", "《": "", "》": "", "—": ","}
)  # fmt: skip


class SpeechUnavailable(Exception):
    """No speech engine on this server (espeak-ng is not installed where RADIO_ESPEAK_NG points)."""


class SpeechFailed(Exception):
    """espeak-ng ran but gave no usable audio."""


@dataclass(frozen=True)
class Audio:
    wav: bytes
    seconds: float
    rms: float


def engine() -> str | None:
    """The espeak-ng executable, or None when this server has none."""
    return shutil.which(settings.RADIO_ESPEAK_NG)


def runs(text: str) -> list[tuple[str, str]]:
    """Split text into (language, text) runs: "zh" where it has Chinese characters, "en" where Latin letters."""
    out: list[tuple[str, list[str]]] = []
    for char in text:
        lang = "zh" if CJK.match(char) else "en" if LATIN.match(char) else ""
        if out and (not lang or out[-1][0] in ("", lang)):
            if lang and out[-1][0] == "":
                out[-1] = (lang, out[-1][1])
            out[-1][1].append(char)
        else:
            out.append((lang, [char]))
    return [(lang or "en", "".join(chars).strip()) for lang, chars in out if "".join(chars).strip()]


def chinese_number(digits: str) -> str:
    """37 -> 三十七, 1005 -> 一千零五, 199.50 -> 一百九十九点五零; long numbers and leading zeros digit by digit."""
    whole, _dot, fraction = digits.partition(".")
    spoken = _integer(whole) if len(whole) <= 8 and not (len(whole) > 1 and whole[0] == "0") else _each(whole)
    return spoken + ("点" + _each(fraction) if fraction else "")


def _each(digits: str) -> str:
    return "".join(DIGITS[int(d)] for d in digits)


def _integer(digits: str) -> str:
    n = int(digits)
    if n == 0:
        return DIGITS[0]
    if n >= 10_000:
        high, low = divmod(n, 10_000)
        rest = _below_10000(low)
        return _below_10000(high) + "万" + ("零" + rest if 0 < low < 1000 else rest)
    return _below_10000(n)


def _below_10000(n: int) -> str:
    if n == 0:
        return ""
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit, n = divmod(n, value)
        if digit:
            if zero and out:
                out += "零"
            out += ("" if (unit == "十" and not out and digit == 1) else DIGITS[digit]) + unit
            zero = False
        else:
            zero = True
    return out


def to_pinyin(text: str) -> str:
    """Chinese text as numbered pinyin for the cmn-latn-pinyin voice ("你好" -> "ni3 hao3")."""
    text = MASKED.sub("号码", text)
    text = NUMBER.sub(lambda m: chinese_number(m.group(0)), text)
    syllables = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, tone_sandhi=True)
    return " ".join(s.translate(PAUSES) for s in syllables).strip()


def voiced(lang: str, text: str) -> tuple[str, str]:
    """The espeak-ng voice for a run and the text it is given."""
    if lang == "zh":
        return PINYIN_VOICE, to_pinyin(text)
    return ENGLISH_VOICE, MASKED.sub(" a number ", text)


def rate(voice: str) -> int:
    return round(settings.RADIO_SPEECH_WPM * (PINYIN_RATE if voice == PINYIN_VOICE else 1))


def phonemes(text: str) -> list[tuple[str, str]]:
    """What espeak-ng will pronounce, run by run, as its phoneme mnemonics (``-x``): how tests listen to tones."""
    binary = engine()
    if binary is None:
        raise SpeechUnavailable(f"espeak-ng not found: RADIO_ESPEAK_NG={settings.RADIO_ESPEAK_NG}")
    out = []
    for lang, run in runs(text):
        voice, said = voiced(lang, run)
        done = subprocess.run([binary, "-q", "-x", "-v", voice, "--stdin"], input=said.encode(), capture_output=True,
                              timeout=TIMEOUT, check=True)  # fmt: skip
        out.append((voice, done.stdout.decode().strip()))
    return out


def _speak_run(binary: str, lang: str, text: str) -> tuple[wave._wave_params, bytes]:
    voice, said = voiced(lang, text)
    with tempfile.TemporaryDirectory(prefix="radio-tts-") as folder:
        out = Path(folder) / "run.wav"
        try:
            subprocess.run(
                [binary, "-v", voice, "-s", str(rate(voice)), "-w", str(out), "--stdin"],
                input=said.encode(), capture_output=True, timeout=TIMEOUT, check=True,
            )  # fmt: skip
        except FileNotFoundError as error:
            raise SpeechUnavailable(str(error)) from None
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            stderr = getattr(error, "stderr", b"") or b""
            raise SpeechFailed(f"espeak-ng {voice}: {error}: {stderr.decode(errors='replace')[:300]}") from None
        with wave.open(str(out), "rb") as reader:
            return reader.getparams(), reader.readframes(reader.getnframes())


def speak(sentences: Iterable[str]) -> Audio:
    """Read the sentences aloud into one mono 16-bit WAV and check that it is speech, not silence."""
    binary = engine()
    if binary is None:
        raise SpeechUnavailable(f"espeak-ng not found: RADIO_ESPEAK_NG={settings.RADIO_ESPEAK_NG}")
    params: wave._wave_params | None = None
    chunks: list[bytes] = []
    for sentence in sentences:
        for lang, text in runs(sentence):
            run_params, frames = _speak_run(binary, lang, text)
            if run_params.nchannels != 1 or run_params.sampwidth != 2:
                raise SpeechFailed(f"unexpected audio format from espeak-ng: {run_params}")
            if params is None:
                params = run_params
            elif run_params.framerate != params.framerate:
                raise SpeechFailed("espeak-ng voices gave different sample rates")
            chunks += [frames, _silence(params.framerate, PAUSE_MS)]
        if params is not None:
            chunks.append(_silence(params.framerate, SENTENCE_PAUSE_MS))
    if params is None:
        raise SpeechFailed("nothing to read")
    pcm = b"".join(chunks)
    seconds, rms = measure(pcm, params.framerate)
    if seconds < MIN_SECONDS or rms < MIN_RMS:
        raise SpeechFailed(f"espeak-ng gave silence ({seconds:.1f} s, RMS {rms:.0f})")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(params.framerate)
        writer.writeframes(pcm)
    return Audio(wav=buffer.getvalue(), seconds=seconds, rms=rms)


def mp3(wav: bytes) -> bytes:
    """A mono 16-bit WAV compressed to MP3 by LAME (the ``lameenc`` wheel) at RADIO_MP3_KBPS, constant bit
    rate: phones play it, and a player knows its length from its size before it has read it."""
    with wave.open(io.BytesIO(wav), "rb") as reader:
        rate, pcm = reader.getframerate(), reader.readframes(reader.getnframes())
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(settings.RADIO_MP3_KBPS)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(2)  # 2 is LAME's best, 7 its fastest: a digest is encoded once
    return bytes(encoder.encode(pcm) + encoder.flush())


def _silence(rate: int, ms: int) -> bytes:
    return b"\x00\x00" * (rate * ms // 1000)


def measure(pcm: bytes, rate: int) -> tuple[float, float]:
    """Length in seconds and RMS loudness of 16-bit mono PCM."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    if not samples:
        return 0.0, 0.0
    return len(samples) / rate, math.sqrt(sum(s * s for s in samples) / len(samples))


def measure_wav(data: bytes) -> tuple[float, float]:
    """Length and RMS of a WAV file's bytes (what tests and the bench listen with)."""
    with wave.open(io.BytesIO(data), "rb") as reader:
        return measure(reader.readframes(reader.getnframes()), reader.getframerate())
