"""The digest read aloud: Chinese through numbered pinyin, English as English, never silence, stored and served as
MP3, and a plain fallback when the server has no espeak-ng."""

from __future__ import annotations

import array
import io
import math
import shutil
import sys
import warnings
import wave
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import translation
from mutagen.mp3 import MPEGInfo

from core import roles
from radio import audio, building, speech
from radio.models import Channel, Digest, DigestItem, Subscription
from tests.radio import factories as rf

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make test installs it as root)"
)


def test_numbers_are_read_the_chinese_way() -> None:
    cases = {"0": "零", "7": "七", "10": "十", "37": "三十七", "105": "一百零五", "1005": "一千零五",
             "20000": "二万", "35006": "三万五千零六", "199.50": "一百九十九点五零",
             "0571": "零五七一", "123456789012": "一二三四五六七八九零一二"}  # fmt: skip
    assert {digits: speech.chinese_number(digits) for digits in cases} == cases


def test_text_is_split_into_chinese_and_english_runs() -> None:
    assert speech.runs("37位顾客说：Hi, does this come with a warranty? 订单号123") == [
        ("zh", "37位顾客说："),
        ("en", "Hi, does this come with a warranty?"),
        ("zh", "订单号123"),
    ]


def test_chinese_becomes_numbered_pinyin_and_masked_numbers_are_never_read_out() -> None:
    assert speech.to_pinyin("快递37天没动了，电话138****8000。") == (
        "kuai4 di4 san1 shi2 qi1 tian1 mei2 dong4 le5 , dian4 hua4 hao4 ma3 ."
    )


@needs_espeak
def test_chinese_is_spoken_with_mandarin_tones_not_english_digits() -> None:
    (voice, zh), (en_voice, en) = speech.phonemes("你好，快递三天没动了。The parcel is late.")
    # The pinyin voice gives each syllable its tone contour (35 = 2nd, 214 = 3rd, 51 = 4th tone) ...
    assert voice == "cmn-latn-pinyin" and "n'i35" in zh and "X'Au214" in zh and "kh'uai51" in zh
    assert "(en)" not in zh  # ... where the plain cmn voice reads the tone digits as English words
    assert en_voice == "en-us" and "p'A@s@L" in en


