"""The consumer's socket: token auth, greeting, proactive openers, knowledge-base answers, intents, handoff
triggers, queue positions, night mode, reconnect replay — over the real Redis channel layer."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import signing

from chat import knowledge
from chat.models import ChatSession, ProactiveRule
from chat.tokens import SALT
from crm.models import CreditTier, Order
from tests.chat.support import (  # noqa: F401  (_close_sockets is an autouse fixture)
    _close_sockets,
    bot_says,
    consumer_socket,
    frames_until,
    knowledge_base,
    night_all_day,
    open_chat,
    plain_consumer,
    say,
    staffed_all_day,
    sync,
    vip_consumer,
)
from tests.crm import factories as f
from tickets.models import RefundRequest, Ticket, TicketEvent

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(autouse=True)
def _staffed(settings: Any) -> None:
    staffed_all_day(settings)
    knowledge.reset_searcher()
    knowledge.INDEX.clear()


async def test_a_socket_without_a_token_is_refused() -> None:
    connected, code = await consumer_socket(token="").connect()
    assert (connected, code) == (False, 4401)
    assert await sync(ChatSession.objects.count)() == 0


async def test_a_forged_token_is_refused() -> None:
    consumer = await sync(plain_consumer)()
    forged = signing.TimestampSigner(salt=SALT, key="not-our-secret").sign_object({"c": consumer.pk})
    connected, code = await consumer_socket(token=forged).connect()
    assert (connected, code) == (False, 4401)


async def test_an_expired_token_is_refused(settings: Any) -> None:
    consumer = await sync(plain_consumer)()
    token = signing.TimestampSigner(salt=SALT).sign_object({"c": consumer.pk})
    settings.CHAT_TOKEN_MAX_AGE = 1
    time.sleep(2.1)
    connected, code = await consumer_socket(token=token).connect()
    assert (connected, code) == (False, 4401)


async def test_a_foreign_origin_is_refused() -> None:
    consumer = await sync(plain_consumer)()
    connected, _code = await consumer_socket(consumer.pk, origin=b"http://evil.example").connect()
    assert connected is False


async def test_the_bot_greets_and_the_chat_is_a_ticket_with_channel_chat() -> None:
    consumer = await sync(plain_consumer)(display_name="张三")
    socket, ready, history = await open_chat(consumer.pk)
    assert ready["state"] == "bot" and ready["staffed"] is True
    assert [m["from"] for m in history] == ["bot"]
    assert "张三" in history[0]["text"]
    ticket = await sync(Ticket.objects.get)(pk=ready["ticket"])
    assert (ticket.channel, ticket.status, ticket.assignee_id) == ("chat", "new", None)
    await socket.disconnect()


async def test_a_proactive_rule_opens_with_the_late_order() -> None:
    def setup() -> Any:
        consumer = plain_consumer(display_name="李雷")
        order = f.order(consumer, f.merchant(), "59.00", status="shipped", item_title="保温杯",
                        placed_at=f.timezone.now() - f.timedelta(days=6))  # fmt: skip
        text = "{consumer}您好，您的订单 {order}（{item}）还在路上，我们已催促快递。"
        ProactiveRule.objects.create(name="迟到", condition="late_delivery", days=5, language="zh-hans", message=text)
        ProactiveRule.objects.create(name="英文", condition="late_delivery", days=5, language="en", message="EN")
        return consumer, order

    consumer, order = await sync(setup)()
    socket, _ready, history = await open_chat(consumer.pk)
    assert [m["from"] for m in history] == ["bot", "bot"]
    assert history[1]["text"] == f"李雷您好，您的订单 {order.order_no}（保温杯）还在路上，我们已催促快递。"
    await socket.disconnect()


async def test_no_proactive_message_when_no_rule_matches() -> None:
    def setup() -> Any:
        consumer = plain_consumer()
        f.order(consumer, f.merchant(), status="delivered", placed_at=f.timezone.now() - f.timedelta(days=20),
                delivered_at=f.timezone.now() - f.timedelta(days=15))  # fmt: skip
        ProactiveRule.objects.create(name="迟到", condition="late_delivery", days=5, message="late")
        return consumer

    consumer = await sync(setup)()
    socket, _ready, history = await open_chat(consumer.pk)
    assert len(history) == 1
    await socket.disconnect()


async def test_the_bot_answers_from_the_knowledge_base_in_chinese_and_english() -> None:
    await sync(knowledge_base)()
    zh = await sync(plain_consumer)()
    socket, _ready, _history = await open_chat(zh.pk)
    await say(socket, "请问发票怎么开？")
    answer = await bot_says(socket)
    assert answer["text"].startswith("在“我的订单”中点击“申请开票”")
    assert answer["data"]["intent"] == "article"
    await socket.disconnect()
    en = await sync(plain_consumer)()
    socket, _ready, _history = await open_chat(en.pk, lang="en")
    await say(socket, "How can I get a VAT invoice for my order?")
    answer = await bot_says(socket)
    assert answer["text"].startswith("Open the order and choose")
    await socket.disconnect()


async def test_every_message_is_stored_before_it_is_broadcast() -> None:
    consumer = await sync(plain_consumer)()
    socket, _ready, _history = await open_chat(consumer.pk)
    await socket.send_json_to({"type": "message", "text": "你好"})
    echoed, _ = await frames_until(socket, "message", match=lambda f: f["message"]["from"] == "consumer")
    stored = await sync(TicketEvent.objects.get)(pk=echoed["message"]["id"])
    assert (stored.body, stored.author_kind, stored.kind) == ("你好", "consumer", "message")
    reply = await bot_says(socket)
    assert await sync(TicketEvent.objects.filter(pk=reply["id"], author_kind="bot").exists)()
    await socket.disconnect()


async def test_where_is_my_order_lists_the_consumers_own_orders() -> None:
    def setup() -> Any:
        consumer = plain_consumer()
        mine = f.order(consumer, f.merchant(), status="shipped", item_title="蓝牙音箱")
        f.order(plain_consumer(), f.merchant(), item_title="别人的东西")
        return consumer, mine

    consumer, mine = await sync(setup)()
    socket, _ready, _history = await open_chat(consumer.pk)
    await say(socket, "我的快递到哪了")
    answer = await bot_says(socket)
    assert answer["data"]["intent"] == "order_status"
    assert mine.order_no in answer["text"] and "蓝牙音箱" in answer["text"] and "别人的东西" not in answer["text"]
    await socket.disconnect()


async def test_an_eligible_consumer_confirms_the_refund_in_the_chat_and_gets_it_once() -> None:
    def setup() -> Any:
        consumer = f.consumer(tier=CreditTier.objects.get(name="金牌会员"))
        return consumer, f.order(consumer, f.merchant(), "199.00", status="delivered",
                                 delivered_at=f.timezone.now() - f.timedelta(days=2))  # fmt: skip

    consumer, order = await sync(setup)()
    socket, _ready, _history = await open_chat(consumer.pk)
    await say(socket, "我要退款")
    choose = await bot_says(socket)
    [suggestion] = choose["data"]["suggestions"]  # one button per refundable order, in the chat's language
    assert order.order_no in suggestion
    await say(socket, suggestion, ref="r2")
    asked = await bot_says(socket)
    assert asked["text"] == f"为订单 {order.order_no} 申请退款 ¥199.00？"
    assert [c["label"] for c in asked["data"]["choices"]] == ["确认", "取消"]
    assert not await sync(RefundRequest.objects.exists)()
    confirm = asked["data"]["choices"][0]
    await socket.send_json_to({"type": confirm["type"], "proposal": confirm["proposal"], "ref": "c"})
    ack, _ = await frames_until(socket, "ack", match=lambda f: f.get("ref") == "c")
    done = await bot_says(socket)
    assert "199.00" in done["text"] and order.order_no in done["text"]
    refund = await sync(RefundRequest.objects.get)(order=order)
    assert (ack["refund"], ack["decision"], refund.decision, refund.amount) == (refund.pk, "instant", "instant",
                                                                                Decimal("199.00"))  # fmt: skip
    await socket.send_json_to({"type": "confirm", "proposal": confirm["proposal"], "ref": "c2"})  # tapped twice
    error, _ = await frames_until(socket, "error", match=lambda f: f.get("ref") == "c2")
    assert error["code"] == "stale_proposal"
    await socket.send_json_to({"type": "confirm", "ref": "c3"})  # no proposal named
    error, _ = await frames_until(socket, "error", match=lambda f: f.get("ref") == "c3")
    assert error["code"] == "missing_field"
    assert await sync(RefundRequest.objects.filter(order=order).count)() == 1
    assert (await sync(Order.objects.get)(pk=order.pk)).refunded_amount == Decimal("199.00")
    await socket.disconnect()


# --- handoff triggers ------------------------------------------------------------------------------


async def _handed_off(consumer_id: int) -> ChatSession:
    return await sync(ChatSession.objects.get)(consumer_id=consumer_id)


@pytest.mark.parametrize(("text", "lang"), [("转人工", "zh-hans"), ("人工客服", "zh-hans"), ("I want a human", "en"),
                                            ("let me talk to an agent please", "en")])  # fmt: skip
async def test_asking_for_a_person_hands_off(text: str, lang: str) -> None:
    consumer = await sync(plain_consumer)()
    socket, _ready, _history = await open_chat(consumer.pk, lang=lang)
    await say(socket, text)
    state, _ = await frames_until(socket, "state")
    assert state["state"] == "waiting"
    queue, _ = await frames_until(socket, "queue")
    assert (queue["position"], queue["waiting"], queue["callback"]) == (1, 1, False)
    chat = await _handed_off(consumer.pk)
    assert (chat.state, chat.handoff_reason) == ("waiting", "asked")
    await socket.disconnect()


async def test_the_handoff_button_hands_off() -> None:
    consumer = await sync(plain_consumer)()
    socket, _ready, _history = await open_chat(consumer.pk)
    await socket.send_json_to({"type": "handoff"})
    await frames_until(socket, "state", match=lambda f: f["state"] == "waiting")
    assert (await _handed_off(consumer.pk)).handoff_reason == "asked"
    await socket.disconnect()


async def test_two_misses_in_a_row_hand_off_but_an_answer_in_between_resets_the_count() -> None:
    await sync(knowledge_base)()
    consumer = await sync(plain_consumer)()
    socket, _ready, _history = await open_chat(consumer.pk)
    await say(socket, "量子纠缠是什么原理", ref="a")
    assert (await bot_says(socket))["data"]["intent"] == "miss"
    await say(socket, "发票怎么开", ref="b")
    assert (await bot_says(socket))["data"]["intent"] == "article"
    await say(socket, "火星上能种土豆吗", ref="c")
    assert (await bot_says(socket))["data"]["intent"] == "miss"
    assert (await _handed_off(consumer.pk)).state == "bot"
    await say(socket, "黑洞会蒸发吗", ref="d")
    await frames_until(socket, "state", match=lambda f: f["state"] == "waiting")
    assert (await _handed_off(consumer.pk)).handoff_reason == "misses"
    await socket.disconnect()


@pytest.mark.parametrize("text", ["你们就是骗子，我要投诉", "This is a scam, I am furious"])
async def test_complaint_or_anger_words_hand_off_and_make_it_a_complaint(text: str) -> None:
    consumer = await sync(plain_consumer)()
    socket, _ready, _history = await open_chat(consumer.pk)
    await say(socket, text)
    await frames_until(socket, "state", match=lambda f: f["state"] == "waiting")
    chat = await _handed_off(consumer.pk)
    assert chat.handoff_reason == "anger"
    assert (await sync(Ticket.objects.get)(pk=chat.ticket_id)).kind == "complaint"
    await socket.disconnect()


async def test_a_priority_routing_tier_goes_straight_to_a_person_ahead_of_the_queue() -> None:
    first = await sync(plain_consumer)()
    socket1, _r, _h = await open_chat(first.pk)
    await say(socket1, "转人工")
    await frames_until(socket1, "queue")
    vip = await sync(vip_consumer)(display_name="王总")
    socket2, _ready, history = await open_chat(vip.pk)
    assert "88VIP" in history[0]["text"]
    await say(socket2, "发票怎么开")
    await frames_until(socket2, "state", match=lambda f: f["state"] == "waiting")
    queue, _ = await frames_until(socket2, "queue")
    assert (queue["position"], queue["waiting"]) == (1, 2)
    moved, _ = await frames_until(socket1, "queue", match=lambda f: f["waiting"] == 2)
    assert moved["position"] == 2
    chat = await _handed_off(vip.pk)
    assert (chat.handoff_reason, chat.queue_rank) == ("priority", ChatSession.RANK_PRIORITY)
    await socket1.disconnect()
    await socket2.disconnect()


async def test_a_failing_bot_hands_off_and_keeps_the_consumers_message(settings: Any) -> None:
    consumer = await sync(plain_consumer)()
    socket, _ready, _history = await open_chat(consumer.pk)
    # Break the knowledge base for real: the index directory holds a table of contents Whoosh cannot read.
    knowledge.reset_searcher()
    knowledge.INDEX.clear()
    knowledge.INDEX.path.mkdir(parents=True)
    (knowledge.INDEX.path / "_MAIN_1.toc").write_bytes(b"not a whoosh index")
    await say(socket, "请问这个商品保修多久")
    await frames_until(socket, "state", match=lambda f: f["state"] == "waiting")
    chat = await _handed_off(consumer.pk)
    assert chat.handoff_reason == "bot_error"
    bodies = await sync(lambda: list(TicketEvent.objects.filter(ticket_id=chat.ticket_id, kind="message")
                                     .values_list("author_kind", "body")))()  # fmt: skip
    assert ("consumer", "请问这个商品保修多久") in bodies
    assert [kind for kind, _body in bodies].count("bot") == 1  # the greeting; the failed answer left nothing
    knowledge.INDEX.clear()
    await socket.disconnect()


# --- night mode ------------------------------------------------------------------------------------


async def test_at_night_the_bot_keeps_helping_and_only_a_handoff_promises_a_callback(settings: Any) -> None:
    night_all_day(settings)
    await sync(knowledge_base)()
    consumer = await sync(plain_consumer)()
    socket, ready, history = await open_chat(consumer.pk)
    assert ready["staffed"] is False
    assert "09:00-21:00" not in history[0]["text"]  # no night notice before anyone asked for a person
    await say(socket, "转人工")
    notice, _ = await frames_until(socket, "message", match=lambda f: f["message"]["data"].get("code") == "callback")
    assert "09:00-21:00" in notice["message"]["text"]
    state, _ = await frames_until(socket, "state")
    assert (state["state"], state["callback"]) == ("waiting", True)
    chat = await _handed_off(consumer.pk)
    assert (chat.callback, chat.queue_rank) == (True, ChatSession.RANK_CALLBACK)
    await say(socket, "发票怎么开", ref="r2")  # the bot keeps helping while the ticket waits for the morning
    assert (await bot_says(socket))["data"]["intent"] == "article"
    await say(socket, "人工客服", ref="r3")
    assert (await bot_says(socket))["data"]["intent"] == "queued"
    await socket.disconnect()


async def test_the_mornings_agents_find_night_callbacks_first(settings: Any) -> None:
    from chat import selectors

    night_all_day(settings)
    night = await sync(plain_consumer)()
    socket, _r, _h = await open_chat(night.pk)
    await say(socket, "转人工")
    await frames_until(socket, "queue")
    await socket.disconnect()
    staffed_all_day(settings)
    vip = await sync(vip_consumer)()
    socket, _r, _h = await open_chat(vip.pk)
    await say(socket, "你好")
    await frames_until(socket, "queue")
    await socket.disconnect()
    agent = await sync(lambda: User.objects.create_user("morning-agent", is_staff=True))()
    queue = await sync(selectors.queue)(agent)
    assert [(item["consumer"], item["callback"]) for item in queue] == [(night.display_name, True),
                                                                        (vip.display_name, False)]  # fmt: skip


# --- reconnect -------------------------------------------------------------------------------------


async def test_a_consumer_who_reconnects_gets_exactly_the_messages_they_missed() -> None:
    await sync(knowledge_base)()
    consumer = await sync(plain_consumer)()
    socket, ready, history = await open_chat(consumer.pk)
    await say(socket, "发票怎么开")
    answer = await bot_says(socket)
    last_seen = answer["id"]
    await socket.disconnect()
    # While they are away the bot (another tab) answers again.
    other, _r, _h = await open_chat(consumer.pk)
    await say(other, "怎么改地址")
    missed = await bot_says(other)
    await other.disconnect()
    socket, again, replay = await open_chat(consumer.pk, after=last_seen)
    assert again["chat"] == ready["chat"]
    assert [m["text"] for m in replay] == ["怎么改地址", missed["text"]]
    await socket.send_json_to({"type": "history", "after": history[0]["id"], "ref": "h"})
    asked, _ = await frames_until(socket, "history", match=lambda f: f.get("ref") == "h")
    assert [m["id"] for m in asked["messages"]][-1] == missed["id"] and len(asked["messages"]) == 4
    await socket.disconnect()


async def test_two_tabs_of_one_consumer_share_one_conversation() -> None:
    consumer = await sync(plain_consumer)()
    tab1, ready1, _h = await open_chat(consumer.pk)
    tab2, ready2, _h = await open_chat(consumer.pk)
    assert ready1["chat"] == ready2["chat"]
    await say(tab1, "你好")
    seen, _ = await frames_until(tab2, "message", match=lambda f: f["message"]["text"] == "你好")
    assert seen["message"]["from"] == "consumer"
    await tab1.disconnect()
    await tab2.disconnect()
