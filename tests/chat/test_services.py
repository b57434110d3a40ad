"""The chat services called directly: retries and races of the agents' actions, who may receive a chat, what
the console shows whom, bad input, and what one message costs in queries on the socket path."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone, translation
from pytest_django import DjangoAssertNumQueries

from chat import conversation, desk, knowledge, selectors, services
from chat.models import ChatSession, HandoffPhrase
from core import roles
from crm.models import CreditTier, RiskFlag
from merchants.models import MerchantMembership
from tests.chat.support import knowledge_base, make_agent, plain_consumer, staffed_all_day
from tests.crm import factories as f
from tickets.models import CannedReply, Department, RefundRequest, Ticket, TicketEvent


@pytest.fixture(autouse=True)
def _staffed(settings: Any) -> None:
    staffed_all_day(settings)


def waiting(**consumer: Any) -> ChatSession:
    who = plain_consumer(**consumer)
    chat, _created = services.start_chat(who.pk, "en")
    services.request_human(who.pk)
    chat.refresh_from_db()
    return chat


def held_by(agent: User, **consumer: Any) -> ChatSession:
    chat = waiting(**consumer)
    return desk.accept_chat(chat.pk, agent)


def refund_notices(chat: ChatSession) -> list[str]:
    return list(
        TicketEvent.objects.filter(ticket_id=chat.ticket_id, data__code="refund").values_list("body", flat=True)
    )


# --- retries and races -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_retried_console_refund_answers_the_first_decision_and_tells_the_consumer_once(
    make_user: Callable[..., User],
) -> None:
    agent = make_agent(make_user, "refunder")
    chat = held_by(agent, tier=CreditTier.objects.get(name="金牌会员"))
    order = f.order(chat.consumer, f.merchant(), "88.00", status="delivered")
    first = desk.refund_in_chat(chat.pk, agent, order.order_no, "88.00", key="console-7")
    again = desk.refund_in_chat(chat.pk, agent, order.order_no, "88.00", key="console-7")
    assert (first.pk, again.pk, first.decision) == (again.pk, first.pk, "instant")
    assert RefundRequest.objects.filter(order=order).count() == 1
    assert len(refund_notices(chat)) == 1
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("88.00")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "key", "field"),
    [("abc", "k-1", "amount"), ("-5", "k-2", "amount"), ("1.001", "k-3", "amount"), ("10.00", "", "idempotency_key")],
)
def test_a_console_refund_with_bad_input_names_the_field_and_changes_nothing(
    make_user: Callable[..., User], amount: str, key: str, field: str
) -> None:
    agent = make_agent(make_user, "careful")
    chat = held_by(agent)
    order = f.order(chat.consumer, f.merchant(), "50.00", status="delivered")
    with pytest.raises(ValidationError) as problem:
        desk.refund_in_chat(chat.pk, agent, order.order_no, amount, key=key)
    assert list(problem.value.message_dict) == [field]
    assert not RefundRequest.objects.exists()
    assert refund_notices(chat) == []


@pytest.mark.django_db
def test_a_console_user_who_may_not_refund_is_refused(make_user: Callable[..., User]) -> None:
    watcher = make_user("watcher", None)
    watcher.user_permissions.add(Permission.objects.get(codename="use_chat_console"))
    watcher = User.objects.get(pk=watcher.pk)  # a fresh permission cache
    chat = held_by(watcher)
    order = f.order(chat.consumer, f.merchant(), "50.00", status="delivered")
    with pytest.raises(conversation.ChatError) as problem:
        desk.refund_in_chat(chat.pk, watcher, order.order_no, "50.00", key="k-x")
    assert problem.value.error_code == "forbidden"
    assert not RefundRequest.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_sockets_starting_the_consumers_chat_at_once_share_one_conversation() -> None:
    """The second start waits on the one-live-chat index, then joins the first one's chat: nothing lost."""
    who = plain_consumer()
    failures: list[BaseException] = []

    def second_socket() -> None:
        try:
            services.consumer_message(who.pk, "en", "second tab")
        except BaseException as problem:  # reported below, in the test's thread
            failures.append(problem)
        finally:
            connections.close_all()

    with transaction.atomic():
        first = services._start(who.pk, "en", None, timezone.now())  # the first socket, not committed yet
        other = threading.Thread(target=second_socket)
        other.start()
        _wait_for_a_blocked_query()
    other.join(timeout=30)
    assert failures == []
    assert list(ChatSession.objects.filter(consumer=who).values_list("pk", flat=True)) == [first.pk]
    said = TicketEvent.objects.filter(ticket_id=first.ticket_id, author_kind="consumer")
    assert list(said.values_list("body", flat=True)) == ["second tab"]
    assert Ticket.objects.filter(consumer=who).count() == 1  # the loser's ticket went with its savepoint


