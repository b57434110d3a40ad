"""Read-only API representations of merchants and their daily service scores."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from merchants.models import Merchant, MerchantScore


# The view annotates score_day, service_score and traffic_weight (merchants.api.with_latest_score).
# Serializers here carry comments, not docstrings: drf-spectacular publishes docstrings in the schema.
class MerchantSerializer(serializers.ModelSerializer[Merchant]):
    score_day = serializers.DateField(
        read_only=True, allow_null=True, help_text=_("Day of the latest score; null before the first scoring run.")
    )
    service_score = serializers.DecimalField(
        max_digits=5, decimal_places=2, read_only=True, allow_null=True, help_text=_("Latest service score (0-100).")
    )
    traffic_weight = serializers.DecimalField(
        max_digits=5, decimal_places=3, read_only=True, allow_null=True, help_text=_("Latest traffic weight.")
    )

    class Meta:
        model = Merchant
        fields = ["id", "code", "name", "category", "city", "score_day", "service_score", "traffic_weight"]


class ScoreHistoryQuerySerializer(serializers.Serializer[dict[str, int]]):
    days = serializers.IntegerField(
        min_value=1, max_value=365, default=90, help_text=_("How many of the latest daily scores to return.")
    )


_MEDIAN = serializers.DecimalField(
    max_digits=5,
    decimal_places=2,
    read_only=True,
    allow_null=True,
    help_text=_("Median service score of all merchants that day."),
)


# One day of a merchant's score history; context["medians"] maps each day to the marketplace median.
class ScoreRowSerializer(serializers.ModelSerializer[MerchantScore]):
    marketplace_median = serializers.SerializerMethodField()

    class Meta:
        model = MerchantScore
        fields = [
            "day",
            "reviews",
            "dsr_item",
            "dsr_service",
            "dsr_logistics",
            "orders",
            "dispute_rate",
            "refund_hours",
            "service_score",
            "traffic_weight",
            "marketplace_median",
        ]

    @extend_schema_field(_MEDIAN)
    def get_marketplace_median(self, score: MerchantScore) -> str | None:
        medians: dict[date, Decimal] = self.context["medians"]
        median = medians.get(score.day)
        return None if median is None else _MEDIAN.to_representation(median)
