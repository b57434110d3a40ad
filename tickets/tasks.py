from __future__ import annotations

from celery import shared_task

from tickets import escalation
from tickets.chat import knowledge
from tickets.chat import services as chat


@shared_task
def check_sla() -> dict[str, int]:
    """Beat, every minute: mark tickets at risk or breached, and escalate the newly breached."""
    return escalation.check_sla()


@shared_task
def index_knowledge_article(article_id: int) -> bool:
    """On the ``search`` queue (the index's single writer): bring one knowledge article's index entry up to date."""
    return knowledge.index_article(article_id)


@shared_task
def sweep_chats() -> dict[str, int]:
    """Beat, every 15 s: chats accepted but unanswered go back to the queue; idle bot-only chats are resolved."""
    return {"requeued": chat.requeue_unanswered(), "ended": chat.end_idle_chats()}


@shared_task
def index_knowledge_base() -> int:
    """On the ``search`` queue: rebuild the knowledge base's index from scratch."""
    return knowledge.rebuild_index()
