"""Read-only questions about consumers that other apps (refunds, chat routing) ask."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q

from crm.models import Consumer, RiskFlag


def has_confirmed_risk_flag(consumer: Consumer) -> bool:
    return RiskFlag.objects.filter(consumer=consumer, status=RiskFlag.Status.CONFIRMED).exists()


def instant_refund_blocked(consumer: Consumer) -> bool:
    """Whether instant refunds are held for this consumer, whatever the tier, until a supervisor decides.

    Held by: any confirmed risk flag; and an open (undecided) extortion flag whose pattern score reaches
    RISK_HOLD_EXTORTION_SCORE. Other open flags do not hold refunds: they only lower the credit score.
    """
    live = RiskFlag.objects.filter(consumer=consumer)
    return live.filter(
        Q(status=RiskFlag.Status.CONFIRMED)
        | Q(
            status=RiskFlag.Status.OPEN,
            kind=RiskFlag.Kind.EXTORTION,
            evidence__score__gte=settings.RISK_HOLD_EXTORTION_SCORE,
        )
    ).exists()
