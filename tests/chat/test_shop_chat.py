"""A shop's own chat over real sockets: the token names the shop, the shop's articles answer first, the handoff
goes to the shop's own staff, the platform steps in when nobody of the shop is free or the consumer asks
(平台介入), and a second shop's staff and consumers reach none of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from chat import conversation, desk, knowledge, selectors, services
from chat.models import ChatSession, KnowledgeArticle, ProactiveRule
from chat.tokens import issue_token, read_chat_token
from core import roles
from merchants.models import Merchant, MerchantMembership
from tests.chat.support import (  # noqa: F401  (_close_sockets is an autouse fixture)
    _close_sockets,
    agent_socket,
    bot_says,
    consumer_socket,
    frames_until,
    make_agent,
    open_chat,
    plain_consumer,
    say,
    session_cookie,
    staffed_all_day,
    sync,
)
from tests.crm import factories as f
from tickets.models import AgentProfile, Department, TicketEvent

pytestmark = pytest.mark.usefixtures("transactional_db")
INVOICE = "如何开具发票"


@pytest.fixture(autouse=True)
def _staffed(settings: Any) -> None:
    staffed_all_day(settings)


def shops() -> tuple[Merchant, Merchant]:
    """Two shops, each with an invoice article of its own, and the platform's invoice article."""
    a, b = f.merchant("SHOP-A", name="店铺A"), f.merchant("SHOP-B", name="店铺B")
    answers = ((a, "店铺A的发票：联系店铺A客服。"), (b, "店铺B的发票：联系店铺B客服。"), (None, "平台的发票说明。"))
    for shop, answer in answers:
        KnowledgeArticle.objects.create(shop=shop, title=INVOICE, questions="发票怎么开", answer=answer)
    KnowledgeArticle.objects.create(title="修改收货地址", questions="地址填错了\n怎么改地址",
                                    answer="平台：发货前可在订单详情页修改收货地址。")  # fmt: skip
    KnowledgeArticle.objects.create(shop=b, title="店铺B的尺码表", questions="尺码怎么选",
                                    answer="店铺B：尺码表在商品详情页。")  # fmt: skip
    knowledge.rebuild_index()
    return a, b


def shop_agent(make_user: Callable[..., User], name: str, shop: Merchant, *, available: bool = True) -> User:
    user = make_agent(make_user, name, roles.MERCHANT_STAFF, available=available)
    MerchantMembership.objects.create(user=user, merchant=shop)
    return user


async def console(user: User) -> Any:
    socket = agent_socket(await sync(session_cookie)(user))
    connected, code = await socket.connect()
    assert connected, code
    hello, _ = await frames_until(socket, "hello")
    socket.hello = hello
    await frames_until(socket, "queue")
    return socket


async def shop_chat(shop: Merchant, **consumer: Any) -> tuple[Any, dict[str, Any], Any]:
    who = await sync(plain_consumer)(**consumer)
    socket, ready, _history = await open_chat(who.pk, token=issue_token(who.pk, shop.pk))
    return socket, ready, who


# --- the token names the shop ------------------------------------------------------------------------


def test_the_token_signs_the_shop_with_the_consumer() -> None:
    token = issue_token(7, 3)
    assert read_chat_token(token) == read_chat_token(token) and read_chat_token(token).shop_id == 3  # type: ignore[union-attr]
    assert read_chat_token(issue_token(7)).shop_id is None  # type: ignore[union-attr]
    # The shop cannot be changed without the key: the signature covers it.
    payload, signature = token.rsplit(":", 1)
    assert read_chat_token(payload.replace("3", "4") + ":" + signature) is None


async def test_a_made_up_or_closed_shop_is_refused_clearly() -> None:
    who = await sync(plain_consumer)()
    closed = await sync(f.merchant)("SHOP-C", takes_chats=False)
    for shop_id in (987654, closed.pk):
        socket = consumer_socket(token=issue_token(who.pk, shop_id))
        assert (await socket.connect())[0] is True
        error, _ = await frames_until(socket, "error")
        assert error["code"] == "no_shop"
        assert (await socket.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4404}
    assert await sync(ChatSession.objects.count)() == 0


