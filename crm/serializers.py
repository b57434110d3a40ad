"""Read-only API representations of consumers, their tier and the rating that put them there."""

from __future__ import annotations

from typing import TypedDict

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm.indicators import BASE_SCORE, INDICATORS
from crm.models import Consumer, CreditRating, CreditTier, RiskFlag

_INDICATORS = {indicator.key: indicator for indicator in INDICATORS}


class CreditTierSerializer(serializers.ModelSerializer[CreditTier]):
    class Meta:
        model = CreditTier
        fields = ["name", "min_score", "instant_refund_limit", "priority_routing"]


# One indicator's part in a rating; drf-spectacular documents the API from these annotations.
class Contribution(TypedDict):
    key: str
    label: str  # in the request's language
    raw: float | None  # None: the consumer has no value (e.g. no orders for an average)
    points: float
    weight: int | None  # None: the indicator has been retired since the rating was computed


def contribution_rows(contributions: dict[str, list[float | None]]) -> list[Contribution]:
    """The stored {key: [raw, points]} as labelled rows, the biggest effect (either way) first."""
    rows = []
    for key, (raw, points) in contributions.items():
        # A rating computed before an indicator was retired still names it: show the key, not an error.
        indicator = _INDICATORS.get(key)
        rows.append(
            Contribution(
                key=key,
                label=str(indicator.label) if indicator else key,
                raw=raw,
                points=points or 0,
                weight=indicator.weight if indicator else None,
            )
        )
    rows.sort(key=lambda row: (-abs(row["points"]), row["key"]))
    return rows


class CreditRatingSerializer(serializers.ModelSerializer[CreditRating]):
    base_score = serializers.SerializerMethodField(help_text=_("Score before any indicator's points."))
    contributions = serializers.SerializerMethodField(
        help_text=_("Each indicator's contribution, sorted by absolute points, largest first.")
    )

    class Meta:
        model = CreditRating
        fields = ["score", "computed_at", "base_score", "contributions"]

    def get_base_score(self, rating: CreditRating) -> int:
        return BASE_SCORE

    def get_contributions(self, rating: CreditRating) -> list[Contribution]:
        return contribution_rows(rating.contributions)


class RiskFlagSerializer(serializers.ModelSerializer[RiskFlag]):
    class Meta:
        model = RiskFlag
        fields = ["kind", "status", "detected_at"]


class ConsumerSerializer(serializers.ModelSerializer[Consumer]):
    # Masked for every role here, whatever permissions the user holds: the API has no PII view.
    phone = serializers.CharField(source="masked_phone", read_only=True, help_text=_("Masked phone number."))
    tier = CreditTierSerializer(read_only=True, allow_null=True)
    rating = CreditRatingSerializer(read_only=True, allow_null=True)
    risk_flags = RiskFlagSerializer(
        source="live_risk_flags", many=True, read_only=True, help_text=_("Open and confirmed risk flags, newest first.")
    )

    class Meta:
        model = Consumer
        fields = ["external_id", "display_name", "phone", "tier", "credit_score", "rating", "risk_flags"]
