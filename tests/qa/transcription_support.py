"""What the transcription tests share besides fixtures: the call's time, its words, and the
recogniser's refusal of audio that is not WAV."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALLED_AT = datetime(2026, 11, 23, 10, 15, tzinfo=SHANGHAI)
REFUND = "I want a refund for my order."
GREETING = "Hello, thank you for calling customer service."
HINT = "ffmpeg -i INPUT -ac 1 -ar 16000 -c:a pcm_s16le OUTPUT.wav"
NOT_WAV = "The file is %s audio, not WAV. Convert it to PCM WAV first, e.g. with: " + HINT
