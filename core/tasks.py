from __future__ import annotations

from celery import shared_task

from core import health


@shared_task
def heartbeat() -> str:
    """Beat sends this every 30 s; a worker records it, so /healthz can tell that both are alive."""
    return health.record_heartbeat()
