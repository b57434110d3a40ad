from __future__ import annotations

from celery import shared_task

from crm.rating import rate_consumers
from crm.risk import detect_risk_flags


@shared_task
def nightly_rating() -> dict[str, object]:
    """Beat, nightly: run the risk rules, then rescore every consumer (flags count in the score)."""
    flags = detect_risk_flags()
    summary = rate_consumers()
    return {"flags": flags.raised_or_refreshed, "consumers": summary.consumers, "seconds": summary.seconds}
