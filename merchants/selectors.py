"""Read-only questions about merchants' scores."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery

from merchants.models import Merchant, MerchantScore


def score_history(merchant: Merchant, days: int = 90) -> list[MerchantScore]:
    return list(MerchantScore.objects.filter(merchant=merchant).order_by("-day")[:days])[::-1]


def marketplace_medians(first_day: date, last_day: date) -> dict[date, Decimal]:
    """The median service score of all merchants for each day in [first_day, last_day]."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT day, percentile_cont(0.5) WITHIN GROUP (ORDER BY service_score)"
            " FROM merchants_merchantscore WHERE day BETWEEN %s AND %s GROUP BY day",
            [first_day, last_day],
        )
        return {day: Decimal(str(round(median, 2))) for day, median in cursor.fetchall()}


def with_latest_score(queryset: QuerySet[Merchant]) -> QuerySet[Merchant]:
    """Annotate each merchant with its latest day's score in the same query (one index probe per row)."""
    latest = MerchantScore.objects.filter(merchant=OuterRef("pk")).order_by("-day")
    return queryset.annotate(
        score_day=Subquery(latest.values("day")[:1]),
        service_score=Subquery(latest.values("service_score")[:1]),
        traffic_weight=Subquery(latest.values("traffic_weight")[:1]),
    )
