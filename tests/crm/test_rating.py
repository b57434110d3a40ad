"""The credit rating: every indicator on a hand-computed case, the score, the tiers, and scale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from crm.indicators import BASE_SCORE, INDICATORS, Indicator, cap
from crm.models import Consumer, CreditRating, CreditTier, RiskFlag
from crm.rating import RatingError, rate_consumers
from tests.crm import factories as f

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def days(n: float) -> datetime:
    return NOW - timedelta(days=n)


@pytest.fixture
def busy() -> Consumer:
    """One consumer whose every indicator is worked out by hand in EXPECTED below."""
    a = f.consumer("A", registered_at=days(1000), id_number="110105199001011234", phone="13912345678")
    m1, m2 = f.merchant(), f.merchant()
    o1 = f.order(a, m1, "100.00", status="completed", placed_at=days(10), delivered_at=days(8))
    o2 = f.order(a, m1, "1200.00", status="completed", placed_at=days(100), delivered_at=days(98))
    f.order(a, m1, "50.00", status="refunded", placed_at=days(20), delivered_at=days(18),
            refund_requested_at=days(18) + timedelta(minutes=30), refunded_at=days(18) + timedelta(hours=5),
            refunded_amount=Decimal("50.00"), returned=True)  # fmt: skip
    f.order(a, m2, "200.00", status="cancelled", placed_at=days(400))
    o5 = f.order(a, m1, "300.00", status="delivered", placed_at=days(5), delivered_at=days(3), dispute="merchant_won")
    f.order(a, m2, "80.00", status="completed", placed_at=days(200), delivered_at=days(198), dispute="consumer_won")
    f.review(o1, (5, 5, 5), "很好很好很好很好很好", created_at=days(7))
    f.review(o2, (1, 1, 1), "差", created_at=days(95))
    f.review(o5, (2, 3, 3), "发货慢还不理人，差评！", created_at=days(2), moderation="held")
    RiskFlag.objects.create(consumer=a, kind="extortion", status="confirmed", detected_at=days(1))
    RiskFlag.objects.create(consumer=a, kind="negative_burst", status="open", detected_at=days(1))
    return a


EXPECTED: dict[str, float | None] = {
    "account_age_days": 1000, "identity_verified": 1, "phone_bound": 1,
    "orders_total": 6, "orders_last_90d": 3, "completed_orders": 3, "total_spend": 1680,
    "avg_order_value": 1930 / 6, "distinct_merchants": 2,
    # placed within a year: May (three orders), February and November (months in TIME_ZONE)
    "active_months_last_year": 3, "days_since_last_order": 5, "high_value_completed": 1,
    "refund_count": 1, "refund_rate": 1 / 6, "refund_amount_ratio": 50 / 1930, "refund_requests_last_30d": 1,
    "quick_refund_requests": 1, "cancel_rate": 1 / 6, "return_rate": 1 / 6, "returns_last_90d": 1,
    "disputes_opened": 2, "disputes_lost": 1, "disputes_won": 1, "dispute_rate": 2 / 6,
    "reviews_written": 3, "reviews_with_text": 2, "avg_stars": (5 + 1 + 8 / 3) / 3, "negative_reviews": 2,
    "negative_rate": 2 / 3, "negative_shops_last_30d": 1, "all_one_star_reviews": 1, "moderated_reviews": 1,
    "confirmed_risk_flags": 1, "open_risk_flags": 1,
}  # fmt: skip
# A consumer who has done nothing: defaults apply (None: no value, no points).
EXPECTED_IDLE: dict[str, float | None] = {
    **dict.fromkeys(EXPECTED, 0),
    "account_age_days": 10, "days_since_last_order": 365, "avg_order_value": None, "refund_rate": None,
    "refund_amount_ratio": None, "cancel_rate": None, "return_rate": None, "dispute_rate": None,
    "avg_stars": None, "negative_rate": None,
}  # fmt: skip


def expected_points(raw: dict[str, float | None]) -> dict[str, float]:
    return {i.key: 0.0 if (value := raw[i.key]) is None else i.weight * i.transform.apply(value) for i in INDICATORS}


def expected_score(raw: dict[str, float | None]) -> int:
    return max(0, min(1000, round(BASE_SCORE + sum(expected_points(raw).values()))))


def test_every_indicator_is_covered_by_the_hand_computed_case() -> None:
    assert set(EXPECTED) == {i.key for i in INDICATORS}
    assert len(INDICATORS) >= 30


def test_every_indicator_matches_its_hand_computed_value(busy: Consumer) -> None:
    idle = f.consumer("B", registered_at=days(10))
    rate_consumers(now=NOW)
    for who, expected in ((busy, EXPECTED), (idle, EXPECTED_IDLE)):
        rating = CreditRating.objects.get(consumer=who)
        points = expected_points(expected)
        for key, value in expected.items():
            raw, got_points = rating.contributions[key]
            if value is None:
                assert raw is None and got_points == 0, (who.external_id, key)
            else:
                assert raw == pytest.approx(value, abs=0.006), (who.external_id, key)
                assert got_points == pytest.approx(points[key], abs=0.051), (who.external_id, key)
        assert rating.score == expected_score(expected)


def test_score_and_tier_are_copied_onto_the_consumer(busy: Consumer) -> None:
    rate_consumers(now=NOW)
    busy.refresh_from_db()
    rating = CreditRating.objects.get(consumer=busy)
    assert busy.credit_score == rating.score
    assert (
        busy.tier_id == rating.tier_id == CreditTier.objects.filter(min_score__lte=rating.score).latest("min_score").pk
    )


@pytest.mark.parametrize(
    ("score", "tier"),
    [
        (0, "受限"),
        (349, "受限"),
        (350, "普通会员"),
        (499, "普通会员"),
        (500, "银牌会员"),
        (619, "银牌会员"),
        (620, "金牌会员"),
        (719, "金牌会员"),
        (720, "88VIP"),
        (1000, "88VIP"),
    ],
)
def test_tier_mapping_at_the_boundaries(score: int, tier: str) -> None:
    who = f.consumer()
    # One indicator whose raw value is the score: BASE_SCORE + points = score.
    exact = Indicator("exact", "exact", "consumers", f"{score - BASE_SCORE}", cap(1), 1)
    if score < BASE_SCORE:
        exact = Indicator(
            "exact", "exact", "consumers", f"{BASE_SCORE - score}", cap(BASE_SCORE - score), -(BASE_SCORE - score)
        )
    elif score > BASE_SCORE:
        exact = Indicator("exact", "exact", "consumers", "1", cap(1), score - BASE_SCORE)
    rate_consumers(now=NOW, indicators=[exact])
    rating = CreditRating.objects.select_related("tier").get(consumer=who)
    assert (rating.score, rating.tier.name if rating.tier else None) == (score, tier)


def test_tiers_edited_in_the_admin_apply_at_the_next_run(busy: Consumer) -> None:
    rate_consumers(now=NOW)
    score = CreditRating.objects.get(consumer=busy).score
    CreditTier.objects.create(name="测试档", min_score=score, instant_refund_limit=Decimal("1"))
    rate_consumers(now=NOW)
    assert CreditRating.objects.get(consumer=busy).tier.name == "测试档"  # type: ignore[union-attr]


def test_rerun_and_batch_size_do_not_change_the_result(busy: Consumer) -> None:
    others = [f.consumer() for _ in range(5)]
    rate_consumers(now=NOW, batch_size=2)
    first = dict(CreditRating.objects.values_list("consumer_id", "score"))
    rate_consumers(now=NOW, batch_size=1000)
    assert dict(CreditRating.objects.values_list("consumer_id", "score")) == first
    assert CreditRating.objects.count() == 1 + len(others)


def test_the_engine_takes_300_indicators_without_redesign(busy: Consumer) -> None:
    generated = [
        Indicator(
            f"generated_{n:03d}",
            f"generated {n}",
            ("orders", "reviews", "consumers", "flags")[n % 4],
            (
                "count(*) FILTER (WHERE o.amount > {n})",
                "count(*) FILTER (WHERE r.item_stars > {m})",
                "extract(day FROM c.registered_at) + {n}",
                "count(*) + {n}",
            )[n % 4].format(n=n, m=n % 5),
            cap(1000),
            1,
        )
        for n in range(300)
    ]
    with CaptureQueriesContext(connection) as queries:
        summary = rate_consumers(now=NOW, indicators=generated)
    rating = CreditRating.objects.get(consumer=busy)
    assert summary.indicators == 300 and len(rating.contributions) == 300
    assert rating.contributions["generated_000"][0] == 6  # A's orders over 0 yuan
    assert rating.contributions["generated_100"][0] == 3  # over 100 yuan: 1200, 200 and 300
    # The work is set-based: a handful of statements per source and per batch, not one per consumer.
    assert len(queries) < 50


def test_a_second_run_at_the_same_time_is_refused(busy: Consumer) -> None:
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(hashtext(current_database()), 7230101)")
        with pytest.raises(RatingError, match="in progress"):
            rate_consumers(now=NOW)
    finally:
        # Released explicitly: with a connection pool, close() may hand the session (and its lock) back to the pool.
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
        other.close()


def test_a_bad_indicator_is_refused_before_anything_runs() -> None:
    with pytest.raises(RatingError, match="lower_snake_case"):
        rate_consumers(indicators=[Indicator("Bad Key", "x", "orders", "count(*)", cap(1), 1)])
    with pytest.raises(RatingError, match="twice"):
        rate_consumers(indicators=[Indicator("k", "x", "orders", "count(*)", cap(1), 1)] * 2)
    assert not CreditRating.objects.exists()


@pytest.mark.django_db
def test_a_flag_detected_at_the_reference_time_counts_and_one_after_it_does_not() -> None:
    # The nightly job detects flags and rates at one reference time: its own flags must count.
    at, later = f.consumer("AT", registered_at=days(400)), f.consumer("LATER", registered_at=days(400))
    RiskFlag.objects.create(consumer=at, kind="extortion", status=RiskFlag.Status.CONFIRMED, detected_at=NOW)
    RiskFlag.objects.create(
        consumer=later, kind="extortion", status=RiskFlag.Status.CONFIRMED, detected_at=NOW + timedelta(seconds=1)
    )
    rate_consumers(now=NOW)
    counted = {r.consumer.external_id: r.contributions["confirmed_risk_flags"][0] for r in CreditRating.objects.all()}
    assert counted == {"AT": 1, "LATER": 0}
