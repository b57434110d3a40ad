"""Read-only questions about merchants' scores."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery

from merchants.explanation import DEFINITIONS
from merchants.models import Merchant, MerchantScore

# Disputes are a share of orders: shops without orders (rate 0 by default) do not pull the median down.
_MEDIAN_FILTER = {"dispute_rate": "orders > 0"}


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


def day_medians(day: date) -> dict[str, Decimal | None]:
    """The marketplace median of each figure of the score, and of the score itself, on ``day`` (one query).

    A figure no shop has (no chats anywhere, say) has no median: None.
    """
    columns = [*(d.code for d in DEFINITIONS), "service_score"]
    select = ", ".join(
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {name})"
        + (f" FILTER (WHERE {_MEDIAN_FILTER[name]})" if name in _MEDIAN_FILTER else "")
        for name in columns
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {select} FROM merchants_merchantscore WHERE day = %s", [day])
        row = cursor.fetchone()
    places = {d.code: d.places for d in DEFINITIONS} | {"service_score": Decimal("0.01")}
    return {
        name: None if value is None else Decimal(str(value)).quantize(places[name], rounding=ROUND_HALF_UP)
        for name, value in zip(columns, row, strict=True)
    }
