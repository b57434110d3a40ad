"""The QA pipeline's upkeep, every few minutes (beat ``qa.sweep``): what no event queued, or a dead worker left."""

from __future__ import annotations

from qa import chats, evaluation


def sweep() -> dict[str, int]:
    """What the beat job does every few minutes; each step is idempotent.

    Chats' new messages become transcripts; transcripts a dead worker left unevaluated are evaluated
    here. (Search rows need no sweep: they commit with the transcript's segments.)
    """
    collected = chats.collect_chats(chats.stale_chat_ids())
    unevaluated = evaluation.stale_transcript_ids()
    if unevaluated:
        evaluation.evaluate_transcripts(unevaluated)
    return {"chats": collected, "evaluated": len(unevaluated)}
