"""Idempotency keys belong to their requester: another user sending someone's key makes a request of their own
(a new decision under the policy) and never gets theirs back; one user's retries, even racing, make one."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from core import roles
from crm.models import CreditTier, Order
from tests.crm import factories as f
from tests.tickets.test_refunds import _race
from tickets import refunds
from tickets.models import RefundRequest

D = RefundRequest.Decision


def vip_order(amount: str = "300.00") -> Order:
    who = f.consumer(tier=CreditTier.objects.get(name="88VIP"))
    return f.order(who, f.merchant(), amount, status="delivered", delivered_at=timezone.now())


def post_refund(client: Client, order: Order, amount: str, key: str) -> Any:
    body = {"order": order.order_no, "amount": amount, "reason": "破损", "idempotency_key": key}
    return client.post("/api/refunds/", json.dumps(body), content_type="application/json")


@pytest.mark.django_db
def test_another_user_reposting_a_key_gets_a_refund_of_their_own_not_theirs(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    alice, bob = make_user("alice", roles.AGENT), make_user("bob", roles.AGENT)
    order = vip_order()
    first = post_refund(client_for(alice), order, "50.00", "shared-key")
    assert first.status_code == 201
    stolen = post_refund(client_for(bob), order, "50.00", "shared-key")
    assert stolen.status_code == 201  # a new request, decided now: not alice's answered back
    assert stolen.json()["id"] != first.json()["id"] and stolen.json()["requested_by"] == "bob"
    # Each one's retry answers their own first decision.
    assert [post_refund(client_for(u), order, "50.00", "shared-key").json()["id"] for u in (alice, bob)] == [
        first.json()["id"], stolen.json()["id"],
    ]  # fmt: skip
    # Bob's use of the key is no use of alice's: another amount under it is no conflict for him ...
    assert post_refund(client_for(bob), vip_order(), "10.00", "other-key").status_code == 201
    # ... while alice's own key stays hers, for her order and amount only.
    assert post_refund(client_for(alice), order, "60.00", "shared-key").status_code == 409
    rows = RefundRequest.objects.filter(idempotency_key="shared-key").order_by("pk")
    assert [(r.requested_by and r.requested_by.username, r.amount) for r in rows] == [
        ("alice", Decimal("50.00")),
        ("bob", Decimal("50.00")),
    ]
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("100.00")  # two requests, each decided by the policy


@pytest.mark.django_db
def test_the_refund_add_page_takes_another_users_key_as_a_new_request(
    make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    alice, bob = make_user("alice", roles.AGENT), make_user("bob", roles.AGENT)
    order = vip_order()
    mine = refunds.request_refund(order, Decimal("20.00"), "x", key="form-key", requested_by=alice)
    page = {"order": order.pk, "amount": "30.00", "reason": "破损", "idempotency_key": "form-key"}
    response = client_for(bob).post("/admin/tickets/refundrequest/add/", page)
    assert response.status_code == 302, response.content
    theirs = RefundRequest.objects.get(idempotency_key="form-key", requested_by=bob)
    assert theirs.pk != mine.pk and theirs.amount == Decimal("30.00")
    # Alice's own form sent again with another amount is still refused: that key is hers.
    again = client_for(alice).post("/admin/tickets/refundrequest/add/", page, headers={"accept-language": "en"})
    assert again.status_code == 200
    assert again.context["adminform"].form.non_field_errors() == [
        "This form was already used for another refund; reload the page."
    ]
    assert RefundRequest.objects.filter(idempotency_key="form-key").count() == 2


@pytest.mark.django_db
def test_the_database_holds_keys_unique_per_requester_and_among_the_bots(make_user: Callable[..., User]) -> None:
    alice, bob = make_user("alice", roles.AGENT), make_user("bob", roles.AGENT)
    order = vip_order()
    row = {"order": order, "consumer_id": order.consumer_id, "merchant_id": order.merchant_id, "amount": 1,
           "reason": "x", "decision": D.MANUAL, "created_at": timezone.now()}  # fmt: skip
    RefundRequest.objects.create(idempotency_key="k", requested_by=alice, **row)
    RefundRequest.objects.create(idempotency_key="k", requested_by=bob, **row)
    RefundRequest.objects.create(idempotency_key="k", requested_by=None, **row)
    for owner in (alice, None):
        with pytest.raises(IntegrityError), transaction.atomic():
            RefundRequest.objects.create(idempotency_key="k", requested_by=owner, **row)
    assert RefundRequest.objects.filter(idempotency_key="k").count() == 3


@pytest.mark.django_db
def test_the_bots_keys_stay_one_per_chat_and_order_whoever_else_uses_them(make_user: Callable[..., User]) -> None:
    agent = make_user("agent-k", roles.AGENT)
    order = vip_order()
    bot = refunds.request_refund(order, Decimal("10.00"), "chat", key="chat-7-1")
    assert refunds.request_refund(order, Decimal("10.00"), "chat", key="chat-7-1").pk == bot.pk
    by_agent = refunds.request_refund(order, Decimal("10.00"), "x", key="chat-7-1", requested_by=agent)
    assert by_agent.pk != bot.pk
    assert refunds.used_key("chat-7-1", requested_by=None) == bot
    assert refunds.used_key("chat-7-1", requested_by=agent) == by_agent


def test_one_users_racing_retries_with_one_key_make_one_refund(
    transactional_db: None, make_user: Callable[..., User]
) -> None:
    alice = make_user("alice", roles.AGENT)
    order = vip_order("100.00")
    results = _race([lambda: refunds.request_refund(order, Decimal("40.00"), "x", key="race", requested_by=alice)] * 2)
    order.refresh_from_db()
    assert [type(r) for r in results] == [RefundRequest, RefundRequest]
    assert {r.pk for r in results} == {RefundRequest.objects.get().pk}
    assert order.refunded_amount == Decimal("40.00")


def test_two_users_racing_with_one_key_each_get_their_own_and_the_order_is_never_overdrawn(
    transactional_db: None, make_user: Callable[..., User]
) -> None:
    alice, bob = make_user("alice", roles.AGENT), make_user("bob", roles.AGENT)
    order = vip_order("100.00")
    calls = [lambda u=u: refunds.request_refund(order, Decimal("60.00"), "x", key="race", requested_by=u)
             for u in (alice, bob)]  # fmt: skip
    results = _race(calls)
    order.refresh_from_db()
    assert sorted(r.requested_by.username for r in results) == ["alice", "bob"]
    assert RefundRequest.objects.filter(idempotency_key="race").count() == 2
    assert sorted(r.decision for r in results) == [D.INSTANT, D.REJECTED]
    assert order.refunded_amount == Decimal("60.00")
