"""crm's services for other apps and the admin: refunds, dispute outcomes and review moderation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from crm.models import Order, Review
from crm.services import moderate_reviews, record_dispute_outcome, record_refund
from tests.crm import factories as f

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def test_refunds_add_up_and_the_last_one_marks_the_order_refunded() -> None:
    order = f.order(f.consumer(), f.merchant(), "100.00")
    record_refund(order, Decimal("30.00"), at=AT)
    order.refresh_from_db()
    assert (order.refunded_amount, order.status, order.refunded_at) == (Decimal("30.00"), "paid", AT)
    record_refund(order, Decimal("70.00"), at=AT)
    order.refresh_from_db()
    assert (order.refunded_amount, order.status) == (Decimal("100.00"), "refunded")


@pytest.mark.parametrize("amount", ["0.00", "-5.00", "100.01"])
def test_a_refund_of_nothing_or_more_than_is_left_is_refused_naming_the_amount(amount: str) -> None:
    order = f.order(f.consumer(), f.merchant(), "100.00")
    with translation.override("en"), pytest.raises(ValidationError) as error:
        record_refund(order, Decimal(amount))
    assert error.value.message_dict == {"amount": ["At most 100.00 yuan of this order can still be refunded."]}
    order.refresh_from_db()
    assert (order.refunded_amount, order.status, order.refunded_at) == (Decimal("0.00"), "paid", None)


def test_a_dispute_outcome_closes_the_dispute_and_reopening_clears_the_date() -> None:
    order = f.order(f.consumer(), f.merchant())
    record_dispute_outcome(order, Order.Dispute.CONSUMER_WON, at=AT)
    order.refresh_from_db()
    assert (order.dispute, order.dispute_closed_at) == ("consumer_won", AT)
    record_dispute_outcome(order, Order.Dispute.OPEN)
    order.refresh_from_db()
    assert (order.dispute, order.dispute_closed_at) == ("open", None)


@pytest.mark.parametrize("outcome", ["", "won", "CONSUMER_WON"])
def test_an_unknown_dispute_outcome_is_refused_naming_the_dispute(outcome: str) -> None:
    order = f.order(f.consumer(), f.merchant())
    with pytest.raises(ValidationError) as error:
        record_dispute_outcome(order, outcome)
    assert list(error.value.message_dict) == ["dispute"]
    order.refresh_from_db()
    assert (order.dispute, order.dispute_closed_at) == ("", None)


def test_moderating_counts_only_the_reviews_that_change_state() -> None:
    who, shop = f.consumer(), f.merchant()
    held = f.review(f.order(who, shop), (1, 1, 1), moderation="held")
    published = f.review(f.order(who, shop), (5, 5, 5))
    assert moderate_reviews(Review.objects.filter(pk__in=[held.pk, published.pk]), "published") == 1
    assert set(Review.objects.values_list("moderation", flat=True)) == {"published"}
    assert moderate_reviews(Review.objects.all(), "published") == 0  # a repeat changes nothing


def test_an_unknown_moderation_state_is_refused_naming_the_field() -> None:
    review = f.review(f.order(f.consumer(), f.merchant()), (1, 1, 1))
    with pytest.raises(ValidationError) as error:
        moderate_reviews(Review.objects.all(), "deleted")
    assert list(error.value.message_dict) == ["moderation"]
    review.refresh_from_db()
    assert review.moderation == "published"


def _hold(client: Client, reviews: list[Review]) -> CaptureQueriesContext:
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/admin/crm/review/",
            {"action": "hold", "_selected_action": [r.pk for r in reviews]},
            headers={"accept-language": "en"},
        )
    assert response.status_code == 302
    return queries


def test_supervisor_holds_reviews_in_the_admin_with_the_same_queries_for_one_or_many(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    who, shop = f.consumer(), f.merchant()
    one = [f.review(f.order(who, shop), (1, 1, 1))]
    many = [f.review(f.order(who, shop), (1, 1, 1)) for _ in range(8)]
    few_queries, many_queries = _hold(client, one), _hold(client, many)
    assert len(few_queries) == len(many_queries)
    assert Review.objects.filter(moderation="held").count() == 9
    messages = [str(m) for m in client.get("/admin/crm/review/").context["messages"]]
    assert messages == ["1 review updated.", "8 reviews updated."]


def test_agent_cannot_moderate_reviews(agent: User, client_for: Callable[[User], Client]) -> None:
    review = f.review(f.order(f.consumer(), f.merchant()), (1, 1, 1))
    client = client_for(agent)
    assert 'value="hold"' not in client.get("/admin/crm/review/").content.decode()
    client.post("/admin/crm/review/", {"action": "hold", "_selected_action": [review.pk]})  # not offered: not done
    review.refresh_from_db()
    assert review.moderation == "published"
