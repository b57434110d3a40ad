"""The tickets and refunds API's doors: who may use which endpoint, and a shop's staff only their shop's."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from core import roles
from crm.models import Consumer, Order
from merchants.models import Merchant, MerchantMembership
from tests.tickets.api_support import grant, ids, post, refund_body
from tickets import services
from tickets.models import Department, RefundRequest, Ticket, TicketEvent
from tickets.refunds import request_refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant_staff(make_user: Callable[..., User], shop_a: Merchant) -> User:
    user = make_user("staff-a", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=user, merchant=shop_a)
    return grant(user, "view_ticket", "view_refundrequest")


@pytest.fixture
def business(make_user: Callable[..., User]) -> User:
    return make_user("biz", roles.BUSINESS)


def endpoints(ticket: Ticket, refund: RefundRequest, order: Order) -> list[tuple[str, str, dict[str, Any]]]:
    t, r = f"/api/tickets/{ticket.pk}/", f"/api/refunds/{refund.pk}/"
    new_ticket = {"consumer": order.consumer.external_id, "subject": "x", "department": "refunds"}
    return [
        ("get", "/api/tickets/", {}),
        ("post", "/api/tickets/", new_ticket),
        ("get", t, {}),
        ("post", f"{t}reply/", {"body": "hi"}),
        ("post", f"{t}transition/", {"status": "pending"}),
        ("get", "/api/refunds/", {}),
        ("post", "/api/refunds/", refund_body(order, "1.00", "perm")),
        ("get", r, {}),
    ]


@pytest.mark.parametrize("who", ["anonymous", "business"])
def test_anonymous_and_business_users_are_refused_everywhere(
    who: str, business: User, ticket_a: Ticket, order_a: Order, client_for: Callable[[User], Client]
) -> None:
    refund = request_refund(order_a, Decimal("10.00"), "x", key="seed")
    client = Client() if who == "anonymous" else client_for(business)
    before = (Ticket.objects.count(), TicketEvent.objects.count(), RefundRequest.objects.count())

    for method, url, data in endpoints(ticket_a, refund, order_a):
        response = client.get(url) if method == "get" else post(client, url, data)
        assert (method, url, response.status_code) == (method, url, 403)

    ticket_a.refresh_from_db()
    assert (Ticket.objects.count(), TicketEvent.objects.count(), RefundRequest.objects.count()) == before
    assert ticket_a.status == Ticket.Status.NEW


def test_agent_may_use_every_endpoint(api: Client, ticket_a: Ticket, order_a: Order) -> None:
    refund = request_refund(order_a, Decimal("10.00"), "x", key="seed")
    codes = []
    for method, url, data in endpoints(ticket_a, refund, order_a):
        response = api.get(url) if method == "get" else post(api, url, data)
        codes.append(response.status_code)
    assert codes == [200, 201, 200, 201, 200, 200, 201, 200]


def test_viewing_is_not_enough_to_reply_or_transition(
    make_user: Callable[..., User], ticket_a: Ticket, client_for: Callable[[User], Client]
) -> None:
    client = client_for(grant(make_user("viewer"), "view_ticket", "add_ticket"))
    assert post(client, f"/api/tickets/{ticket_a.pk}/reply/", {"body": "hi"}).status_code == 403
    assert post(client, f"/api/tickets/{ticket_a.pk}/transition/", {"status": "open"}).status_code == 403
    assert TicketEvent.objects.filter(ticket=ticket_a).count() == 2


# Tenancy ----------------------------------------------------------------------------------------


def test_merchant_staff_see_only_their_merchants_tickets(
    merchant_staff: User, ticket_a: Ticket, ticket_b: Ticket, vip: Consumer, dept: Department,
    client_for: Callable[[User], Client],
) -> None:  # fmt: skip
    no_merchant = services.open_ticket(vip, subject="怎么开发票", department=dept)
    client = client_for(merchant_staff)

    assert ids(client.get("/api/tickets/")) == [ticket_a.pk]
    assert client.get(f"/api/tickets/{ticket_a.pk}/").status_code == 200
    assert client.get(f"/api/tickets/{ticket_b.pk}/").status_code == 404
    assert client.get(f"/api/tickets/{no_merchant.pk}/").status_code == 404


def test_merchant_staff_cannot_act_on_another_merchants_ticket(
    merchant_staff: User, ticket_b: Ticket, client_for: Callable[[User], Client]
) -> None:
    client = client_for(grant(merchant_staff, "change_ticket"))

    assert post(client, f"/api/tickets/{ticket_b.pk}/reply/", {"body": "hi"}).status_code == 404
    assert post(client, f"/api/tickets/{ticket_b.pk}/transition/", {"status": "open"}).status_code == 404
    ticket_b.refresh_from_db()
    assert (ticket_b.status, TicketEvent.objects.filter(ticket=ticket_b).count()) == ("new", 1)


def test_merchant_staff_see_only_their_merchants_refunds(
    merchant_staff: User, order_a: Order, order_b: Order, client_for: Callable[[User], Client]
) -> None:
    mine = request_refund(order_a, Decimal("10.00"), "x", key="a")
    theirs = request_refund(order_b, Decimal("10.00"), "x", key="b")
    client = client_for(merchant_staff)

    assert ids(client.get("/api/refunds/")) == [mine.pk]
    assert client.get(f"/api/refunds/{theirs.pk}/").status_code == 404


def test_merchant_staff_cannot_refund_another_merchants_order(
    merchant_staff: User, order_a: Order, order_b: Order, client_for: Callable[[User], Client]
) -> None:
    client = client_for(grant(merchant_staff, "add_refundrequest"))

    response = post(client, "/api/refunds/", refund_body(order_b, "10.00"))

    assert (response.status_code, response.json()["errors"]) == (400, {"order": ["No such order."]})
    order_b.refresh_from_db()
    assert (RefundRequest.objects.count(), order_b.refunded_amount) == (0, Decimal("0.00"))
    assert post(client, "/api/refunds/", refund_body(order_a, "10.00")).status_code == 201


def test_merchant_staff_cannot_open_a_ticket_on_another_merchants_order(
    merchant_staff: User, order_b: Order, dept: Department, client_for: Callable[[User], Client]
) -> None:
    client = client_for(grant(merchant_staff, "add_ticket"))
    body = {"consumer": "C-B", "subject": "x", "department": "refunds", "order": order_b.order_no}

    response = post(client, "/api/tickets/", body)

    # Consumers and departments belong to no merchant, so merchant staff cannot name them either (core/tenancy.py).
    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"consumer": ["No such consumer."], "department": ["No such department."], "order": ["No such order."]},
    )
    assert Ticket.objects.count() == 0


# Tickets ----------------------------------------------------------------------------------------
