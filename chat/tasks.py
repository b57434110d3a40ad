"""Live chat's Celery tasks: thin, idempotent, each calling one function."""

from __future__ import annotations

from celery import shared_task

from chat import desk, knowledge


@shared_task
def index_knowledge_article(article_id: int) -> bool:
    """On the ``search`` queue (the index's single writer): bring one knowledge article's index entry up to date."""
    return knowledge.index_article(article_id)


@shared_task
def index_knowledge_base() -> int:
    """On the ``search`` queue: rebuild the knowledge base's index from scratch."""
    return knowledge.rebuild_index()


@shared_task
def sweep_chats() -> dict[str, int]:
    """Beat, every 15 s: chats accepted but unanswered go back to the queue; idle bot-only chats are resolved."""
    return {"requeued": desk.requeue_unanswered(), "ended": desk.end_idle_chats()}
