from __future__ import annotations

from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone

from crm.rating import as_of, rate_consumers
from crm.risk import detect_risk_flags


@shared_task
def nightly_rating(day: str | None = None) -> dict[str, object]:
    """Beat, nightly: run the risk rules, then rescore every consumer (flags count in the score).

    As of the end of `day` (YYYY-MM-DD; default: yesterday in TIME_ZONE, the day that has just ended), so the
    run at 02:00 rates whole days and a rerun of a missed night gives what that night would have.
    """
    now = as_of(date.fromisoformat(day) if day else timezone.localdate() - timedelta(days=1))
    flags = detect_risk_flags(now=now)
    summary = rate_consumers(now=now)
    return {
        "as_of": now.isoformat(),
        "flags": flags.raised_or_refreshed,
        "consumers": summary.consumers,
        "seconds": summary.seconds,
    }