async def test_a_consumer_in_a_shops_chat_cannot_open_another_at_the_same_time() -> None:
    a, b = await sync(shops)()
    _socket, ready, who = await shop_chat(a)
    other = consumer_socket(token=issue_token(who.pk, b.pk))
    await other.connect()
    error, _ = await frames_until(other, "error")
    assert error["code"] == "other_chat"
    assert (await other.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4409}
    assert ready["shop"] == {"code": "SHOP-A", "name": "店铺A"} and ready["escalated"] is False


# --- the bot answers from the shop's knowledge base first ---------------------------------------------


async def test_the_shops_article_answers_its_chat_and_the_platforms_fills_in() -> None:
    a, _b = await sync(shops)()
    socket, _ready, _who = await shop_chat(a)
    await say(socket, "发票怎么开", ref="1")
    assert (await bot_says(socket))["text"] == "店铺A的发票：联系店铺A客服。"
    await say(socket, "地址填错了怎么改地址", ref="2")  # shop A has none: the platform's
    assert (await bot_says(socket))["text"] == "平台：发货前可在订单详情页修改收货地址。"


async def test_a_shops_articles_never_answer_another_shops_or_the_platforms_chat() -> None:
    a, _b = await sync(shops)()
    for token_shop, expected in ((None, "平台的发票说明。"), (a.pk, "店铺A的发票：联系店铺A客服。")):
        who = await sync(plain_consumer)()
        socket, _ready, _history = await open_chat(who.pk, token=issue_token(who.pk, token_shop))
        await say(socket, "发票怎么开", ref="1")
        assert (await bot_says(socket))["text"] == expected
        await say(socket, "尺码怎么选", ref="2")  # shop B's only article on sizes
        assert "店铺B" not in (await bot_says(socket))["text"]


def test_understanding_ranks_only_among_the_scope() -> None:
    _a, b = shops()
    seen = knowledge.understand("尺码怎么选", "zh-hans", b.pk)
    assert [c.article.body for c in seen.candidates][:1] == ["店铺B：尺码表在商品详情页。"]
    platform = knowledge.understand("尺码怎么选", "zh-hans").candidates
    assert all(c.article.id in knowledge.scope_ids(None) for c in platform)


def test_a_shops_proactive_rule_speaks_first_and_only_in_its_chats() -> None:
    a, b = shops()
    who = plain_consumer()
    f.order(who, a, status="paid", placed_at=timezone.now() - timedelta(days=10))
    ProactiveRule.objects.create(name="平台", condition="late_delivery", days=3, message="平台：{order} 还没到。")
    ProactiveRule.objects.create(shop=b, name="B", condition="late_delivery", days=3, message="店铺B：{order} 在路上")
    chat, _created = services.start_chat(who.pk, "zh-hans", shop_id=a.pk)
    opened = TicketEvent.objects.filter(ticket_id=chat.ticket_id, data__intent="proactive").get()
    assert opened.body.startswith("平台：")
    services.end_chat_by_consumer(who.pk)
    ProactiveRule.objects.create(shop=a, name="A", condition="late_delivery", days=3, priority=99,
                                 message="店铺A：您的订单 {order} 正在加急。")  # fmt: skip
    chat, _created = services.start_chat(who.pk, "zh-hans", shop_id=a.pk)
    opened = TicketEvent.objects.filter(ticket_id=chat.ticket_id, data__intent="proactive").get()
    assert opened.body.startswith("店铺A：")


# --- the handoff goes to the shop's own staff -------------------------------------------------------------


