"""Read-only questions about consumers that other apps (refunds, chat routing) ask."""

from __future__ import annotations

from crm.models import Consumer, RiskFlag


def has_confirmed_risk_flag(consumer: Consumer) -> bool:
    return RiskFlag.objects.filter(consumer=consumer, status=RiskFlag.Status.CONFIRMED).exists()


def instant_refund_blocked(consumer: Consumer) -> bool:
    """A confirmed risk flag takes away the instant refund, whatever the tier."""
    return has_confirmed_risk_flag(consumer)
