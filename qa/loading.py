"""Many new transcripts stored at once with COPY: the demo's calls and chats.

``services.save_transcript`` stores one transcript, replacing the one stored before, and queues its
evaluation; this only adds transcripts that are not stored yet, a chunk at a time in the caller's
transaction: their rows, their segments and their search rows (``searching``'s), three COPYs a chunk.
Nothing is queued: the caller evaluates them (``evaluation.evaluate_transcripts``), or the sweep finds
them unevaluated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from django.db import connection
from django.utils import timezone

from core.seeding import copy_rows, reserve_ids
from qa import search_index
from qa.models import Segment, Transcript
from qa.segments import SegmentIn

CHUNK = 5000  # transcripts a chunk

_TRANSCRIPT_FIELDS = [
    "id", "kind", "source", "started_at", "agent", "consumer", "ticket", "department", "language", "external_id",
    "duration_seconds", "through_event", "recording", "characters", "created_at", "indexed_at",
]  # fmt: skip
_SEGMENT_FIELDS = ["id", "transcript", "seq", "speaker", "start_ms", "end_ms", "text"]


@dataclass(frozen=True)
class NewTranscript:
    """A transcript to add, with its segments; references by id."""

    kind: str
    source: str
    started_at: datetime
    segments: Sequence[SegmentIn]
    agent_id: int | None = None
    consumer_id: int | None = None
    ticket_id: int | None = None
    department_id: int | None = None
    language: str = "zh"
    external_id: str | None = None
    duration_seconds: float | None = None
    through_event: int | None = None
    recording_id: int | None = None


def add_transcripts(transcripts: Iterable[NewTranscript]) -> list[int]:
    """Store new transcripts with their segments and search rows; returns their ids, in order.

    None of them may be stored already (its external id, or its chat's ticket): the unique constraints refuse it.
    """
    ids: list[int] = []
    items = iter(transcripts)
    while chunk := list(islice(items, CHUNK)):
        ids += _add(chunk)
    return ids


def _add(chunk: list[NewTranscript]) -> list[int]:
    now = timezone.now()
    ids = reserve_ids(Transcript, len(chunk))
    copy_rows(
        Transcript,
        _TRANSCRIPT_FIELDS,
        (
            (pk, t.kind, t.source, t.started_at, t.agent_id, t.consumer_id, t.ticket_id, t.department_id, t.language,
             t.external_id, t.duration_seconds, t.through_event, t.recording_id,
             sum(len(s.text) for s in t.segments), now, now)
            for pk, t in zip(ids, chunk, strict=True)
        ),
    )  # fmt: skip
    owners = [(pk, t, seq, segment) for pk, t in zip(ids, chunk, strict=True) for seq, segment in enumerate(t.segments)]
    segment_ids = reserve_ids(Segment, len(owners))
    copy_rows(
        Segment,
        _SEGMENT_FIELDS,
        (
            (segment_id, pk, seq, s.speaker, s.start_ms, s.end_ms, s.text)
            for segment_id, (pk, _t, seq, s) in zip(segment_ids, owners, strict=True)
        ),
    )
    rows = search_index.search_rows(
        (segment_id, pk, t.started_at, s.start_ms, t.kind, s.speaker, t.agent_id, t.department_id, t.ticket_id, s.text)
        for segment_id, (pk, t, _seq, s) in zip(segment_ids, owners, strict=True)
    )
    with connection.cursor() as cursor:
        search_index.copy_rows(cursor, rows)
    return ids
