"""The agents' side over real sockets: who may connect, the live queue, exactly-once accept under concurrent
clicks, capacity, relay both ways, transfer, resolve, refund, requeue on timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User

from chat import desk as chat_desk
from chat import selectors
from chat.models import ChatSession, KnowledgeArticle
from core import roles
from crm.models import CreditTier
from merchants.models import MerchantMembership
from tests.chat.support import (  # noqa: F401  (_close_sockets is an autouse fixture)
    _close_sockets,
    agent_socket,
    bot_says,
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
from tickets.models import Department, RefundRequest, Ticket, TicketEvent

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(autouse=True)
def _staffed(settings: Any) -> None:
    staffed_all_day(settings)


async def waiting_chat(**consumer: Any) -> tuple[Any, int]:
    """A consumer socket whose chat waits in the queue."""
    who = await sync(plain_consumer)(**consumer)
    socket, ready, _history = await open_chat(who.pk)
    await say(socket, "转人工")
    await frames_until(socket, "queue")
    return socket, ready["chat"]


async def console(user: User) -> Any:
    socket = agent_socket(await sync(session_cookie)(user))
    connected, code = await socket.connect()
    assert connected, code
    await frames_until(socket, "hello")
    await frames_until(socket, "queue")
    return socket


# --- who may connect -------------------------------------------------------------------------------


async def test_an_anonymous_console_socket_is_refused() -> None:
    assert await agent_socket(None).connect() == (False, 4401)


@pytest.mark.parametrize("role", [roles.BUSINESS, None])
async def test_staff_without_the_console_permission_are_refused(make_user: Callable[..., User],
                                                                role: str | None) -> None:  # fmt: skip
    user = await sync(make_user)("nobody", role)
    assert await agent_socket(await sync(session_cookie)(user)).connect() == (False, 4403)


async def test_merchant_staff_without_a_shop_are_refused(make_user: Callable[..., User]) -> None:
    user = await sync(make_user)("shop-staff", roles.MERCHANT_STAFF)
    assert await agent_socket(await sync(session_cookie)(user)).connect() == (False, 4403)
    # With their shop they get the console (their shop's desk: tests/chat/test_shop_chat.py).
    await sync(MerchantMembership.objects.create)(user=user, merchant=await sync(f.merchant)())
    socket = agent_socket(await sync(session_cookie)(user))
    assert (await socket.connect())[0] is True


async def test_a_consumer_token_does_not_open_the_console() -> None:
    from chat.tokens import issue_token

    consumer = await sync(plain_consumer)()
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    socket = WebsocketCommunicator(application, f"/ws/chat/agent/?token={issue_token(consumer.pk)}",
                                   headers=[(b"origin", b"http://127.0.0.1")])  # fmt: skip
    assert await socket.connect() == (False, 4401)


# --- the queue and accepting -----------------------------------------------------------------------


async def test_a_new_handoff_reaches_the_console_with_the_bots_summary(make_user: Callable[..., User]) -> None:
    agent = await sync(make_agent)(make_user, "agent-a")
    desk = await console(agent)
    who = await sync(plain_consumer)(display_name="赵六")
    socket, ready, _history = await open_chat(who.pk)
    await say(socket, "我的快递到哪了", ref="1")
    await say(socket, "转人工", ref="2")
    queue, _ = await frames_until(desk, "queue", match=lambda f: f["new"] == ready["chat"])
    [item] = queue["items"]
    assert (item["chat"], item["consumer"], item["position"], item["tier"], item["reason"]) == (
        ready["chat"], "赵六", 1, "普通会员", "asked")  # fmt: skip
    assert "“转人工”" in item["summary"] and "“我的快递到哪了”" in item["summary"]
    await socket.disconnect()
    await desk.disconnect()


async def test_exactly_one_agent_wins_a_chat_however_many_click_at_once(make_user: Callable[..., User]) -> None:
    agents = [await sync(make_agent)(make_user, f"racer{i}") for i in range(6)]
    desks = [await console(a) for a in agents]
    socket, chat_id = await waiting_chat()
    await asyncio.gather(*(d.send_json_to({"type": "accept", "chat": chat_id, "ref": "go"}) for d in desks))
    answers = []
    for desk in desks:  # each desk gets exactly one answer to its click: an ack or an error
        answers.append(await _answer_to(desk, "go"))
    winners = [i for i, a in enumerate(answers) if a["type"] == "ack"]
    assert len(winners) == 1
    assert sorted(a["code"] for a in answers if a["type"] == "error") == ["taken"] * 5
    chat = await sync(ChatSession.objects.select_related("ticket").get)(pk=chat_id)
    assert (chat.state, chat.agent_id, chat.ticket.assignee_id) == ("active", agents[winners[0]].pk,
                                                                    agents[winners[0]].pk)  # fmt: skip
    joined, _ = await frames_until(socket, "state", match=lambda f: f["state"] == "active")
    assert joined["agent"] == agents[winners[0]].username
    for desk in desks:
        await desk.disconnect()
    await socket.disconnect()


async def test_an_agent_at_capacity_cannot_accept_more(make_user: Callable[..., User]) -> None:
    agent = await sync(make_agent)(make_user, "busy", capacity=1)
    desk = await console(agent)
    first, chat1 = await waiting_chat()
    second, chat2 = await waiting_chat()
    await desk.send_json_to({"type": "accept", "chat": chat1, "ref": "a"})
    await frames_until(desk, "ack", match=lambda f: f.get("ref") == "a")
    await desk.send_json_to({"type": "accept", "chat": chat2, "ref": "b"})
    error, _ = await frames_until(desk, "error", match=lambda f: f.get("ref") == "b")
    assert error["code"] == "at_capacity"
    assert (await sync(ChatSession.objects.get)(pk=chat2)).state == "waiting"
    for s in (desk, first, second):
        await s.disconnect()


async def test_positions_move_up_when_an_agent_accepts(make_user: Callable[..., User]) -> None:
    agent = await sync(make_agent)(make_user, "mover")
    desk = await console(agent)
    first, chat1 = await waiting_chat()
    second, _chat2 = await waiting_chat()
    await desk.send_json_to({"type": "accept", "chat": chat1})
    moved, _ = await frames_until(second, "queue", match=lambda f: f["waiting"] == 1)
    assert moved["position"] == 1
    for s in (desk, first, second):
        await s.disconnect()


async def _answer_to(desk: Any, ref: str) -> dict[str, Any]:
    while True:
        frame = await desk.receive_json_from(timeout=15)
        if frame.get("ref") == ref:
            return frame


# --- talking ---------------------------------------------------------------------------------------


async def accepted(make_user: Callable[..., User], name: str = "talker", **consumer: Any) -> tuple[Any, Any, int, User]:
    agent = await sync(make_agent)(make_user, name)
    desk = await console(agent)
    socket, chat_id = await waiting_chat(**consumer)
    await desk.send_json_to({"type": "accept", "chat": chat_id, "ref": "acc"})
    await frames_until(desk, "ack", match=lambda f: f.get("ref") == "acc")
    snapshot, _ = await frames_until(desk, "chat")
    assert snapshot["chat"] == chat_id
    return desk, socket, chat_id, agent


async def test_agent_and_consumer_talk_both_ways_and_every_message_is_stored(make_user: Callable[..., User]) -> None:
    desk, socket, chat_id, agent = await accepted(make_user)
    await desk.send_json_to({"type": "reply", "chat": chat_id, "text": "您好，我是客服小王", "ref": "r"})
    heard, _ = await frames_until(socket, "message", match=lambda f: f["message"]["from"] == "agent")
    assert (heard["message"]["text"], heard["message"]["name"]) == ("您好，我是客服小王", agent.username)
    assert await sync(TicketEvent.objects.filter(pk=heard["message"]["id"], author=agent).exists)()
    await say(socket, "耳机左耳没声音", ref="c")
    told, _ = await frames_until(desk, "message", match=lambda f: f["message"]["from"] == "consumer")
    assert told["chat"] == chat_id and told["message"]["text"] == "耳机左耳没声音"
    await desk.send_json_to({"type": "note", "chat": chat_id, "text": "疑似质量问题", "ref": "n"})
    note, _ = await frames_until(desk, "message", match=lambda f: f["message"].get("internal"))
    assert note["message"]["text"] == "疑似质量问题"
    await socket.send_json_to({"type": "ping", "ref": "p"})
    await frames_until(socket, "pong")
    ticket = await sync(Ticket.objects.get)(chat__pk=chat_id)
    assert ticket.status == "open" and ticket.first_response_at is not None
    for s in (desk, socket):
        await s.disconnect()


async def test_the_consumer_never_sees_internal_notes(make_user: Callable[..., User]) -> None:
    desk, socket, chat_id, _agent = await accepted(make_user)
    await desk.send_json_to({"type": "note", "chat": chat_id, "text": "内部备注", "ref": "n"})
    await frames_until(desk, "ack", match=lambda f: f.get("ref") == "n")
    await desk.send_json_to({"type": "reply", "chat": chat_id, "text": "公开回复", "ref": "r"})
    _heard, before = await frames_until(socket, "message", match=lambda f: f["message"]["text"] == "公开回复")
    assert all("内部备注" not in str(frame) for frame in before)
    await socket.send_json_to({"type": "history", "after": 0, "ref": "h"})
    history, _ = await frames_until(socket, "history", match=lambda f: f.get("ref") == "h")
    assert "内部备注" not in [m["text"] for m in history["messages"]]
    for s in (desk, socket):
        await s.disconnect()


async def test_another_agent_cannot_reply_resolve_or_refund_in_a_chat_they_do_not_hold(
    make_user: Callable[..., User],
) -> None:
    desk, socket, chat_id, _agent = await accepted(make_user)
    other = await console(await sync(make_agent)(make_user, "intruder"))
    for frame in ({"type": "reply", "text": "x"}, {"type": "resolve"},
                  {"type": "refund", "order": "X", "amount": "1.00", "key": "k"}):  # fmt: skip
        await other.send_json_to({**frame, "chat": chat_id, "ref": frame["type"]})
        error, _ = await frames_until(other, "error", match=lambda f, t=frame["type"]: f.get("ref") == t)
        assert error["code"] == "not_yours"
    said = TicketEvent.objects.filter(ticket__chat__pk=chat_id, author_kind="agent", kind__in=["message", "note"])
    assert await sync(said.count)() == 0
    for s in (desk, socket, other):
        await s.disconnect()


async def test_transfer_to_another_agent_moves_the_chat_between_consoles(make_user: Callable[..., User]) -> None:
    desk, socket, chat_id, _agent = await accepted(make_user)
    colleague = await sync(make_agent)(make_user, "colleague")
    other = await console(colleague)
    await desk.send_json_to({"type": "transfer", "chat": chat_id, "agent": colleague.pk, "ref": "t"})
    await frames_until(desk, "chat.closed", match=lambda f: f["chat"] == chat_id)
    snapshot, _ = await frames_until(other, "chat", match=lambda f: f["chat"] == chat_id)
    assert snapshot["agent"] == "colleague"
    told, _ = await frames_until(socket, "state", match=lambda f: f["agent"] == "colleague")
    assert told["state"] == "active"
    chat = await sync(ChatSession.objects.select_related("ticket").get)(pk=chat_id)
    assert (chat.agent_id, chat.ticket.assignee_id) == (colleague.pk, colleague.pk)
    for s in (desk, socket, other):
        await s.disconnect()


async def test_transfer_to_an_away_agent_is_refused(make_user: Callable[..., User]) -> None:
    desk, socket, chat_id, agent = await accepted(make_user)
    away = await sync(make_agent)(make_user, "away", available=False)
    await desk.send_json_to({"type": "transfer", "chat": chat_id, "agent": away.pk, "ref": "t"})
    error, _ = await frames_until(desk, "error", match=lambda f: f.get("ref") == "t")
    assert error["code"] == "unavailable"
    assert (await sync(ChatSession.objects.get)(pk=chat_id)).agent_id == agent.pk
    for s in (desk, socket):
        await s.disconnect()


async def test_transfer_to_a_department_puts_the_chat_back_in_that_queue(make_user: Callable[..., User]) -> None:
    desk, socket, chat_id, _agent = await accepted(make_user)
    refunds = await sync(Department.objects.create)(code="refunds-q", name="退款组")
    await desk.send_json_to({"type": "transfer", "chat": chat_id, "department": refunds.pk, "ref": "t"})
    queue, before = await frames_until(desk, "queue", match=lambda f: bool(f["items"]))
    if not any(frame["type"] == "chat.closed" for frame in before):
        await frames_until(desk, "chat.closed")
    assert [(i["chat"], i["department"]["name"]) for i in queue["items"]] == [(chat_id, "退款组")]
    chat = await sync(ChatSession.objects.select_related("ticket").get)(pk=chat_id)
    assert (chat.state, chat.agent_id, chat.ticket.department_id, chat.ticket.assignee_id) == (
        "waiting", None, refunds.pk, None)  # fmt: skip
    await frames_until(socket, "queue", match=lambda f: f["position"] == 1)
    for s in (desk, socket):
        await s.disconnect()


async def test_resolving_ends_the_chat_and_resolves_its_ticket(make_user: Callable[..., User]) -> None:
    desk, socket, chat_id, _agent = await accepted(make_user)
    await desk.send_json_to({"type": "reply", "chat": chat_id, "text": "已处理", "ref": "r"})
    await desk.send_json_to({"type": "resolve", "chat": chat_id, "ref": "x"})
    await frames_until(desk, "ack", match=lambda f: f.get("ref") == "x")
    ended, _ = await frames_until(socket, "state", match=lambda f: f["state"] == "ended")
    assert ended["chat"] == chat_id
    chat = await sync(ChatSession.objects.select_related("ticket").get)(pk=chat_id)
    assert (chat.state, chat.ticket.status) == ("ended", "resolved")
    # The consumer writes again: a new conversation (and ticket) begins with the bot.
    await say(socket, "还有一个问题", ref="again")
    new = await sync(ChatSession.objects.exclude(pk=chat_id).get)(consumer_id=chat.consumer_id)
    assert new.state == "bot" and new.ticket_id != chat.ticket_id
    for s in (desk, socket):
        await s.disconnect()


async def test_the_agent_refunds_from_the_console_and_the_consumer_is_told(make_user: Callable[..., User]) -> None:
    gold = await sync(CreditTier.objects.get)(name="金牌会员")
    desk, socket, chat_id, agent = await accepted(make_user, tier=gold)
    chat = await sync(ChatSession.objects.get)(pk=chat_id)
    order = await sync(lambda: f.order(chat.consumer, f.merchant(), "88.00", status="delivered"))()
    await desk.send_json_to({"type": "refund", "chat": chat_id, "order": order.order_no, "amount": "88.00",
                             "key": "console-1", "ref": "f"})  # fmt: skip
    ack, _ = await frames_until(desk, "ack", match=lambda f: f.get("ref") == "f")
    assert ack["decision"] == "instant"
    told, _ = await frames_until(socket, "message", match=lambda f: f["message"]["data"].get("code") == "refund")
    assert "88.00" in told["message"]["text"]
    refund = await sync(RefundRequest.objects.get)(idempotency_key="console-1")
    assert (refund.amount, refund.requested_by_id, refund.ticket_id) == (Decimal("88.00"), agent.pk, chat.ticket_id)
    for s in (desk, socket):
        await s.disconnect()


async def test_refunding_another_consumers_order_is_refused(make_user: Callable[..., User]) -> None:
    desk, socket, chat_id, _agent = await accepted(make_user)
    stranger = await sync(lambda: f.order(plain_consumer(), f.merchant(), "10.00"))()
    await desk.send_json_to({"type": "refund", "chat": chat_id, "order": stranger.order_no, "amount": "10.00",
                             "key": "k2", "ref": "f"})  # fmt: skip
    error, _ = await frames_until(desk, "error", match=lambda f: f.get("ref") == "f")
    assert error["code"] == "bad_order"
    assert not await sync(RefundRequest.objects.exists)()
    for s in (desk, socket):
        await s.disconnect()


async def test_a_chat_accepted_but_unanswered_goes_back_to_the_queue(
    make_user: Callable[..., User], settings: Any
) -> None:
    desk, socket, chat_id, _agent = await accepted(make_user)
    settings.CHAT_ACCEPT_TIMEOUT = 0
    assert await sync(chat_desk.requeue_unanswered)() == 1
    closed, _ = await frames_until(desk, "chat.closed")
    assert (closed["chat"], closed["reason"]) == (chat_id, "timeout")
    await frames_until(socket, "state", match=lambda f: f["state"] == "waiting")
    chat = await sync(ChatSession.objects.select_related("ticket").get)(pk=chat_id)
    assert (chat.state, chat.agent_id, chat.handoff_reason, chat.ticket.assignee_id) == (
        "waiting", None, "requeued", None)  # fmt: skip
    for s in (desk, socket):
        await s.disconnect()


async def test_an_answered_chat_is_not_requeued(make_user: Callable[..., User], settings: Any) -> None:
    desk, socket, chat_id, _agent = await accepted(make_user)
    await desk.send_json_to({"type": "reply", "chat": chat_id, "text": "在的", "ref": "r"})
    await frames_until(desk, "ack", match=lambda f: f.get("ref") == "r")
    settings.CHAT_ACCEPT_TIMEOUT = 0
    assert await sync(chat_desk.requeue_unanswered)() == 0
    assert (await sync(ChatSession.objects.get)(pk=chat_id)).state == "active"
    for s in (desk, socket):
        await s.disconnect()


async def test_availability_is_toggled_from_the_console(make_user: Callable[..., User]) -> None:
    agent = await sync(make_agent)(make_user, "toggler", available=False)
    desk = await console(agent)
    await desk.send_json_to({"type": "availability", "available": True, "ref": "v"})
    ack, _ = await frames_until(desk, "ack", match=lambda f: f.get("ref") == "v")
    assert ack["available"] is True
    assert (await sync(lambda: agent.agent_profile.__class__.objects.get(user=agent).available)()) is True
    await desk.disconnect()


async def test_the_agent_socket_cannot_confirm_the_bots_refund_proposal(make_user: Callable[..., User]) -> None:
    def setup() -> Any:
        consumer = f.consumer(tier=CreditTier.objects.get(name="金牌会员"))
        return consumer, f.order(consumer, f.merchant(), "50.00", status="delivered",
                                 delivered_at=f.timezone.now() - f.timedelta(days=1))  # fmt: skip

    consumer, order = await sync(setup)()
    desk = await console(await sync(make_agent)(make_user, "agent-p"))
    socket, ready, _history = await open_chat(consumer.pk)
    await say(socket, f"退款 {order.order_no}")
    proposal = (await bot_says(socket))["data"]["proposal"]
    for kind in ("confirm", "cancel"):
        await desk.send_json_to({"type": kind, "proposal": proposal, "chat": ready["chat"], "ref": kind})
        error, _ = await frames_until(desk, "error", match=lambda f, k=kind: f.get("ref") == k)
        assert error["code"] == "unknown_type"
    assert not await sync(RefundRequest.objects.exists)()
    assert (await sync(ChatSession.objects.get)(pk=ready["chat"])).proposal["id"] == proposal
    for s in (desk, socket):
        await s.disconnect()


async def _teach_frame(desk: Any, socket: Any, chat_id: int, article_id: int) -> dict[str, Any]:
    await say(socket, "报销用的票咋弄", ref="q")
    asked, _ = await frames_until(desk, "message", match=lambda f: f["message"]["from"] == "consumer"
                                  and f["message"]["text"] == "报销用的票咋弄")  # fmt: skip
    return {"type": "learn", "chat": chat_id, "message": asked["message"]["id"], "article": article_id}


async def test_the_agent_teaches_the_bot_a_consumers_question_from_the_console(make_user: Callable[..., User]) -> None:
    article = await sync(KnowledgeArticle.objects.create)(title="如何开具发票", answer="……", language="zh-hans")
    desk, socket, chat_id, agent = await accepted(make_user)
    hello = await sync(selectors.learnable_articles)(agent)
    assert hello == {"articles": [{"id": article.pk, "title": "如何开具发票", "language": "zh-hans"}]}
    frame = await _teach_frame(desk, socket, chat_id, article.pk)
    await desk.send_json_to({**frame, "ref": "l"})
    ack, _ = await frames_until(desk, "ack", match=lambda f: f.get("ref") == "l")
    assert (ack["added"], ack["article"]) == (True, article.pk)
    assert (await sync(KnowledgeArticle.objects.get)(pk=article.pk)).questions == "报销用的票咋弄"
    other = await console(await sync(make_agent)(make_user, "other"))  # who does not hold the chat
    await other.send_json_to({**frame, "ref": "o"})
    error, _ = await frames_until(other, "error", match=lambda f: f.get("ref") == "o")
    assert error["code"] == "not_yours"
    await desk.send_json_to({**frame, "article": "1", "ref": "bad"})
    error, _ = await frames_until(desk, "error", match=lambda f: f.get("ref") == "bad")
    assert error["code"] == "missing_field"
    for s in (desk, socket, other):
        await s.disconnect()


async def test_an_agent_without_the_permission_cannot_teach_the_bot(make_user: Callable[..., User]) -> None:
    def console_only(username: str, role: str | None = None) -> User:
        user = make_user(username, None)
        user.user_permissions.add(Permission.objects.get(codename="use_chat_console"))
        return user

    article = await sync(KnowledgeArticle.objects.create)(title="如何开具发票", answer="……", language="zh-hans")
    desk, socket, chat_id, agent = await accepted(console_only)
    assert await sync(selectors.learnable_articles)(agent) == {"articles": []}
    frame = await _teach_frame(desk, socket, chat_id, article.pk)
    await desk.send_json_to({**frame, "ref": "l"})
    error, _ = await frames_until(desk, "error", match=lambda f: f.get("ref") == "l")
    assert error["code"] == "forbidden"
    assert (await sync(KnowledgeArticle.objects.get)(pk=article.pk)).questions == ""
    for s in (desk, socket):
        await s.disconnect()