async def test_a_handoff_goes_to_the_shops_staff_who_answer_in_their_console(make_user: Callable[..., User]) -> None:
    a, b = await sync(shops)()
    staff_a = await sync(shop_agent)(make_user, "staff-a", a)
    staff_b = await sync(shop_agent)(make_user, "staff-b", b)
    platform = await sync(make_agent)(make_user, "platform")
    desk_a, desk_b, desk_p = await console(staff_a), await console(staff_b), await console(platform)
    socket, ready, _who = await shop_chat(a, display_name="钱七", phone="13812345678")
    await say(socket, "转人工", ref="1")
    queue, _ = await frames_until(desk_a, "queue", match=lambda q: q["new"] == ready["chat"])
    assert [i["chat"] for i in queue["items"]] == [ready["chat"]]
    for other in (desk_b, desk_p):
        queue, _ = await frames_until(other, "queue", match=lambda q: q["new"] == ready["chat"])
        assert queue["items"] == []
    # Another shop's staff and the platform cannot take it; shop A's staff can.
    await desk_b.send_json_to({"type": "accept", "chat": ready["chat"], "ref": "b"})
    assert (await frames_until(desk_b, "error"))[0]["code"] == "not_found"
    await desk_p.send_json_to({"type": "accept", "chat": ready["chat"], "ref": "p"})
    assert (await frames_until(desk_p, "error"))[0]["code"] == "taken"
    await desk_a.send_json_to({"type": "accept", "chat": ready["chat"], "ref": "a"})
    chat, _ = await frames_until(desk_a, "chat", match=lambda c: c["chat"] == ready["chat"])
    assert chat["consumer"]["name"] == "钱七" and chat["consumer"]["phone"] == "138****5678"
    await desk_a.send_json_to({"type": "reply", "chat": ready["chat"], "text": "您好，店铺A客服为您服务", "ref": "r"})
    heard, _ = await frames_until(socket, "message", match=lambda m: m["message"]["from"] == "agent")
    assert heard["message"]["text"] == "您好，店铺A客服为您服务"
    stored = await sync(ChatSession.objects.get)(pk=ready["chat"])
    assert (stored.shop_id, stored.agent_id, stored.escalated_at) == (a.pk, staff_a.pk, None)


async def test_with_nobody_of_the_shop_available_the_platform_takes_the_chat(make_user: Callable[..., User]) -> None:
    a, _b = await sync(shops)()
    await sync(shop_agent)(make_user, "staff-a", a, available=False)
    desk_p = await console(await sync(make_agent)(make_user, "platform"))
    socket, ready, _who = await shop_chat(a)
    await say(socket, "转人工", ref="1")
    queue, _ = await frames_until(desk_p, "queue", match=lambda q: q["new"] == ready["chat"])
    assert [i["chat"] for i in queue["items"]] == [ready["chat"]]
    said, _ = await frames_until(socket, "message", match=lambda m: m["message"]["data"].get("code") == "escalated")
    assert said["message"]["text"] == "店铺客服暂时都不在线，平台客服将为您服务。"
    assert (await sync(ChatSession.objects.get)(pk=ready["chat"])).escalated_at is not None


@pytest.mark.parametrize("how", ["button", "phrase"])
async def test_the_consumer_escalates_to_the_platform_and_both_sides_see_it(
    make_user: Callable[..., User], how: str
) -> None:
    a, _b = await sync(shops)()
    staff_a = await sync(shop_agent)(make_user, "staff-a", a)
    desk_a, desk_p = await console(staff_a), await console(await sync(make_agent)(make_user, "platform"))
    socket, ready, _who = await shop_chat(a)
    await say(socket, "转人工", ref="1")
    await frames_until(desk_a, "queue", match=lambda q: q["new"] == ready["chat"])
    await desk_a.send_json_to({"type": "accept", "chat": ready["chat"], "ref": "a"})
    await frames_until(desk_a, "chat", match=lambda c: c["chat"] == ready["chat"])
    if how == "button":
        await socket.send_json_to({"type": "escalate", "ref": "e"})
    else:
        await say(socket, "我要平台介入", ref="e")
    await frames_until(desk_a, "chat.closed", match=lambda c: c["chat"] == ready["chat"])
    # The first handoff announced the chat too (to the shop's desk): the platform's queue shows it once escalated.
    queue, _ = await frames_until(desk_p, "queue", match=lambda q: q["new"] == ready["chat"] and q["items"])
    assert [(i["chat"], i["reason"]) for i in queue["items"]] == [(ready["chat"], "escalated")]
    said, _ = await frames_until(socket, "message", match=lambda m: m["message"]["data"].get("code") == "escalated")
    assert "平台介入" in said["message"]["text"]
    # The shop still reads the chat's timeline, with the escalation on it; it cannot take it back.
    snapshot = await sync(selectors.chat)(ready["chat"], staff_a)
    assert any(m["data"].get("code") == "escalated" for m in snapshot["messages"])  # type: ignore[index]
    await desk_a.send_json_to({"type": "accept", "chat": ready["chat"], "ref": "again"})
    assert (await frames_until(desk_a, "error"))[0]["code"] == "taken"
    await desk_p.send_json_to({"type": "accept", "chat": ready["chat"], "ref": "p"})
    await frames_until(desk_p, "chat", match=lambda c: c["chat"] == ready["chat"])
    stored = await sync(ChatSession.objects.get)(pk=ready["chat"])
    assert stored.state == "active" and stored.handoff_reason == "escalated" and stored.escalated_at is not None


