from __future__ import annotations

from celery import shared_task

from core import health, queue


@shared_task
def heartbeat() -> str:
    """Beat sends this every 30 s; a worker records it, so /healthz can tell that both are alive."""
    return health.record_heartbeat()


@shared_task
def sweep_outbox() -> int:
    """Beat sends this every minute: the outbox rows the broker could not take at their commit are sent."""
    return queue.sweep_outbox()
