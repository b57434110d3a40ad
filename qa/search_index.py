"""The search rows of transcripts (``qa.SegmentSearch``): written in the transaction that stores the transcript
(``qa.services.save_transcript`` calls ``index_transcript``; ``qa.loading`` COPYs many at once), rebuilt by
``manage.py reindex``. Each row's ``tsvector`` is ``core.search.tsvector`` of the segment's text, the tokenizer
``qa.searching`` queries with. Searching is ``qa.searching``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from core.search import tsvector
from qa.models import Segment, SegmentSearch, Transcript

TABLE = SegmentSearch._meta.db_table
COLUMNS = ("segment_id", "transcript_id", "spoken_at", "kind", "speaker", "agent_id", "department_id", "ticket_id",
           "vector")  # fmt: skip


def search_rows(segments: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """The ``COLUMNS`` of each segment, given as ``SEGMENT_VALUES``: tokenised here, ready for COPY."""
    for segment_id, transcript_id, started_at, start_ms, kind, speaker, agent, department, ticket, text in segments:
        spoken_at = started_at + timedelta(milliseconds=start_ms or 0)
        yield segment_id, transcript_id, spoken_at, kind, speaker, agent, department, ticket, tsvector(text)


SEGMENT_VALUES = ("id", "transcript_id", "transcript__started_at", "start_ms", "transcript__kind", "speaker",
                  "transcript__agent_id", "transcript__department_id", "transcript__ticket_id", "text")  # fmt: skip


def copy_rows(cursor: CursorWrapper, rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY search rows into the table; returns how many."""
    written = 0
    with cursor.cursor.copy(f"COPY {TABLE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            written += 1
    return written


def index_transcript(transcript: Transcript, segments: Iterable[Segment]) -> int:
    """Write one transcript's search rows afresh from its segments as just stored, in the caller's transaction.

    The transcript's agent, department and ticket are copied onto every row, so a replaced transcript
    rewrites all of its rows, kept segments too. Returns the number written.
    """
    SegmentSearch.objects.filter(transcript_id=transcript.pk).delete()
    t = transcript
    rows = search_rows(
        (s.pk, t.pk, t.started_at, s.start_ms, t.kind, s.speaker, t.agent_id, t.department_id, t.ticket_id, s.text)
        for s in segments
    )
    with connection.cursor() as cursor:
        return copy_rows(cursor, rows)


def index_transcripts(transcript_ids: Iterable[int]) -> int:
    """Write these transcripts' search rows afresh from the stored segments, in one transaction; returns how many."""
    ids = list(transcript_ids)
    if not ids:
        return 0
    with transaction.atomic():
        SegmentSearch.objects.filter(transcript_id__in=ids).delete()
        # Read whole before the COPY starts: the connection serves one of them at a time.
        segments = list(Segment.objects.filter(transcript_id__in=ids).order_by().values_list(*SEGMENT_VALUES))
        with connection.cursor() as cursor:
            written = copy_rows(cursor, search_rows(segments))
        Transcript.objects.filter(pk__in=ids).update(indexed_at=timezone.now())
    return written


def rebuild(*, batch: int = 1000, progress: Callable[[int], object] | None = None) -> int:
    """Rewrite every search row from the segments (``manage.py reindex``), ``batch`` transcripts per transaction.

    Searches keep working meanwhile: each batch's old rows give way to its new ones at its commit.
    ``progress`` is called with the number of segments of each batch. Returns the segments written.
    """
    written = 0
    last = 0
    while True:
        ids = list(Transcript.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[: max(batch, 1)])
        if not ids:
            return written
        count = index_transcripts(ids)
        written += count
        last = ids[-1]
        if progress is not None:
            progress(count)


def segment_count() -> int:
    """How many segments a rebuild will write (an estimate from the planner's statistics when large)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [Segment._meta.db_table])
        estimate = int(cursor.fetchone()[0])
    return estimate if estimate > 100_000 else Segment.objects.count()
