"""The refunds API: the policy's decisions, idempotency keys, bad input, the list and its query count."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import CreditTier, Order
from merchants.models import Merchant
from tests.crm import factories as f
from tests.tickets.api_support import EN, ids, post, refund_body
from tickets.models import RefundRequest, Ticket, TicketEvent
from tickets.refunds import request_refund, review_refund

pytestmark = pytest.mark.django_db


def test_tier_covered_refund_is_instant_and_recorded_on_the_ticket(
    api: Client, order_a: Order, ticket_a: Ticket
) -> None:
    response = post(api, "/api/refunds/", refund_body(order_a, "120.00", ticket=ticket_a.pk))

    assert response.status_code == 201
    refund = RefundRequest.objects.get()
    assert response.json() == {
        "id": refund.pk,
        "idempotency_key": "key-1",
        "order": "A-300",
        "consumer": "C-VIP",
        "merchant": "SHOP-A",
        "ticket": ticket_a.pk,
        "amount": "120.00",
        "reason": "质量问题",
        "decision": "instant",
        "reasons": [{"code": "within_tier_limit", "params": {"tier": "测试VIP", "limit": "200.00"}}],
        "explanations": ["Tier 测试VIP refunds up to 200.00 yuan instantly."],
        "requested_by": "desk-agent",
        "created_at": timezone.localtime(refund.created_at).isoformat(),
        "decided_at": timezone.localtime(refund.created_at).isoformat(),
        "decided_by": None,
    }
    order_a.refresh_from_db()
    assert order_a.refunded_amount == Decimal("120.00")
    assert TicketEvent.objects.filter(ticket=ticket_a).latest("id").kind == "refund"


def test_refund_over_the_tier_limit_waits_for_review(api: Client, order_a: Order) -> None:
    response = post(api, "/api/refunds/", refund_body(order_a, "250.00"))

    assert response.status_code == 201
    data = response.json()
    assert (data["decision"], data["decided_at"]) == ("manual", None)
    assert data["reasons"] == [{"code": "over_tier_limit", "params": {"tier": "测试VIP", "limit": "200.00"}}]
    assert data["explanations"] == ["Tier 测试VIP refunds only up to 200.00 yuan instantly."]
    order_a.refresh_from_db()
    assert order_a.refunded_amount == Decimal("0.00")


def test_refund_over_the_order_amount_is_rejected(api: Client, order_a: Order) -> None:
    response = post(api, "/api/refunds/", refund_body(order_a, "300.01"))

    assert response.status_code == 201
    data = response.json()
    assert (data["decision"], data["reasons"]) == (
        "rejected",
        [{"code": "exceeds_refundable", "params": {"left": "300.00"}}],
    )
    assert data["explanations"] == ["Only 300.00 yuan of the order is left to refund."]


def test_same_key_twice_answers_the_same_decision_once(api: Client, order_a: Order) -> None:
    first = post(api, "/api/refunds/", refund_body(order_a, "120.00"))
    again = post(api, "/api/refunds/", refund_body(order_a, "120"))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    order_a.refresh_from_db()
    assert (RefundRequest.objects.count(), order_a.refunded_amount) == (1, Decimal("120.00"))


def test_key_reused_for_another_amount_is_a_conflict(api: Client, order_a: Order, order_b: Order) -> None:
    post(api, "/api/refunds/", refund_body(order_a, "120.00"))

    other_amount = post(api, "/api/refunds/", refund_body(order_a, "20.00"))
    other_order = post(api, "/api/refunds/", refund_body(order_b, "20.00"))

    conflict = {"idempotency_key": ["This key was used for another refund request."]}
    assert (other_amount.status_code, other_amount.json()["errors"]) == (409, conflict)
    assert (other_order.status_code, other_order.json()["errors"]) == (409, conflict)
    order_a.refresh_from_db()
    assert (RefundRequest.objects.count(), order_a.refunded_amount) == (1, Decimal("120.00"))


def test_idempotency_key_header_is_used_when_the_body_has_none(api: Client, order_a: Order) -> None:
    body = refund_body(order_a, "50.00")
    del body["idempotency_key"]

    first = post(api, "/api/refunds/", body, **{"Idempotency-Key": "hdr-1"})
    again = post(api, "/api/refunds/", body, **{"Idempotency-Key": "hdr-1"})

    assert (first.status_code, again.status_code, first.json()["idempotency_key"]) == (201, 200, "hdr-1")
    assert again.json() == first.json()
    assert RefundRequest.objects.get().idempotency_key == "hdr-1"


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"amount": "abc"}, {"amount": ["A valid number is required."]}),
        ({"amount": "-1"}, {"amount": ["The amount must be more than 0."]}),
        ({"amount": "0"}, {"amount": ["The amount must be more than 0."]}),
        ({"amount": "1.001"}, {"amount": ["Ensure that there are no more than 2 decimal places."]}),
        ({"amount": "NaN"}, {"amount": ["A valid number is required."]}),
        ({"amount": None}, {"amount": ["This field may not be null."]}),
        ({"order": "NO-SUCH"}, {"order": ["No such order."]}),
        ({"reason": ""}, {"reason": ["This field may not be blank."]}),
        ({"idempotency_key": ""}, {"idempotency_key": ["This field may not be blank."]}),
        ({"idempotency_key": "k" * 65}, {"idempotency_key": ["Ensure this field has no more than 64 characters."]}),
        ({"idempotency_key": None}, {"idempotency_key": ["This field may not be null."]}),
        ({"ticket": "abc"}, {"ticket": ["No such ticket."]}),
        ({"ticket": 999999}, {"ticket": ["No such ticket."]}),
    ],
)
def test_refund_with_bad_input_names_the_field(
    api: Client, order_a: Order, change: dict[str, Any], errors: dict[str, Any]
) -> None:
    response = post(api, "/api/refunds/", {**refund_body(order_a, "10.00"), **change})

    assert (response.status_code, response.json()["errors"]) == (400, errors)
    order_a.refresh_from_db()
    assert (RefundRequest.objects.count(), order_a.refunded_amount) == (0, Decimal("0.00"))


def test_refund_without_a_key_or_fields_names_them(api: Client) -> None:
    response = post(api, "/api/refunds/", {})

    required = ["This field is required."]
    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"order": required, "amount": required, "reason": required},
    )


@pytest.mark.parametrize(
    ("header", "errors"),
    [
        ("k" * 65, ["Ensure this field has no more than 64 characters."]),
        ("a\x00b", ["Null characters are not allowed."]),
    ],
)
def test_a_bad_idempotency_key_header_names_the_field(
    api: Client, order_a: Order, header: str, errors: list[str]
) -> None:
    body = refund_body(order_a, "10.00")
    del body["idempotency_key"]

    response = post(api, "/api/refunds/", body, **{"Idempotency-Key": header})

    assert (response.status_code, response.json()["errors"]) == (400, {"idempotency_key": errors})
    assert RefundRequest.objects.count() == 0


def test_refund_without_any_idempotency_key_is_refused(api: Client, order_a: Order) -> None:
    body = refund_body(order_a, "10.00")
    del body["idempotency_key"]

    response = post(api, "/api/refunds/", body)

    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"idempotency_key": ["An idempotency key of 1 to 64 characters is required."]},
    )


def test_refund_for_a_ticket_of_another_consumer_is_refused(api: Client, order_a: Order, ticket_b: Ticket) -> None:
    response = post(api, "/api/refunds/", refund_body(order_a, "10.00", ticket=ticket_b.pk))

    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"ticket": ["This ticket is about another order."]},
    )
    assert RefundRequest.objects.count() == 0


def test_refund_list_filters_by_decision_newest_first(api: Client, order_a: Order) -> None:
    instant = request_refund(order_a, Decimal("10.00"), "x", key="1")
    manual = request_refund(order_a, Decimal("250.00"), "x", key="2")
    later = request_refund(order_a, Decimal("20.00"), "x", key="3")

    assert ids(api.get("/api/refunds/")) == [later.pk, manual.pk, instant.pk]
    assert ids(api.get("/api/refunds/?decision=instant")) == [later.pk, instant.pk]
    assert ids(api.get("/api/refunds/?decision=manual")) == [manual.pk]
    assert api.get("/api/refunds/?decision=maybe").status_code == 400


def test_refund_detail(api: Client, order_a: Order) -> None:
    refund = request_refund(order_a, Decimal("10.00"), "x", key="1")

    response = api.get(f"/api/refunds/{refund.pk}/", headers=EN)

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["decision"]) == (refund.pk, "instant")
    assert response.json()["explanations"] == ["Tier 测试VIP refunds up to 200.00 yuan instantly."]


def test_refund_list_costs_the_same_queries_for_2_and_20_refunds(
    api: Client, shop_a: Merchant, make_user: Callable[..., User]
) -> None:
    def add(n: int) -> None:
        for i in range(n):
            who = f.consumer(tier=CreditTier.objects.create(name=f"退{i}-{n}", min_score=300 + i + n * 40))
            order = f.order(who, f.merchant(), "50.00", status="delivered")
            refund = request_refund(
                order, Decimal("10.00"), "x", key=f"list-{n}-{i}", requested_by=make_user(f"r-{n}-{i}")
            )
            assert refund.decision == "manual"
            review_refund(refund, approve=True, by=make_user(f"d-{n}-{i}"))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = api.get("/api/refunds/?page_size=100")
        assert response.status_code == 200
        return len(queries)

    add(2)
    two = count()
    add(18)
    assert len(api.get("/api/refunds/?page_size=100").json()["results"]) == 20
    assert count() == two
