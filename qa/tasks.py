"""QA's Celery tasks: thin, taking ids, each calling one function. Services queue them by name (core.queue)."""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings

from qa import evaluation, recordings, scorecards, upkeep


@shared_task(acks_late=True)
def evaluate_transcript(transcript_id: int) -> int:
    """Evaluate one transcript against the active rules; returns the number of hits."""
    return evaluation.evaluate_transcripts([transcript_id])


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def apply_rule_to_history(self: Task, run_id: int) -> int:
    """Apply a rule version to the stored transcripts of a run's days; returns the findings added."""
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    return evaluation.apply_rule_run(run_id, redelivered=redelivered)


@shared_task
def sweep() -> dict[str, int]:
    """Beat, every few minutes: chats become transcripts; what a dead worker left is redone."""
    return upkeep.sweep()


@shared_task
def compute_scorecards() -> int:
    """Beat, nightly: this week's and last week's scorecards (last week's findings are still being reviewed)."""
    return scorecards.compute_recent()


@shared_task(
    bind=True, acks_late=True, reject_on_worker_lost=True, soft_time_limit=settings.QA_TRANSCRIPTION_TIME_LIMIT
)
def transcribe_recording(self: Task, recording_id: int) -> str:
    """Transcribe one recording (queue `transcription`); a redelivery after a worker died may reclaim it."""
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    return recordings.transcribe_recording(recording_id, redelivered=redelivered)
