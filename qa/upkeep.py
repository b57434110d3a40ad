"""The QA pipeline's upkeep, every few minutes (beat ``qa.sweep``): what no event queued, or a dead worker left."""

from __future__ import annotations

from core.queue import enqueue
from qa import chats, evaluation, searching
from qa.services import INDEX_TASK


def sweep() -> dict[str, int]:
    """What the beat job does every few minutes; each step is idempotent.

    Chats' new messages become transcripts; transcripts a dead worker left unevaluated are evaluated
    here; unindexed ones are queued for the search index's single writer.
    """
    collected = chats.collect_chats(chats.stale_chat_ids())
    unevaluated = evaluation.stale_transcript_ids()
    if unevaluated:
        evaluation.evaluate_transcripts(unevaluated)
    unindexed = searching.unindexed_transcript_ids()
    for start in range(0, len(unindexed), 500):
        enqueue(INDEX_TASK, unindexed[start : start + 500])
    return {"chats": collected, "evaluated": len(unevaluated), "queued_for_index": len(unindexed)}
