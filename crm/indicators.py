"""The credit rating's indicators: each a named, documented, set-based computation over all consumers.

An indicator is one SQL aggregate over one *source* table, grouped by consumer. The engine
(crm/rating.py) computes every indicator of a source in a single pass over that table, so adding
indicators adds columns to a query, not queries or Python loops: 300 indicators cost what 30 do,
give or take the arithmetic.

Each raw value is mapped to 0..1 by its transform and multiplied by its weight, giving *points*:

    score = BASE_SCORE + sum(points), clamped to 0..1000

A consumer with no rows in a source gets the indicator's ``default`` raw value (None: no points).
The stored rating keeps every indicator's raw value and points, so an agent sees why a consumer is
in their tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

BASE_SCORE = 450
Source = Literal["consumers", "orders", "reviews", "flags"]

# SQL fragments. "now" is the run's reference time, written into the SQL as a timestamptz literal by
# the engine (not user input); rows after it are not seen. Days are 24-hour intervals back from it;
# calendar months are counted in TIME_ZONE (LOCAL_MONTH), not in the database session's UTC.
NOW = "__NOW__"  # replaced by the run's reference time, as a timestamptz literal
ZONE = "__ZONE__"  # replaced by settings.TIME_ZONE
LOCAL_MONTH = "date_trunc('month', ({moment}) AT TIME ZONE '" + ZONE + "')"
DAYS_AGO = "(" + NOW + " - interval '{days} days')"


@dataclass(frozen=True)
class Transform:
    """How a raw value becomes a 0..1 fraction of the weight."""

    kind: Literal["cap", "ratio", "stars"]
    cap: float = 1.0

    def sql(self, raw: str) -> str:
        if self.kind == "cap":  # 0 at 0, 1 at cap and above
            return f"LEAST(GREATEST(({raw})::float8, 0) / {float(self.cap)}, 1)"
        if self.kind == "ratio":  # already a fraction
            return f"LEAST(GREATEST(({raw})::float8, 0), 1)"
        return f"LEAST(GREATEST((({raw})::float8 - 1) / 4, 0), 1)"  # 1..5 stars

    def apply(self, raw: float) -> float:
        """The same mapping in Python, for tests and explanations."""
        if self.kind == "cap":
            return min(max(raw, 0.0) / self.cap, 1.0)
        if self.kind == "ratio":
            return min(max(raw, 0.0), 1.0)
        return min(max((raw - 1) / 4, 0.0), 1.0)


def cap(value: float) -> Transform:
    return Transform("cap", value)


RATIO = Transform("ratio")
STARS = Transform("stars")


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str | Promise
    source: Source
    # An aggregate over the source's rows of one consumer (alias: c, o, r or f).
    aggregate: str
    transform: Transform
    weight: int  # points at full strength; negative for behaviour that lowers trust
    default: float | None = 0.0


def _orders(
    key: str, label: str | Promise, aggregate: str, transform: Transform, weight: int, **kw: float | None
) -> Indicator:
    return Indicator(key, label, "orders", aggregate, transform, weight, default=kw.get("default", 0.0))


def _share(condition: str) -> str:
    return f"avg(CASE WHEN {condition} THEN 1.0 ELSE 0.0 END)"


INDICATORS: list[Indicator] = [
    # --- account -------------------------------------------------------------------------------
    Indicator(
        "account_age_days",
        _("Account age (days)"),
        "consumers",
        f"extract(epoch FROM {NOW} - c.registered_at) / 86400",
        cap(1825),
        60,
    ),
    Indicator(
        "identity_verified",
        _("Identity verified"),
        "consumers",
        "CASE WHEN c.id_number <> '' THEN 1 ELSE 0 END",
        RATIO,
        30,
    ),
    Indicator(
        "phone_bound", _("Phone number bound"), "consumers", "CASE WHEN c.phone <> '' THEN 1 ELSE 0 END", RATIO, 10
    ),
    # --- buying --------------------------------------------------------------------------------
    _orders("orders_total", _("Orders placed"), "count(*)", cap(100), 40),
    _orders(
        "orders_last_90d",
        _("Orders in the last 90 days"),
        f"count(*) FILTER (WHERE o.placed_at >= {DAYS_AGO.format(days=90)})",
        cap(20),
        30,
    ),
    _orders("completed_orders", _("Completed orders"), "count(*) FILTER (WHERE o.status = 'completed')", cap(80), 60),
    _orders(
        "total_spend",
        _("Spend on kept orders (yuan)"),
        "coalesce(sum(o.amount - o.refunded_amount) FILTER (WHERE o.status IN ('completed', 'delivered')), 0)",
        cap(20000),
        50,
    ),
    _orders("avg_order_value", _("Average order value (yuan)"), "avg(o.amount)", cap(500), 10, default=None),
    _orders("distinct_merchants", _("Shops bought from"), "count(DISTINCT o.merchant_id)", cap(40), 20),
    _orders(
        "active_months_last_year",
        _("Months with an order in the last year"),
        f"count(DISTINCT {LOCAL_MONTH.format(moment='o.placed_at')})"
        f" FILTER (WHERE o.placed_at >= {DAYS_AGO.format(days=365)})",
        cap(12),
        40,
    ),
    _orders(
        "days_since_last_order",
        _("Days since the last order"),
        f"extract(epoch FROM {NOW} - max(o.placed_at)) / 86400",
        cap(365),
        -30,
        default=365,
    ),
    _orders(
        "high_value_completed",
        _("Completed orders of 1,000 yuan or more"),
        "count(*) FILTER (WHERE o.status = 'completed' AND o.amount >= 1000)",
        cap(10),
        30,
    ),
    # --- refunds and returns ----------------------------------------------------------------------
    _orders("refund_count", _("Refunded orders"), "count(*) FILTER (WHERE o.refunded_amount > 0)", cap(20), -30),
    _orders("refund_rate", _("Share of orders refunded"), _share("o.refunded_amount > 0"), RATIO, -80, default=None),
    _orders(
        "refund_amount_ratio",
        _("Share of spend refunded"),
        "sum(o.refunded_amount) / nullif(sum(o.amount), 0)",
        RATIO,
        -40,
        default=None,
    ),
    _orders(
        "refund_requests_last_30d",
        _("Refund requests in the last 30 days"),
        f"count(*) FILTER (WHERE o.refund_requested_at >= {DAYS_AGO.format(days=30)})",
        cap(8),
        -30,
    ),
    _orders(
        "quick_refund_requests",
        _("Refunds asked for within an hour of delivery"),
        "count(*) FILTER (WHERE o.refund_requested_at BETWEEN o.delivered_at AND o.delivered_at + interval '1 hour')",
        cap(5),
        -20,
    ),
    _orders("cancel_rate", _("Share of orders cancelled"), _share("o.status = 'cancelled'"), RATIO, -30, default=None),
    _orders("return_rate", _("Share of orders returned"), _share("o.returned"), RATIO, -40, default=None),
    _orders(
        "returns_last_90d",
        _("Returns in the last 90 days"),
        f"count(*) FILTER (WHERE o.returned AND o.placed_at >= {DAYS_AGO.format(days=90)})",
        cap(10),
        -20,
    ),
    # --- disputes (维权) ----------------------------------------------------------------------------
    _orders("disputes_opened", _("Disputes opened"), "count(*) FILTER (WHERE o.dispute <> '')", cap(10), -30),
    _orders("disputes_lost", _("Disputes lost"), "count(*) FILTER (WHERE o.dispute = 'merchant_won')", cap(5), -80),
    _orders("disputes_won", _("Disputes won"), "count(*) FILTER (WHERE o.dispute = 'consumer_won')", cap(5), 10),
    _orders("dispute_rate", _("Share of orders disputed"), _share("o.dispute <> ''"), RATIO, -60, default=None),
    # --- reviews -----------------------------------------------------------------------------------
    Indicator("reviews_written", _("Reviews written"), "reviews", "count(*)", cap(50), 20),
    Indicator(
        "reviews_with_text",
        _("Reviews with a written comment"),
        "reviews",
        "count(*) FILTER (WHERE char_length(r.text) >= 10)",
        cap(30),
        15,
    ),
    Indicator(
        "avg_stars",
        _("Average stars given"),
        "reviews",
        "avg((r.item_stars + r.service_stars + r.logistics_stars) / 3.0)",
        STARS,
        30,
        default=None,
    ),
    Indicator(
        "negative_reviews", _("Negative reviews"), "reviews", "count(*) FILTER (WHERE r.is_negative)", cap(20), -30
    ),
    Indicator(
        "negative_rate", _("Share of reviews negative"), "reviews", _share("r.is_negative"), RATIO, -60, default=None
    ),
    Indicator(
        "negative_shops_last_30d",
        _("Shops given a negative review in the last 30 days"),
        "reviews",
        f"count(DISTINCT r.merchant_id) FILTER (WHERE r.is_negative AND r.created_at >= {DAYS_AGO.format(days=30)})",
        cap(5),
        -40,
    ),
    Indicator(
        "all_one_star_reviews",
        _("Reviews with one star everywhere"),
        "reviews",
        "count(*) FILTER (WHERE r.item_stars = 1 AND r.service_stars = 1 AND r.logistics_stars = 1)",
        cap(10),
        -30,
    ),
    Indicator(
        "moderated_reviews",
        _("Reviews held or removed by moderation"),
        "reviews",
        "count(*) FILTER (WHERE r.moderation <> 'published')",
        cap(5),
        -30,
    ),
    # --- risk ---------------------------------------------------------------------------------------
    Indicator(
        "confirmed_risk_flags",
        _("Confirmed risk flags"),
        "flags",
        "count(*) FILTER (WHERE f.status = 'confirmed')",
        cap(1),
        -300,
    ),
    Indicator(
        "open_risk_flags",
        _("Risk flags under review"),
        "flags",
        "count(*) FILTER (WHERE f.status = 'open')",
        cap(2),
        -50,
    ),
]
