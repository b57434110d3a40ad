"""The tickets API tests' shared fixtures: a department, two shops with an order and a ticket each, a VIP
consumer, an agent and the agent's API client."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from crm.models import Consumer, CreditTier, Order
from merchants.models import Merchant
from tests.crm import factories as f
from tests.tickets.api_support import grant, numbered
from tickets import services
from tickets.models import Department, Ticket


@pytest.fixture
def dept() -> Department:
    return Department.objects.create(code="refunds", name="退款")


@pytest.fixture
def shop_a() -> Merchant:
    return f.merchant("SHOP-A", name="店铺A")


@pytest.fixture
def shop_b() -> Merchant:
    return f.merchant("SHOP-B", name="店铺B")


@pytest.fixture
def vip() -> Consumer:
    tier = CreditTier.objects.create(name="测试VIP", min_score=987, instant_refund_limit=Decimal("200.00"))
    return f.consumer("C-VIP", display_name="王小明", tier=tier)


@pytest.fixture
def order_a(vip: Consumer, shop_a: Merchant) -> Order:
    return numbered(f.order(vip, shop_a, "300.00", status="delivered", delivered_at=timezone.now()), "A-300")


@pytest.fixture
def order_b(shop_b: Merchant) -> Order:
    return numbered(f.order(f.consumer("C-B"), shop_b, "80.00"), "B-80")


@pytest.fixture
def ticket_a(order_a: Order, dept: Department) -> Ticket:
    return services.open_ticket(order_a.consumer, subject="耳机坏了", department=dept, order=order_a, body="左耳没声音")


@pytest.fixture
def ticket_b(order_b: Order, dept: Department) -> Ticket:
    return services.open_ticket(order_b.consumer, subject="快递没到", department=dept, order=order_b)


@pytest.fixture
def desk_agent(make_user: Callable[..., User]) -> User:
    user = make_user("desk-agent")
    return grant(user, "view_ticket", "add_ticket", "change_ticket", "view_refundrequest", "add_refundrequest")


@pytest.fixture
def api(desk_agent: User, client_for: Callable[[User], Client]) -> Client:
    return client_for(desk_agent)
