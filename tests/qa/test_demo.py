"""QA's demo: Chinese and English transcripts with real violations, a queue to clear, scorecards, a draft rule."""

from __future__ import annotations

import shutil
import wave
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from qa import demo
from qa.models import Finding, Rule, Scorecard, Segment, Transcript

pytestmark = pytest.mark.django_db


def test_demo_carries_chinese_and_english_transcripts_with_real_violations(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    call_command("seed_demo", quiet=True, stdout=StringIO())
    assert Rule.objects.filter(active=True).count() == 9
    assert set(Rule.objects.values_list("kind", flat=True)) == {
        "phrase", "required", "keyword", "proximity", "regex", "pii",
    }  # fmt: skip
    calls = Transcript.objects.filter(kind="call")
    assert calls.filter(language="zh").count() > 100 and calls.filter(language="en").count() >= 15
    assert Transcript.objects.filter(kind="chat").exists()
    found = set(Finding.objects.values_list("rule__name", flat=True))
    assert {"服务禁语", "开场问候", "投诉升级风险", "违规承诺赔付", "引导站外交易", "读出个人信息"} <= found
    assert "英文通话：指责顾客" in found
    # 没法保证退款 is said in the demo's calls and is no promise: the rule's negation drops it.
    assert Segment.objects.filter(text__contains="没法保证退款").exists()
    assert not Finding.objects.filter(segment__text__contains="没法保证退款", rule__name="违规承诺赔付").exists()
    assert not Finding.objects.filter(rule__active=False).exists()  # the draft waits for its backtest
    # Some English calls have a recording (espeak-ng's voices), timed segment by segment, for the players.
    if shutil.which("espeak-ng"):
        recorded = Transcript.objects.filter(recording__status="done", language="en")
        assert recorded.count() == 6 and Finding.objects.filter(transcript__in=recorded).exists()
        call = recorded.first()
        assert call is not None and call.recording is not None
        with wave.open(call.recording.audio.open("rb")) as audio:
            seconds = audio.getnframes() / audio.getframerate()
        last = call.segments.order_by("seq").last()
        assert last is not None and last.end_ms is not None
        assert abs(seconds - (last.end_ms + demo.PAUSE_MS) / 1000) < 0.01
    statuses = set(Finding.objects.values_list("status", flat=True))
    assert statuses == {"open", "confirmed", "dismissed"}
    assert Scorecard.objects.filter(agent__username="agent").count() >= 3
    # Reloading changes nothing.
    before = Finding.objects.count()
    call_command("seed_demo", quiet=True, stdout=StringIO())
    assert Finding.objects.count() == before