@needs_espeak
def test_english_reading_is_understood_by_a_speech_recogniser() -> None:
    from pocketsphinx import Decoder

    audio = speech.speak(["Three customers said:", "The parcel has not moved for three days."])
    with wave.open(io.BytesIO(audio.wav)) as reader:
        rate, pcm = reader.getframerate(), reader.readframes(reader.getnframes())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop  # the 3.11 standard library's resampler; enough for a test

        pcm16k, _state = audioop.ratecv(pcm, 2, 1, rate, 16000, None)
    decoder = Decoder(samprate=16000, loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw(pcm16k, full_utt=True)
    decoder.end_utt()
    heard = decoder.hyp().hypstr
    assert "customers" in heard and "parcel" in heard, heard


@needs_espeak
@pytest.mark.django_db
def test_digest_audio_is_recorded_checked_and_served(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User, _media_root: Path
) -> None:
    logistics = rf.channel("logistics", "快递与配送")
    Subscription.objects.create(user=business, channel=logistics)
    rf.approved(agent, supervisor, [logistics], quote="快递三天没动了，电话13800138000", severity=3)
    rf.approved(agent, supervisor, [logistics], quote="The parcel says delivered but I never got it.")
    (digest_id,) = building.build_digests()
    assert audio.render_digest_audio(digest_id) == Digest.Audio.READY
    digest = Digest.objects.get(pk=digest_id)
    path = Path(digest.audio.path)
    assert path.is_relative_to(_media_root) and path.suffix == ".mp3"
    recorded = MPEGInfo(io.BytesIO(path.read_bytes()))
    seconds = recorded.length
    assert 8 < seconds < 120 and abs(seconds - digest.audio_seconds) < 0.2
    assert (recorded.bitrate, recorded.channels) == (48_000, 1)
    # A seventh of the 16-bit WAV espeak-ng gives (22,050 samples a second of 2 bytes): 48 kbit/s against 353.
    assert path.stat().st_size < seconds * 22_050 * 2 / 7
    assert audio.render_digest_audio(digest_id) == Digest.Audio.READY  # again: kept, not re-recorded
    assert Path(Digest.objects.get(pk=digest_id).audio.path) == path
    served = client_for(business).get(reverse("radio:audio", args=[digest_id]))
    assert (served.status_code, served["Content-Type"]) == (200, "audio/mpeg")
    assert streamed(served) == path.read_bytes()
    page = client_for(business).get(reverse("radio:today")).content.decode()
    # The player reads the length before it is pressed, and the page says it from the stored length.
    assert f'<audio controls preload="metadata" src="{reverse("radio:audio", args=[digest_id])}"' in page
    whole = int(digest.audio_seconds)  # type: ignore[arg-type]
    length = f'<time class="length" datetime="PT{digest.audio_seconds:.1f}S">{whole // 60}:{whole % 60:02d}</time>'
    assert length in page


def test_speech_is_compressed_to_mp3_of_the_same_length(settings: Any) -> None:
    rate, seconds = 22_050, 3
    tone = array.array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(rate * seconds)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(tone.tobytes())
    wav = buffer.getvalue()
    compressed = speech.mp3(wav)
    info = MPEGInfo(io.BytesIO(compressed))
    assert (info.sample_rate, info.channels, info.bitrate) == (22_050, 1, 48_000)
    assert abs(info.length - seconds) < 0.1
    assert len(compressed) < len(wav) / 7
    settings.RADIO_MP3_KBPS = 32
    assert MPEGInfo(io.BytesIO(speech.mp3(wav))).bitrate == 32_000


def test_script_reads_the_top_items_with_counts_and_notes(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"
    digest = Digest(channel=Channel(name="Logistics"), day=date(2026, 11, 24), items_count=12, customers=30)
    items = [DigestItem(position=1, headline="Parcels stuck", customers=7, quote="It has not moved", note="n"),
             DigestItem(position=2, headline="Late", customers=1, quote="Late again", note="")]  # fmt: skip
    lines = audio.digest_script(digest, items)
    assert lines[0] == "Nine O'Clock Radio, Logistics, November 24."
    assert lines[2:9] == ["Number 1: Parcels stuck.", "7 customers said:", "It has not moved", "The agent's note: n",
                          "Number 2: Late.", "A customer said:", "Late again"]  # fmt: skip
    assert lines[-2:] == ["10 more on the digest page.", "That was Logistics. Have a good day."]


@pytest.mark.django_db
def test_without_espeak_ng_the_page_says_so_and_everything_else_works(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User, settings: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    settings.RADIO_ESPEAK_NG = str(tmp_path / "no-such-espeak-ng")
    logistics = rf.channel("logistics", "快递与配送")
    Subscription.objects.create(user=business, channel=logistics)
    rf.approved(agent, supervisor, [logistics], quote="快递三天没动了")
    (digest_id,) = building.build_digests()
    assert audio.render_digest_audio(digest_id) == Digest.Audio.UNAVAILABLE
    digest = Digest.objects.get(pk=digest_id)
    assert not digest.audio and "no-such-espeak-ng" in digest.audio_error
    with translation.override("en"):
        response = client_for(business).get(reverse("radio:today"), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "this server has no speech engine (espeak-ng is not installed)" in html
    assert "快递三天没动了" in html and "<audio" not in html
    assert client_for(business).get(reverse("radio:audio", args=[digest_id])).status_code == 404


@pytest.mark.django_db
def test_a_silent_recording_is_refused(agent: User, supervisor: User, settings: Any, tmp_path: Path) -> None:
    # An espeak-ng that runs and writes a WAV of pure silence (as a broken voice install can).
    fake = tmp_path / "espeak-ng"
    fake.write_text(
        f"#!{sys.executable}\nimport sys, wave\nout = sys.argv[sys.argv.index('-w') + 1]\n"
        "w = wave.open(out, 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050)\n"
        "w.writeframes(bytes(44100)); w.close()\n"
    )
    fake.chmod(0o755)
    settings.RADIO_ESPEAK_NG = str(fake)
    logistics = rf.channel("logistics")
    rf.approved(agent, supervisor, [logistics])
    (digest_id,) = building.build_digests()
    assert audio.render_digest_audio(digest_id) == Digest.Audio.FAILED
    digest = Digest.objects.get(pk=digest_id)
    assert not digest.audio and "silence" in digest.audio_error


@pytest.mark.django_db
def test_digest_audio_is_served_in_byte_ranges_so_that_the_player_can_seek(
    client_for: Callable[[User], Client], agent: User, supervisor: User, business: User, make_user: Callable[..., User]
) -> None:
    logistics = rf.channel("logistics", "快递与配送")
    Subscription.objects.create(user=business, channel=logistics)
    rf.approved(agent, supervisor, [logistics], quote="快递三天没动了")
    (digest_id,) = building.build_digests()
    digest = Digest.objects.get(pk=digest_id)
    data = bytes(range(256)) * 4  # the bytes stand for the recording: only their order matters here
    digest.audio.save("digest.wav", ContentFile(data), save=False)
    digest.audio_status = Digest.Audio.READY
    digest.save(update_fields=["audio", "audio_status"])
    url = reverse("radio:audio", args=[digest_id])
    client = client_for(business)

    whole = client.get(url)
    assert (whole.status_code, whole["Accept-Ranges"], whole["Content-Type"]) == (200, "bytes", "audio/wav")
    assert (whole["Cache-Control"], streamed(whole)) == ("private, max-age=3600", data)
    part = client.get(url, headers={"Range": "bytes=300-309"})
    assert (part.status_code, part["Content-Range"], part["Content-Length"]) == (206, "bytes 300-309/1024", "10")
    assert (part["Content-Type"], part["Cache-Control"], streamed(part)) == ("audio/wav", "private, max-age=3600",
                                                                              data[300:310])  # fmt: skip
    tail = client.get(url, headers={"Range": "bytes=-4"})
    assert (tail.status_code, tail["Content-Range"], streamed(tail)) == (206, "bytes 1020-1023/1024", data[-4:])
    beyond = client.get(url, headers={"Range": "bytes=2000-"})
    assert (beyond.status_code, beyond["Content-Range"]) == (416, "bytes */1024")
    stranger = client_for(make_user("biz2", roles.BUSINESS))  # follows no channel: the audio is not there for them
    assert stranger.get(url, headers={"Range": "bytes=0-9"}).status_code == 404
    # A digest recorded since the radio compresses is MP3, served as such, in ranges too.
    digest.audio.save("digest.mp3", ContentFile(data), save=False)
    digest.save(update_fields=["audio"])
    part = client.get(url, headers={"Range": "bytes=0-9"})
    assert (part.status_code, part["Content-Type"], streamed(part)) == (206, "audio/mpeg", data[:10])


def streamed(response: Any) -> bytes:
    return b"".join(response.streaming_content)
