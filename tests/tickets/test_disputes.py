"""极速维权: a trusted consumer's dispute the merchant leaves unanswered is decided for them, once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone, translation

from config.celery import app
from crm.models import CreditTier, Order
from merchants.models import Merchant, MerchantMembership
from tests.crm import factories as f
from tests.tickets.test_refunds import _race
from tickets.disputes import decide_unanswered_disputes
from tickets.models import Department, Ticket, TicketEvent
from tickets.services import add_message, open_ticket, resolve_dispute
from tickets.tasks import decide_unanswered_disputes as task

pytestmark = pytest.mark.django_db
HOURS = 24  # INSTANT_DISPUTE_HOURS's default


def dispute(tier: str | None = "金牌会员", *, hours_ago: float = HOURS + 1, shop: Merchant | None = None) -> Ticket:
    who = f.consumer(tier=CreditTier.objects.get(name=tier) if tier else None)
    order = f.order(who, shop or f.merchant(), status="delivered", delivered_at=timezone.now() - timedelta(days=3))
    department, _ = Department.objects.get_or_create(code="disputes", defaults={"name": "维权"})
    opened = timezone.now() - timedelta(hours=hours_ago)
    return open_ticket(who, subject="商品与描述不符", department=department, kind="dispute", order=order, now=opened,
                       route=False)  # fmt: skip


def staff_of(shop: Merchant, make_user: Callable[..., User], name: str) -> User:
    user = make_user(name, "merchant_staff")
    MerchantMembership.objects.create(user=user, merchant=shop)
    return user


def outcome(ticket: Ticket) -> tuple[str, str]:
    ticket.refresh_from_db()
    assert ticket.order_id is not None
    return ticket.status, Order.objects.get(pk=ticket.order_id).dispute


def test_a_trusted_consumers_dispute_the_merchant_ignored_is_decided_for_them() -> None:
    ticket = dispute()

    with translation.override("en"):
        assert decide_unanswered_disputes() == 1

    assert outcome(ticket) == ("resolved", "consumer_won")
    said = (
        TicketEvent.objects.filter(ticket=ticket, kind="message", author_kind="system")
        .exclude(data__has_key="survey")
        .get()
    )
    assert said.body == "Instant dispute: the merchant did not answer within 24 hours; decided for the consumer."
    assert ticket.order_id is not None
    assert Order.objects.get(pk=ticket.order_id).dispute_closed_at is not None  # for the rating
    assert decide_unanswered_disputes() == 0  # once


def test_before_the_deadline_nothing_is_decided() -> None:
    ticket = dispute(hours_ago=HOURS - 0.1)
    assert decide_unanswered_disputes() == 0
    assert outcome(ticket) == ("new", "")


@pytest.mark.parametrize("tier", ["银牌会员", "普通会员", None])
def test_a_tier_without_instant_disputes_waits_for_an_agent(tier: str | None) -> None:
    ticket = dispute(tier)
    assert decide_unanswered_disputes() == 0
    assert outcome(ticket) == ("new", "")


def test_the_tier_at_opening_decides_not_a_later_one() -> None:
    ticket = dispute("普通会员")
    gold = CreditTier.objects.get(name="金牌会员")
    ticket.consumer.tier = gold
    ticket.consumer.save()
    assert decide_unanswered_disputes() == 0


def test_a_merchant_that_answered_keeps_its_dispute_open(make_user: Callable[..., User]) -> None:
    shop = f.merchant()
    ticket = dispute(shop=shop)
    add_message(ticket, body="您好，我们正在核实", author_kind="agent", author=staff_of(shop, make_user, "shop-1"))
    assert decide_unanswered_disputes() == 0
    assert outcome(ticket) == ("open", "")


def test_a_platform_agents_or_another_shops_answer_is_not_the_merchants(
    agent: User, make_user: Callable[..., User]
) -> None:
    ticket = dispute()
    add_message(ticket, body="平台客服已收到", author_kind="agent", author=agent)
    add_message(ticket, body="别家店铺", author_kind="agent", author=staff_of(f.merchant(), make_user, "other"))
    assert decide_unanswered_disputes() == 1
    assert outcome(ticket) == ("resolved", "consumer_won")


def test_a_dispute_decided_by_an_agent_first_is_left_alone(supervisor: User) -> None:
    ticket = dispute()
    resolve_dispute(ticket, "merchant_won", by=supervisor)
    assert decide_unanswered_disputes() == 0
    assert outcome(ticket) == ("resolved", "merchant_won")


def test_other_kinds_of_ticket_are_never_decided() -> None:
    ticket = dispute()
    Ticket.objects.filter(pk=ticket.pk).update(kind="complaint")
    assert decide_unanswered_disputes() == 0


def test_the_beat_task_decides_them_and_is_scheduled_every_minute() -> None:
    ticket = dispute()
    assert task() == 1
    assert outcome(ticket) == ("resolved", "consumer_won")
    entry: dict[str, Any] = app.conf.beat_schedule["tickets.instant_disputes"]
    assert entry["task"] == "tickets.tasks.decide_unanswered_disputes" and str(entry["schedule"]) == str(
        app.conf.beat_schedule["tickets.check_sla"]["schedule"]
    )


def test_concurrent_runs_decide_each_dispute_once(transactional_db: None) -> None:
    tickets = [dispute() for _ in range(3)]
    results = _race([decide_unanswered_disputes] * 3)
    assert sum(results) == 3, results
    assert [outcome(t) for t in tickets] == [("resolved", "consumer_won")] * 3
    said = TicketEvent.objects.filter(kind="message", author_kind="system")
    assert (said.exclude(data__has_key="survey").count(), said.filter(data__survey=True).count()) == (3, 3)


def test_the_ticket_page_tells_everyone_the_merchants_deadline(
    agent: User, make_user: Callable[..., User], client_for: Callable[[User], Any]
) -> None:
    shop = f.merchant()
    trusted, plain = dispute(shop=shop, hours_ago=1), dispute("普通会员", shop=shop, hours_ago=1)
    due = timezone.localtime(trusted.created_at + timedelta(hours=HOURS)).strftime("%Y-%m-%d %H:%M")
    staff = client_for(staff_of(shop, make_user, "shop-2"))
    said = f"Instant dispute: the merchant answers by {due}, or it is decided for the consumer"

    for client in (client_for(agent), staff):
        assert (
            said
            in client.get(
                f"/admin/tickets/ticket/{trusted.pk}/change/", headers={"accept-language": "en"}
            ).content.decode()
        )
    assert (
        "Instant dispute"
        not in client_for(agent)
        .get(f"/admin/tickets/ticket/{plain.pk}/change/", headers={"accept-language": "en"})
        .content.decode()
    )
