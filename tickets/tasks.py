from __future__ import annotations

from celery import shared_task

from tickets import disputes, escalation, returns


@shared_task
def check_sla() -> dict[str, int]:
    """Beat, every minute: mark tickets at risk or breached, and escalate the newly breached."""
    return escalation.check_sla()


@shared_task
def decide_unanswered_disputes() -> int:
    """Beat, every minute: 极速维权, trusted consumers' disputes the merchant left unanswered past its deadline."""
    return disputes.decide_unanswered_disputes()


@shared_task
def expire_unsent_returns() -> int:
    """Beat, hourly: approved 极速退货 returns whose goods were not sent back by their deadline expire."""
    return returns.expire_unsent_returns()
