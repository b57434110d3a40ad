"""A segment on its way in: what importers, the recogniser and chats hand to ``qa.services.save_transcript``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentIn:
    """One segment as an importer or recogniser hands it over."""

    speaker: str
    text: str
    start_ms: int | None = None
    end_ms: int | None = None
