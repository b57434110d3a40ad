from __future__ import annotations

from celery import shared_task

from merchants.scoring import score_merchants


@shared_task
def nightly_merchant_scores() -> int:
    """Beat, nightly: yesterday's service score for every merchant (a rerun replaces the day's rows)."""
    return score_merchants()