# --- every frame checks the shop ---------------------------------------------------------------------------


async def test_a_second_shops_staff_reach_nothing_of_the_first_shops_chat(make_user: Callable[..., User]) -> None:
    a, b = await sync(shops)()
    staff_a = await sync(shop_agent)(make_user, "staff-a", a)
    staff_b = await sync(shop_agent)(make_user, "staff-b", b)
    desk_a, desk_b = await console(staff_a), await console(staff_b)
    socket, ready, _who = await shop_chat(a)
    await say(socket, "转人工", ref="1")
    await desk_a.send_json_to({"type": "accept", "chat": ready["chat"], "ref": "a"})
    await frames_until(desk_a, "chat", match=lambda c: c["chat"] == ready["chat"])
    chat_id = ready["chat"]
    frames = [
        {"type": "accept", "chat": chat_id}, {"type": "reply", "chat": chat_id, "text": "hi"},
        {"type": "note", "chat": chat_id, "text": "hi"}, {"type": "resolve", "chat": chat_id},
        {"type": "open", "chat": chat_id}, {"type": "refund", "chat": chat_id, "order": "X", "amount": "1", "key": "k"},
        {"type": "transfer", "chat": chat_id, "agent": staff_b.pk},
        {"type": "learn", "chat": chat_id, "message": 1, "article": 1},
    ]  # fmt: skip
    for i, frame in enumerate(frames):
        await desk_b.send_json_to({**frame, "ref": f"b{i}"})
        error, _ = await frames_until(desk_b, "error", match=lambda e, r=f"b{i}": e.get("ref") == r)
        assert error["code"] == "not_found", frame
    stored = await sync(ChatSession.objects.get)(pk=chat_id)
    assert (stored.state, stored.agent_id) == ("active", staff_a.pk)
    assert await sync(TicketEvent.objects.filter(ticket_id=stored.ticket_id, author_id=staff_b.pk).count)() == 0


async def test_a_second_shops_consumer_reaches_nothing_of_the_first_shops_chat() -> None:
    a, b = await sync(shops)()
    socket, ready, _first = await shop_chat(a)
    await say(socket, "发票怎么开", ref="1")
    other, other_ready, _second = await shop_chat(b)
    assert other_ready["chat"] != ready["chat"]
    await other.send_json_to({"type": "history", "after": 0, "ref": "h"})
    history, _ = await frames_until(other, "history", match=lambda h: h.get("ref") == "h")
    assert "店铺A" not in str(history) and "发票怎么开" not in str(history)


def test_shop_staff_transfer_only_to_colleagues_never_to_a_department(make_user: Callable[..., User]) -> None:
    a, b = shops()
    staff_a, colleague = shop_agent(make_user, "staff-a", a), shop_agent(make_user, "staff-a2", a)
    staff_b, platform = shop_agent(make_user, "staff-b", b), make_agent(make_user, "platform")
    targets = selectors.transfer_targets(staff_a)
    assert (targets["agents"], targets["departments"]) == ([{"id": colleague.pk, "name": "staff-a2"}], [])
    who = plain_consumer()
    chat, _created = services.start_chat(who.pk, "zh-hans", shop_id=a.pk)
    services.request_human(who.pk)
    desk.accept_chat(chat.pk, staff_a)
    for to in (staff_b, platform):
        with pytest.raises(conversation.ChatError) as refused:
            desk.transfer_chat(chat.pk, staff_a, to_agent=to)
        assert refused.value.error_code == "unavailable"
    with pytest.raises(conversation.ChatError) as refused:
        desk.transfer_chat(chat.pk, staff_a, to_department=Department.objects.create(code="X", name="X"))
    assert refused.value.error_code == "bad_target"
    desk.transfer_chat(chat.pk, staff_a, to_agent=colleague)
    chat.refresh_from_db()
    assert (chat.agent_id, chat.escalated_at) == (colleague.pk, None)
    assert AgentProfile.objects.get(user=colleague).available is True
