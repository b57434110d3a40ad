"""What the transcript import tests share besides fixtures (tests/qa/conftest.py): documents, segments, problems."""

from __future__ import annotations

from typing import Any

from qa import importing
from qa.models import Transcript


def document(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "external_id": "pbx-1",
        "agent": "agent1",
        "consumer": "C1",
        "started_at": "2026-11-23T10:15:00+08:00",
        "language": "zh",
        "segments": [
            {"speaker": "agent", "start": 0, "end": 3.2, "text": "您好，请问有什么可以帮您？"},
            {"speaker": "consumer", "start": 3.6, "end": 7.9, "text": "我要退款"},
        ],
    }
    doc.update(overrides)
    return doc


def segments(transcript: Transcript) -> list[tuple[int, str, int | None, int | None, str]]:
    return list(transcript.segments.order_by("seq").values_list("seq", "speaker", "start_ms", "end_ms", "text"))


def problems(items: list[importing.Problem]) -> list[tuple[int | None, int | None, str, str]]:
    return [(p.line, p.segment, p.field, p.message) for p in items]