def _wait_for_a_blocked_query() -> None:
    deadline = time.monotonic() + 20
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction sees its first snapshot only
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the second socket never waited for the first one's chat")


# --- who may receive a chat, and what the console shows -------------------------------------------


@pytest.mark.django_db
def test_a_chat_cannot_be_transferred_to_merchant_staff_even_with_the_console_permission(
    make_user: Callable[..., User],
) -> None:
    agent = make_agent(make_user, "handing")
    chat = held_by(agent)
    shop = make_agent(make_user, "shop-staff", roles.MERCHANT_STAFF)
    shop.user_permissions.add(Permission.objects.get(codename="use_chat_console"))
    MerchantMembership.objects.create(user=shop, merchant=f.merchant())
    shop = User.objects.get(pk=shop.pk)
    assert shop.pk not in [a["id"] for a in selectors.transfer_targets(agent)["agents"]]
    with pytest.raises(conversation.ChatError) as problem:
        desk.transfer_chat(chat.pk, agent, to_agent=shop)
    assert problem.value.error_code == "unavailable"
    chat.refresh_from_db()
    assert (chat.agent_id, chat.state) == (agent.pk, "active")


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["self", "both", "neither", "full"])
def test_a_transfer_to_a_bad_target_is_refused_and_the_chat_stays(make_user: Callable[..., User], target: str) -> None:
    agent = make_agent(make_user, "holder")
    colleague = make_agent(make_user, "full", capacity=1)
    chat = held_by(agent)
    held_by(colleague)
    department = Department.objects.create(code="other", name="Other")
    targets: dict[str, dict[str, Any]] = {
        "self": {"to_agent": agent}, "both": {"to_agent": colleague, "to_department": department},
        "neither": {}, "full": {"to_agent": colleague},
    }  # fmt: skip
    with pytest.raises(conversation.ChatError) as problem:
        desk.transfer_chat(chat.pk, agent, **targets[target])
    assert problem.value.error_code == ("at_capacity" if target == "full" else "bad_target")
    chat.refresh_from_db()
    assert (chat.agent_id, chat.state) == (agent.pk, "active")


@pytest.mark.django_db
def test_supervisors_see_the_consumers_whole_phone_and_agents_a_masked_one(make_user: Callable[..., User]) -> None:
    agent = make_agent(make_user, "plain-agent")
    boss = make_agent(make_user, "boss", roles.SUPERVISOR)
    chat = held_by(agent, phone="13812345678")
    assert selectors.chat(chat.pk, agent)["consumer"]["phone"] == "138****5678"  # type: ignore[index]
    assert selectors.chat(chat.pk, boss)["consumer"]["phone"] == "13812345678"  # type: ignore[index]


@pytest.mark.django_db
def test_a_chat_left_idle_with_the_bot_ends_with_a_readable_note(settings: Any) -> None:
    who = plain_consumer()
    chat, _created = services.start_chat(who.pk, "en", now=timezone.now() - timedelta(hours=2))
    settings.CHAT_IDLE_MINUTES = 30
    with translation.override("en"):
        assert desk.end_idle_chats() == 1
    chat.refresh_from_db()
    status = TicketEvent.objects.get(ticket_id=chat.ticket_id, kind=TicketEvent.Kind.STATUS, data__to="resolved")
    assert (chat.state, status.body) == ("ended", "The chat ended after the consumer was idle.")


