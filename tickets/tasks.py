from __future__ import annotations

from celery import shared_task

from tickets import escalation


@shared_task
def check_sla() -> dict[str, int]:
    """Beat, every minute: mark tickets at risk or breached, and escalate the newly breached."""
    return escalation.check_sla()
