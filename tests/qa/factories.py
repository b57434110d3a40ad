"""Builders for QA rows in tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone

from qa import services
from qa.models import Rule, Transcript
from qa.segments import SegmentIn


def transcript(
    lines: Sequence[tuple[str, str]], *, agent: Any = None, kind: str = "call", started_at: datetime | None = None,
    **extra: Any,
) -> Transcript:  # fmt: skip
    """A transcript of (speaker, text) lines, each segment 5 s long."""
    segments = [SegmentIn(speaker, text, i * 5000, i * 5000 + 4000) for i, (speaker, text) in enumerate(lines)]
    return services.save_transcript(
        kind=kind,
        source=Transcript.Source.IMPORT,
        segments=segments,
        started_at=started_at or timezone.now(),
        agent=agent,
        **extra,
    )


def rule(name: str, kind: str, *, active: bool = True, **fields: Any) -> Rule:
    fields.setdefault("category", "compliance")
    return services.create_rule(name=name, kind=kind, active=active, **fields)
