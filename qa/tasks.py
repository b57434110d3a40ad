from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def evaluate_transcript(transcript_id: int) -> int:
    """Evaluate one transcript against the active rules; returns the number of findings it has."""
    from qa import evaluation

    return evaluation.evaluate_transcripts([transcript_id])


@shared_task(acks_late=True)
def index_transcripts(transcript_ids: list[int]) -> int:
    """Add or replace transcripts in the search index (queue `search`: its single writer)."""
    from qa import searching

    return searching.index_transcripts(transcript_ids)
