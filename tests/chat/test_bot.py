"""The bot decides and stores nothing: a refund it wants is proposed, and filed only when the consumer confirms
that very proposal (the confirm frame names it)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone, translation

from chat import bot, conversation, services
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


def _bot_said(chat: ChatSession) -> TicketEvent:
    return TicketEvent.objects.filter(ticket_id=chat.ticket_id, author_kind="bot").latest("pk")


def _proposed(chat: ChatSession, order: Order) -> str:
    """Ask for the refund of ``order`` in so many words; the id of the proposal the bot answers with."""
    services.consumer_message(chat.consumer_id, "zh-hans", f"退款 {order.order_no}")
    said = _bot_said(chat)
    assert said.data["intent"] == "refund_proposed"
    return said.data["proposal"]


def test_the_bot_proposes_a_refund_request_and_stores_nothing() -> None:
    chat, order = _chat_with_order()
    with translation.override("zh-hans"):
        reply = bot.respond(chat, f"退款 {order.order_no}", now=timezone.now())
    assert reply.action is not None
    assert (reply.action.order, reply.action.amount, reply.action.key) == (
        order, Decimal("199.00"), f"chat-{chat.pk}-{order.pk}")  # fmt: skip
    assert (reply.text, reply.intent) == (f"为订单 {order.order_no} 申请退款 ¥199.00？", "refund_proposed")
    assert reply.data["choices"] == [{"type": "confirm", "proposal": reply.action.id, "label": "确认"},
                                     {"type": "cancel", "proposal": reply.action.id, "label": "取消"}]  # fmt: skip
    assert RefundRequest.objects.count() == 0


def test_an_explicit_request_files_nothing_until_confirmed_then_exactly_one_refund() -> None:
    chat, order = _chat_with_order()
    proposal = _proposed(chat, order)
    chat.refresh_from_db()
    assert chat.proposal == {"id": proposal, "kind": "refund", "order": order.pk, "order_no": order.order_no,
                             "amount": "199.00", "key": f"chat-{chat.pk}-{order.pk}"}  # fmt: skip
    assert RefundRequest.objects.count() == 0
    said = _bot_said(chat)
    assert said.body == f"为订单 {order.order_no} 申请退款 ¥199.00？"
    refund = services.confirm_proposal(chat.consumer_id, proposal)
    assert (refund.decision, refund.amount, refund.idempotency_key, refund.ticket_id) == (
        "instant", Decimal("199.00"), f"chat-{chat.pk}-{order.pk}", chat.ticket_id)  # fmt: skip
    told = _bot_said(chat)
    with translation.override("zh-hans"):
        assert told.body == bot.refund_said(refund, order.order_no)
    assert (told.data["intent"], told.data["decision"], told.data["refund"]) == ("refund", "instant", refund.pk)
    tapped = TicketEvent.objects.filter(ticket_id=chat.ticket_id, author_kind="consumer").latest("pk")
    assert tapped.body == "确认"  # the consent is on the timeline
    chat.refresh_from_db()
    assert chat.proposal == {}


def test_confirming_twice_still_files_one_refund() -> None:
    chat, order = _chat_with_order()
    proposal = _proposed(chat, order)
    services.confirm_proposal(chat.consumer_id, proposal)
    with pytest.raises(conversation.ChatError) as refused:
        services.confirm_proposal(chat.consumer_id, proposal)
    assert refused.value.error_code == "stale_proposal"
    assert RefundRequest.objects.count() == 1
    services.consumer_message(chat.consumer_id, "zh-hans", f"退款 {order.order_no}")  # asked again: the first decision
    again = _bot_said(chat)
    assert (again.data["intent"], "proposal" in again.data) == ("refund", False)
    assert RefundRequest.objects.count() == 1


def test_cancelling_files_nothing_and_the_proposal_is_gone() -> None:
    chat, order = _chat_with_order()
    proposal = _proposed(chat, order)
    services.cancel_proposal(chat.consumer_id, proposal)
    assert _bot_said(chat).body == "好的，未为您申请退款。还有什么可以帮您？"
    with pytest.raises(conversation.ChatError):
        services.confirm_proposal(chat.consumer_id, proposal)
    assert RefundRequest.objects.count() == 0
    assert Order.objects.get(pk=order.pk).refunded_amount == Decimal("0")


def test_a_new_message_drops_the_proposal_and_files_nothing() -> None:
    chat, order = _chat_with_order()
    proposal = _proposed(chat, order)
    services.consumer_message(chat.consumer_id, "zh-hans", "确认")  # typed, not the confirm frame
    with pytest.raises(conversation.ChatError):
        services.confirm_proposal(chat.consumer_id, proposal)
    assert RefundRequest.objects.count() == 0


def test_a_handoff_drops_the_proposal() -> None:
    chat, order = _chat_with_order()
    proposal = _proposed(chat, order)
    services.request_human(chat.consumer_id)
    with pytest.raises(conversation.ChatError):
        services.confirm_proposal(chat.consumer_id, proposal)
    assert RefundRequest.objects.count() == 0


def test_another_chats_or_a_made_up_proposal_is_refused() -> None:
    chat, order = _chat_with_order()
    proposal = _proposed(chat, order)
    other, _order = _chat_with_order()
    for consumer_id, named in ((other.consumer_id, proposal), (chat.consumer_id, "made-up"),
                               (chat.consumer_id, ""), (f.consumer().pk, proposal)):  # fmt: skip
        with pytest.raises(conversation.ChatError) as refused:
            services.confirm_proposal(consumer_id, named)
        assert refused.value.error_code == "stale_proposal"
    assert RefundRequest.objects.count() == 0
    chat.refresh_from_db()
    assert chat.proposal["id"] == proposal  # still the owner's to confirm


def test_the_order_choice_leads_to_the_confirmation_never_to_a_refund() -> None:
    chat, order = _chat_with_order()
    services.consumer_message(chat.consumer_id, "zh-hans", "我要退款")
    choose = _bot_said(chat)
    assert choose.data["suggestions"] == [f"退款 {order.order_no}"]
    services.consumer_message(chat.consumer_id, "zh-hans", choose.data["suggestions"][0])  # the tap sends its words
    assert _bot_said(chat).data["intent"] == "refund_proposed"
    assert RefundRequest.objects.count() == 0


def test_a_question_about_refunds_proposes_nothing() -> None:
    chat, _order = _chat_with_order()
    services.consumer_message(chat.consumer_id, "zh-hans", "退款多久到账")
    chat.refresh_from_db()
    assert chat.proposal == {} and "proposal" not in _bot_said(chat).data
    assert RefundRequest.objects.count() == 0


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
