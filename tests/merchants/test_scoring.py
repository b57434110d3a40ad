"""Merchants' service score: hand-computed, rerun-safe, with history and the marketplace median."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from chat.models import ChatSession
from merchants.models import Merchant, MerchantScore
from merchants.scoring import WINDOW_DAYS, score_merchant_days, score_merchants
from merchants.selectors import marketplace_medians
from tests.crm import factories as f
from tickets.models import Department, Ticket

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


def _scores() -> dict[tuple[int, date], tuple[object, ...]]:
    fields = [
        field.name for field in MerchantScore._meta.concrete_fields if field.name not in ("id", "merchant", "day")
    ]
    return {
        (row.merchant_id, row.day): tuple(getattr(row, name) for name in fields) for row in MerchantScore.objects.all()
    }


def test_a_range_of_days_scored_in_one_statement_gives_the_rows_of_each_day_scored_alone() -> None:
    rnd = random.Random(15)
    department = Department.objects.create(code="after-sales", name="售后")
    shops = [f.merchant() for _ in range(4)]
    buyers = [f.consumer() for _ in range(3)]
    first, last = DAY - timedelta(days=39), DAY
    span_minutes = (WINDOW_DAYS + 60) * 24 * 60
    for n in range(160):
        # Any minute of the last 240 days: near local midnight too, where the UTC date differs, and on both sides
        # of every window's first day.
        when = at(0, 23) - timedelta(minutes=rnd.randrange(span_minutes))
        shop, who = rnd.choice(shops[:3]), rnd.choice(buyers)  # the fourth shop has no data at all
        refunded = rnd.random() < 0.4
        order = f.order(
            who, shop, placed_at=when, dispute=rnd.choice(("", "", "consumer_won", "merchant_won")),
            refund_requested_at=when + timedelta(hours=1) if refunded else None,
            refunded_at=when + timedelta(hours=1, seconds=rnd.randrange(200_000)) if refunded else None,
        )  # fmt: skip
        if n % 2:
            stars = (rnd.randint(1, 5), rnd.randint(1, 5), rnd.randint(1, 5))
            f.review(order, stars, created_at=when + timedelta(hours=rnd.randrange(48)),
                     moderation=rnd.choice(("published", "published", "held")))  # fmt: skip
        if n % 3 == 0:
            who = f.consumer()  # one live chat per consumer
            ticket = Ticket.objects.create(
                subject="chat", channel="chat", status=rnd.choice(("resolved", "open", "closed")),
                department=department, consumer=who, order=order, merchant=shop, created_at=when, updated_at=when,
            )  # fmt: skip
            answered = rnd.choice((None, rnd.randrange(5, 900)))
            ChatSession.objects.create(
                ticket=ticket, consumer=who, created_at=when, last_activity_at=when,
                state=rnd.choice(("ended", "ended", "active")), queued_at=when + timedelta(seconds=10),
                answered_at=when + timedelta(seconds=10 + answered) if answered is not None else None,
            )  # fmt: skip
    one_by_one = sum(score_merchants(first + timedelta(days=k)) for k in range(40))
    alone = _scores()
    MerchantScore.objects.all().delete()

    assert score_merchant_days(first, last) == one_by_one == 40 * 4
    assert _scores() == alone
    figures = {values[:1] + values[5:6] for values in alone.values()}  # (reviews, orders) vary from day to day
    assert len(figures) > 20


def test_the_window_is_the_180_local_days_ending_with_the_day_to_the_second() -> None:
    shop, who = f.merchant(), f.consumer()
    tz = timezone.get_current_timezone()
    first_second = datetime.combine(DAY - timedelta(days=WINDOW_DAYS - 1), time(0, 0, 1), tzinfo=tz)
    last_second = datetime.combine(DAY, time(23, 59, 59), tzinfo=tz)
    inside = [f.order(who, shop, placed_at=moment) for moment in (first_second, last_second)]
    for moment in (first_second - timedelta(seconds=2), last_second + timedelta(seconds=2)):
        f.review(f.order(who, shop, placed_at=moment), (1, 1, 1), created_at=moment)
    for made in inside:
        f.review(made, (5, 5, 5), created_at=made.placed_at)

    assert score_merchant_days(DAY, DAY) == 1
    row = MerchantScore.objects.get(merchant=shop, day=DAY)
    assert (row.orders, row.reviews) == (2, 2)
    assert row.dsr_item == Decimal("4.750")  # (2 x 5 + 47) / 12


def test_the_command_scores_the_last_n_days_ending_with_the_day_given(shops: tuple[Merchant, Merchant]) -> None:
    out = StringIO()
    call_command("score_merchants", "--day", DAY.isoformat(), "--days", "3", stdout=out)

    days = sorted(set(MerchantScore.objects.values_list("day", flat=True)))
    assert days == [DAY - timedelta(days=2), DAY - timedelta(days=1), DAY]
    assert MerchantScore.objects.count() == 3 * 2
    assert out.getvalue() == f"Wrote 6 merchant scores ending {DAY}.\n"
    with pytest.raises(CommandError):
        call_command("score_merchants", "--days", "0")
    assert MerchantScore.objects.count() == 6