# --- the chat's ticket ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_chats_ticket_is_titled_by_the_consumers_first_words_in_the_chats_language() -> None:
    who = plain_consumer()
    chat, _created = services.start_chat(who.pk, "zh-hans")
    assert Ticket.objects.get(pk=chat.ticket_id).subject == "在线聊天"
    services.consumer_message(who.pk, "zh-hans", "  我的快递\n三天没动了 ")
    services.consumer_message(who.pk, "zh-hans", "还在吗")
    assert Ticket.objects.get(pk=chat.ticket_id).subject == "在线聊天：我的快递 三天没动了"

    other = plain_consumer()
    english, _created = services.start_chat(other.pk, "en")
    services.consumer_message(other.pk, "en", "where is my parcel " * 6)
    subject = Ticket.objects.get(pk=english.ticket_id).subject
    assert subject == "Live chat: " + ("where is my parcel " * 4)[:59] + "…"


@pytest.mark.django_db
def test_numbers_in_a_chats_title_are_masked_for_an_agent(
    make_user: Callable[..., User], client_for: Callable[[User], Any]
) -> None:
    who = plain_consumer()
    chat, _created = services.start_chat(who.pk, "zh-hans")
    services.consumer_message(who.pk, "zh-hans", "我的手机13912345678")
    agent, supervisor = make_user("titled-agent", roles.AGENT), make_user("titled-lead", roles.SUPERVISOR)
    assert client_for(agent).get(f"/api/tickets/{chat.ticket_id}/").json()["subject"] == "在线聊天：我的手机139****5678"
    shown = client_for(supervisor).get(f"/api/tickets/{chat.ticket_id}/").json()["subject"]
    assert shown == "在线聊天：我的手机13912345678"


# --- queries per message on the socket path --------------------------------------------------------


@pytest.mark.django_db
def test_a_consumer_message_the_bot_answers_costs_the_same_few_queries_however_long_the_chat(
    django_assert_num_queries: DjangoAssertNumQueries, django_capture_on_commit_callbacks: Any
) -> None:
    knowledge.reset_searcher()
    knowledge_base()
    who = plain_consumer()
    services.start_chat(who.pk, "zh-hans")
    HandoffPhrase.active_phrases()  # the admin's handoff phrases: read once, then from Redis until one changes
    knowledge.ranker()  # likewise the synonym groups, read when the ranker is built
    # savepoint, the locked chat with its ticket's status, the message, the bot's answer, the chat, release (the
    # articles in the chat's scope, knowledge.scope_ids, are read once, then from Redis until one changes)
    knowledge.scope_ids(None)
    with django_assert_num_queries(7), django_capture_on_commit_callbacks(execute=True):  # + the ticket's title
        services.consumer_message(who.pk, "zh-hans", "发票怎么开")
    with django_assert_num_queries(6), django_capture_on_commit_callbacks(execute=True):
        services.consumer_message(who.pk, "zh-hans", "发票怎么开")
    for i in range(20):
        services.consumer_message(who.pk, "zh-hans", f"发票怎么开 {i}")
    with django_assert_num_queries(6), django_capture_on_commit_callbacks(execute=True):
        services.consumer_message(who.pk, "zh-hans", "发票怎么开")


@pytest.mark.django_db
def test_a_message_the_bot_answers_from_the_knowledge_base_compiles_no_read(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """Its one read, the locked chat with its ticket, is compiled once (core.prepared), not for every message."""
    knowledge.reset_searcher()
    knowledge_base()
    who = plain_consumer()
    services.start_chat(who.pk, "zh-hans")
    services.consumer_message(who.pk, "zh-hans", "发票怎么开")
    compiled: list[str] = []
    as_sql = SQLCompiler.as_sql

    def counted(self: SQLCompiler, *args: Any, **kwargs: Any) -> Any:
        compiled.append(self.query.model.__name__ if self.query.model else "?")
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counted)
    with django_capture_on_commit_callbacks(execute=True):
        event = services.consumer_message(who.pk, "zh-hans", "发票怎么开")
    assert compiled == []
    assert TicketEvent.objects.filter(ticket__chat__consumer=who, pk__gt=event.pk, author_kind="bot").count() == 1


