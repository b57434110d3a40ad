"""The bot decides and stores nothing: a refund it wants comes back as an action that the services carry out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone, translation

from chat import bot, services
from chat.models import ChatSession
from crm.models import CreditTier, Order
from tests.crm import factories as f
from tickets.models import RefundRequest, TicketEvent

pytestmark = pytest.mark.django_db


def _chat_with_order(amount: str = "199.00") -> tuple[ChatSession, Order]:
    consumer = f.consumer(tier=CreditTier.objects.get(name="金牌会员"))
    order = f.order(
        consumer, f.merchant(), amount, status="delivered", delivered_at=timezone.now() - f.timedelta(days=2)
    )
    chat, _started = services.start_chat(consumer.pk, "zh-hans")
    return chat, order


def test_the_bot_answers_a_refund_request_with_an_action_and_stores_nothing() -> None:
    chat, order = _chat_with_order()
    with translation.override("zh-hans"):
        reply = bot.respond(chat, f"退款 {order.order_no}", now=timezone.now())
    assert reply.action == bot.Refund(order, Decimal("199.00"), f"chat-{chat.pk}-{order.pk}")
    assert (reply.text, reply.intent) == ("", "refund")
    assert RefundRequest.objects.count() == 0


def test_the_services_carry_out_the_bots_refund_once_and_say_the_outcome() -> None:
    chat, order = _chat_with_order()
    asked = f"退款 {order.order_no}"
    services.consumer_message(chat.consumer_id, "zh-hans", asked)
    refund = RefundRequest.objects.get()
    assert (refund.decision, refund.amount, refund.idempotency_key) == ("instant", Decimal("199.00"),
                                                                        f"chat-{chat.pk}-{order.pk}")  # fmt: skip
    said = TicketEvent.objects.filter(ticket_id=chat.ticket_id, author_kind="bot").latest("pk")
    with translation.override("zh-hans"):
        assert said.body == bot.refund_said(refund, order.order_no)
    assert (said.data["intent"], said.data["decision"], said.data["refund"]) == ("refund", "instant", refund.pk)
    services.consumer_message(chat.consumer_id, "zh-hans", asked)  # asked again: the first decision, no second refund
    assert RefundRequest.objects.count() == 1
    again = TicketEvent.objects.filter(ticket_id=chat.ticket_id, author_kind="bot").latest("pk")
    assert again.body == said.body and again.pk != said.pk


def test_every_refund_decision_is_said_in_the_consumers_words() -> None:
    refund = RefundRequest(amount=Decimal("12.50"), decision="instant", reasons=[])
    with translation.override("en"):
        assert bot.refund_said(refund, "A1") == (
            "Done: 12.50 yuan for order A1 is refunded instantly, back to how you paid."
        )
        refund.decision = "manual"
        assert bot.refund_said(refund, "A1") == (
            "Your refund of 12.50 yuan for order A1 is submitted for review; we will let you know the result."
        )
        refund.decision = "approved"
        assert bot.refund_said(refund, "A1") == "Your refund of 12.50 yuan for order A1 was approved."
        refund.decision = "rejected"
        assert bot.refund_said(refund, "A1").startswith("Order A1 cannot be refunded: ")
