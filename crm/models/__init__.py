"""The marketplace's models as customer service sees them, one module per family: consumers (their credit tier,
rating and the looks at their personal numbers), orders and reviews, and the risk flags with the patterns behind
them.

Import them from here (``from crm.models import Order``)."""

from __future__ import annotations

from crm.models.consumers import Consumer, CreditRating, CreditTier, PiiReveal
from crm.models.orders import STARS, Order, Review
from crm.models.risk import RiskFlag, RiskPattern, RiskPatternDefinition, RiskPatternVersion

__all__ = [
    "STARS",
    "Consumer",
    "CreditRating",
    "CreditTier",
    "Order",
    "PiiReveal",
    "Review",
    "RiskFlag",
    "RiskPattern",
    "RiskPatternDefinition",
    "RiskPatternVersion",
]