@pytest.mark.django_db
def test_messages_with_an_agent_cost_the_same_few_queries_however_long_the_chat(
    make_user: Callable[..., User],
    django_assert_num_queries: DjangoAssertNumQueries,
    django_capture_on_commit_callbacks: Any,
) -> None:
    agent = make_agent(make_user, "counted")
    chat = held_by(agent)
    desk.agent_message(chat.pk, agent, "first reply")  # opens the ticket and stops the requeue clock
    services.consumer_message(chat.consumer_id, "en", "hello")  # the first words title the ticket (one query more)
    for many in (False, True):
        if many:
            for i in range(20):
                desk.agent_message(chat.pk, agent, f"reply {i}")
                services.consumer_message(chat.consumer_id, "en", f"answer {i}")
        with django_assert_num_queries(9), django_capture_on_commit_callbacks(execute=True):
            desk.agent_message(chat.pk, agent, "a reply")
        # savepoint, the locked chat, the message, the ticket's activity, the chat, release
        with django_assert_num_queries(6), django_capture_on_commit_callbacks(execute=True):
            services.consumer_message(chat.consumer_id, "en", "a question")


@pytest.mark.django_db
def test_the_history_costs_two_queries_for_one_message_or_many(
    make_user: Callable[..., User], django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    agent = make_agent(make_user, "historian")
    chat = held_by(agent)
    with django_assert_num_queries(2):
        few = conversation.visible_messages(chat.consumer_id)
    for i in range(15):
        desk.agent_message(chat.pk, agent, f"reply {i}")
        services.consumer_message(chat.consumer_id, "en", f"answer {i}")
    with django_assert_num_queries(2):
        many = conversation.visible_messages(chat.consumer_id)
    assert len(many) == len(few) + 30
    assert {m["name"] for m in many if m["from"] == "agent"} == {"historian"}


@pytest.mark.django_db
def test_the_consoles_chat_snapshot_costs_the_same_queries_for_more_rows(
    make_user: Callable[..., User], django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    boss = make_agent(make_user, "snapshot-boss", roles.SUPERVISOR)
    chat = held_by(boss)
    consumer, shop = chat.consumer, f.merchant()
    f.order(consumer, shop, "10.00")
    CannedReply.objects.create(title="hello", body="{consumer}, {agent} here about {order} {merchant} {ticket}")
    kinds = list(RiskFlag.Kind)
    RiskFlag.objects.create(consumer=consumer, kind=kinds[0], detected_at=timezone.now())
    desk.agent_message(chat.pk, boss, "one")

    def snapshot() -> dict[str, Any]:
        fresh = User.objects.get(pk=boss.pk)  # a fresh permission cache each time: the same cost
        # merchant staff or not, the chat, its messages, the permissions (2), flags, orders, canned replies
        with django_assert_num_queries(8):
            found = selectors.chat(chat.pk, fresh)
        assert found is not None
        return found

    few = snapshot()
    for i in range(6):
        f.order(consumer, f.merchant(), "20.00")
        CannedReply.objects.create(title=f"reply {i}", body="{consumer} / {merchant}")
        desk.agent_message(chat.pk, boss, f"more {i}")
        desk.agent_message(chat.pk, boss, f"note {i}", internal=True)
    for kind in kinds[1:]:
        RiskFlag.objects.create(consumer=consumer, kind=kind, detected_at=timezone.now())
    many = snapshot()
    assert (len(few["orders"]), len(many["orders"]), len(many["canned"])) == (1, 5, 7)
    assert (len(few["flags"]), len(many["flags"])) == (1, len(kinds))
    assert len(many["messages"]) == len(few["messages"]) + 12


@pytest.mark.django_db
def test_the_queue_costs_one_query_for_one_waiting_chat_or_many(
    make_user: Callable[..., User], django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    agent = make_agent(make_user, "queue-reader")
    waiting()
    with django_assert_num_queries(2):  # whether the reader is merchant staff (once per console), the queue
        assert len(selectors.queue(agent)) == 1
    agent = User.objects.get(pk=agent.pk)
    other = Department.objects.create(code="chat-test-q", name="Test queue")
    for i in range(8):
        chat = waiting(tier=CreditTier.objects.get(name="88VIP" if i % 2 else "普通会员"))
        if i % 3 == 0:
            Ticket.objects.filter(pk=chat.ticket_id).update(department=other)
    with django_assert_num_queries(2):
        items = selectors.queue(agent)
    assert len(items) == 9
    assert sorted(i["position"] for i in items if i["department"]["id"] == other.pk) == [1, 2, 3]


@pytest.mark.django_db
def test_accepting_a_chat_that_does_not_exist_is_not_found(make_user: Any) -> None:
    with pytest.raises(conversation.ChatError) as refused:
        desk.accept_chat(999_999, make_user("ghost-hunter"))
    assert refused.value.error_code == "not_found"
