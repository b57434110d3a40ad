"""Merchants' service score: hand-computed, rerun-safe, with history and the marketplace median."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from merchants.models import Merchant, MerchantScore
from merchants.scoring import score_merchants
from merchants.selectors import marketplace_medians
from tests.crm import factories as f

DAY = date(2026, 6, 1)
pytestmark = pytest.mark.django_db


def at(days_before: int, hour: int = 12) -> datetime:
    return datetime.combine(DAY - timedelta(days=days_before), time(hour), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def shops() -> tuple[Merchant, Merchant]:
    busy, quiet = f.merchant("BUSY"), f.merchant("QUIET")
    who = f.consumer()
    o1 = f.order(who, busy, placed_at=at(10), dispute="merchant_won")
    o2 = f.order(who, busy, placed_at=at(20), refund_requested_at=at(18), refunded_at=at(18) + timedelta(hours=36))
    f.order(who, busy, placed_at=at(30))
    f.order(who, busy, placed_at=at(40))
    f.order(who, busy, placed_at=at(200))  # outside the 180-day window
    f.review(o1, (5, 4, 3), created_at=at(5))
    f.review(o2, (3, 4, 5), created_at=at(15))
    f.review(f.order(who, busy, placed_at=at(300)), (1, 1, 1), created_at=at(250))  # outside the window
    f.review(f.order(who, busy, placed_at=at(400)), (1, 1, 1), created_at=at(3), moderation="removed")
    return busy, quiet


def test_service_score_matches_the_hand_computation(shops: tuple[Merchant, Merchant]) -> None:
    busy, quiet = shops
    assert score_merchants(DAY) == 2
    s = MerchantScore.objects.get(merchant=busy, day=DAY)
    # DSR: (8 stars + 4.7 x 10) / (2 reviews + 10) = 4.5833 in each dimension
    assert (s.reviews, s.dsr_item, s.dsr_service, s.dsr_logistics) == (
        2,
        Decimal("4.583"),
        Decimal("4.583"),
        Decimal("4.583"),
    )
    # 4 orders in the window (the removed review's order is 400 days old), 1 disputed; one refund in 36 h
    assert (s.orders, s.dispute_rate, s.refund_hours) == (4, Decimal("0.25000"), Decimal("36.00"))
    # 3 x 15 x 3.583 / 4 (13.44 each) + 25 x 0 + 15 x (72 - 36) / 72 + no chats: 5 + 2.5
    assert (s.chats, s.chat_response_seconds, s.chat_resolution_rate) == (0, None, None)
    assert (s.service_score, s.traffic_weight) == (Decimal("55.32"), Decimal("1.053"))
    q = MerchantScore.objects.get(merchant=quiet, day=DAY)
    # no reviews: the prior 4.7 (13.88 a dimension); no orders or chats: half the points (12.5, 7.5, 5, 2.5)
    assert (q.dsr_item, q.service_score, q.traffic_weight) == (Decimal("4.700"), Decimal("69.14"), Decimal("1.191"))


def test_a_rerun_replaces_the_day_and_other_days_are_kept(shops: tuple[Merchant, Merchant]) -> None:
    score_merchants(DAY - timedelta(days=1))
    score_merchants(DAY)
    score_merchants(DAY)
    assert MerchantScore.objects.count() == 4
    medians = marketplace_medians(DAY - timedelta(days=1), DAY)
    assert medians[DAY] == Decimal("62.23")  # median of 55.32 and 69.14


def test_merchant_page_shows_the_score_trend_and_median(
    shops: tuple[Merchant, Merchant], agent: User, client_for: Callable[[User], Client]
) -> None:
    busy, _quiet = shops
    for back in range(5):
        score_merchants(DAY - timedelta(days=back))
    page = client_for(agent).get(f"/admin/merchants/merchant/{busy.pk}/scores/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "55.32" in html and 'class="trend"' in html and "polyline" in html
    assert "62.23" in html  # the marketplace median


def test_score_page_needs_the_score_permission(
    shops: tuple[Merchant, Merchant], make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    busy, _quiet = shops
    business = client_for(make_user("biz", "business"))
    assert business.get(f"/admin/merchants/merchant/{busy.pk}/scores/").status_code == 403


def test_held_reviews_do_not_count_against_the_shop(shops: tuple[Merchant, Merchant]) -> None:
    busy, _quiet = shops
    who = f.consumer()
    f.review(f.order(who, busy, placed_at=at(400)), (1, 1, 1), created_at=at(2), moderation="held")
    score_merchants(DAY)
    assert MerchantScore.objects.get(merchant=busy, day=DAY).reviews == 2  # the held one is left out
