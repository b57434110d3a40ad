"""Read-only API representations of merchants and their daily service scores."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

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


def _decimal(places: int, help_text: Any, digits: int = 8) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=digits, decimal_places=places, read_only=True, allow_null=True, help_text=help_text
    )


# One component of the score (merchants.explanation.Component); figures are null where the shop has no data.
class ComponentSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(
        help_text=_(
            "dsr_item, dsr_service, dsr_logistics, dispute_rate, refund_hours, chat_response_seconds or"
            " chat_resolution_rate."
        )
    )
    label = serializers.CharField(  # type: ignore[assignment]  # a field named label, not the field's own label
        source="definition.label", help_text=_("The component in the request's language.")
    )
    value = serializers.CharField(allow_null=True, help_text=_("The shop's figure, as stored (a decimal string)."))
    shown = serializers.CharField(help_text=_("The shop's figure as the scorecard writes it."))
    points = _decimal(2, _("The points this figure earns."), 5)
    max_points = serializers.IntegerField(source="definition.max_points", help_text=_("The most points it can earn."))
    has_data = serializers.BooleanField(
        help_text=_("False when the shop has no orders or chats for it: it earns half the points.")
    )
    median = serializers.CharField(allow_null=True, help_text=_("The marketplace median of the figure that day."))
    median_points = _decimal(2, _("The points the median figure would earn."), 5)


# A change that would raise the score (merchants.explanation.Improvement).
class ImprovementSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(source="definition.code", help_text=_("The component to change."))
    current = serializers.CharField(help_text=_("The shop's figure now."))
    target = serializers.CharField(help_text=_("The figure to reach."))
    towards = serializers.ChoiceField(
        choices=["median", "step"],
        help_text=_("median: the marketplace median, which the shop is behind; step: one step better than now."),
    )
    gain = _decimal(2, _("Points the score would gain."), 5)
    text = serializers.CharField(help_text=_("The change in words, in the request's language."))


# A day's score taken apart (merchants.explanation.Explanation).
class ExplanationSerializer(serializers.Serializer[Any]):
    day = serializers.DateField(help_text=_("The day of the latest score."))
    service_score = _decimal(2, _("The service score (0-100): the sum of the components' points."), 5)
    traffic_weight = _decimal(3, _("The traffic weight the score earns (0.5 + score / 100)."), 5)
    median_score = _decimal(2, _("The marketplace median service score that day."), 5)
    median_weight = _decimal(3, _("The traffic weight of the median score."), 5)
    components = ComponentSerializer(many=True)
    improvements = ImprovementSerializer(
        many=True, help_text=_("At most three changes that would raise the score most, largest gain first.")
    )
