"""Tickets: the transition table, the timeline, assignment, disputes and canned replies."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from config.asgi import application
from crm.models import Order
from tests.crm import factories as f
from tickets import services
from tickets.models import AgentProfile, CannedReply, Department, Ticket, TicketEvent

S = Ticket.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def dept() -> Department:
    return Department.objects.create(code="after-sales", name="售后")


@pytest.fixture
def ticket(dept: Department) -> Ticket:
    who = f.consumer(display_name="王小明")
    return services.open_ticket(who, subject="快递三天没动", department=dept, order=f.order(who, f.merchant()),
                                body="我的快递三天没动了")  # fmt: skip


def kinds(ticket: Ticket) -> list[str]:
    return list(TicketEvent.objects.filter(ticket=ticket).order_by("id").values_list("kind", flat=True))


def test_opening_a_ticket_copies_merchant_and_tier_and_starts_the_timeline(ticket: Ticket) -> None:
    assert ticket.merchant_id == ticket.order.merchant_id  # type: ignore[union-attr]
    assert ticket.status == S.NEW
    assert kinds(ticket) == ["created", "message"]


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ([S.OPEN, S.PENDING, S.OPEN, S.RESOLVED, S.CLOSED], True),
        ([S.RESOLVED, S.OPEN], True),
        ([S.CLOSED], False),
        ([S.OPEN, S.NEW], False),
        ([S.RESOLVED, S.CLOSED, S.OPEN], False),
        ([S.PENDING, S.CLOSED], False),
    ],
)
def test_transition_table(ticket: Ticket, agent: User, path: list[str], ok: bool) -> None:
    try:
        for to in path:
            ticket = services.transition_ticket(ticket, to, by=agent)
    except ValidationError as error:
        assert not ok
        assert error.message_dict["status"][0]  # the message names both statuses, in the user's language
    else:
        assert ok and ticket.status == path[-1]
    # Every change that happened left a timeline entry.
    assert TicketEvent.objects.filter(ticket=ticket, kind="status").count() == (len(path) if ok else len(path) - 1)


def test_unknown_status_is_refused(ticket: Ticket) -> None:
    with pytest.raises(ValidationError):
        services.transition_ticket(ticket, "exploded")
    ticket.refresh_from_db()
    assert ticket.status == S.NEW


def test_first_agent_reply_opens_the_ticket_and_stops_the_first_response_clock(ticket: Ticket, agent: User) -> None:
    services.add_message(ticket, body="您好，我帮您查一下", author_kind="agent", author=agent)
    ticket.refresh_from_db()
    assert ticket.status == S.OPEN and ticket.first_response_at is not None


def test_internal_note_does_not_count_as_a_response(ticket: Ticket, agent: User) -> None:
    services.add_message(ticket, body="查物流", author_kind="agent", author=agent, internal=True)
    ticket.refresh_from_db()
    assert ticket.first_response_at is None and kinds(ticket)[-1] == "note"


def test_consumer_reply_to_a_pending_ticket_reopens_it(ticket: Ticket, agent: User) -> None:
    services.transition_ticket(ticket, S.PENDING, by=agent)
    services.add_message(ticket, body="还没收到", author_kind="consumer")
    ticket.refresh_from_db()
    assert ticket.status == S.OPEN and kinds(ticket)[-2:] == ["message", "status"]


def test_empty_message_and_closed_ticket_are_refused(ticket: Ticket, agent: User) -> None:
    with pytest.raises(ValidationError) as error:
        services.add_message(ticket, body="  ", author_kind="agent", author=agent)
    assert "body" in error.value.message_dict
    services.transition_ticket(ticket, S.RESOLVED, by=agent)
    services.transition_ticket(ticket, S.CLOSED, by=agent)
    with pytest.raises(ValidationError):
        services.add_message(ticket, body="再问一下", author_kind="consumer")


def test_open_ticket_rejects_an_order_of_another_consumer(dept: Department) -> None:
    with pytest.raises(ValidationError) as error:
        services.open_ticket(f.consumer(), subject="x", department=dept, order=f.order(f.consumer(), f.merchant()))
    assert "order" in error.value.message_dict


def make_agent(make_user: Any, name: str, dept: Department, *, available: bool = True, capacity: int = 2) -> User:
    user = make_user(name, "agent")
    AgentProfile.objects.create(user=user, department=dept, available=available, capacity=capacity)
    return user


def owner(ticket: Ticket | None) -> str | None:
    if ticket is None:
        return None
    assert ticket.assignee is not None  # auto_assign returns a ticket only once it has assigned it
    return ticket.assignee.username


def test_auto_assign_picks_the_least_loaded_available_agent_under_capacity(dept: Department, make_user: Any) -> None:
    busy, _idle, away = (make_agent(make_user, n, dept, available=n != "away") for n in ("busy", "idle", "away"))
    tickets = [services.open_ticket(f.consumer(), subject=f"t{i}", department=dept) for i in range(5)]
    services.assign_ticket(tickets[0], busy)
    got = [services.auto_assign(t) for t in tickets[1:]]
    owners = [owner(t) for t in got]
    # idle takes one, then they are level (1 each) and the lower profile id wins; nobody exceeds 2; away gets none
    assert owners == ["idle", "busy", "idle", None]
    assert not Ticket.objects.filter(assignee=away).exists()


def test_assignment_and_transfer_leave_timeline_entries(ticket: Ticket, agent: User) -> None:
    other = Department.objects.create(code="refunds", name="退款")
    services.assign_ticket(ticket, agent, by=agent)
    services.transfer_ticket(ticket, other, by=agent)
    ticket.refresh_from_db()
    assert (ticket.department, ticket.assignee) == (other, None)
    assert kinds(ticket)[-2:] == ["assignment", "assignment"]


def test_set_availability(agent: User) -> None:
    assert services.set_availability(agent, True).available is True
    assert services.set_availability(agent, False).available is False


def test_escalation_raises_priority_once(ticket: Ticket) -> None:
    services.escalate_ticket(ticket, reason="sla_breached")
    services.escalate_ticket(ticket, reason="sla_breached")
    ticket.refresh_from_db()
    assert ticket.priority == Ticket.Priority.HIGH and ticket.escalated_at is not None
    assert kinds(ticket).count("priority") == 1


def test_resolving_a_dispute_writes_its_outcome_into_crm(dept: Department, agent: User) -> None:
    who = f.consumer()
    order = f.order(who, f.merchant())
    dispute = services.open_ticket(who, subject="维权", department=dept, kind="dispute", order=order)
    services.resolve_dispute(dispute, "merchant_won", by=agent)
    order.refresh_from_db()
    dispute.refresh_from_db()
    assert (order.dispute, dispute.status) == (Order.Dispute.MERCHANT_WON, S.RESOLVED)
    with pytest.raises(ValidationError):
        services.resolve_dispute(services.open_ticket(who, subject="问", department=dept), "merchant_won")


def test_canned_reply_placeholders(ticket: Ticket, agent: User) -> None:
    agent.first_name = "小王"
    reply = CannedReply(title="t", body="{consumer}您好，我是{agent}，订单{order}（工单{ticket}）{unknown} {")
    text = services.render_canned_reply(reply, ticket, agent)
    assert text == f"王小明您好，我是小王，订单{ticket.order.order_no}（工单#{ticket.pk}）{{unknown}} {{"  # type: ignore[union-attr]


def test_consumer_reply_to_a_resolved_ticket_reopens_it_with_a_fresh_clock(ticket: Ticket, agent: User) -> None:
    services.transition_ticket(ticket, S.RESOLVED, by=agent)
    services.add_message(ticket, body="还是不行", author_kind="consumer")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolved_at) == (S.OPEN, None)
    assert ticket.sla_state != "met"


def test_a_dispute_cannot_be_resolved_without_its_outcome(dept: Department, agent: User) -> None:
    who = f.consumer()
    dispute = services.open_ticket(
        who, subject="维权", department=dept, kind="dispute", order=f.order(who, f.merchant())
    )
    with pytest.raises(ValidationError) as error:
        services.transition_ticket(dispute, S.RESOLVED, by=agent)
    assert "status" in error.value.message_dict


def test_closed_tickets_are_not_transferred_or_escalated(ticket: Ticket, agent: User) -> None:
    services.transition_ticket(ticket, S.RESOLVED, by=agent)
    services.transition_ticket(ticket, S.CLOSED, by=agent)
    with pytest.raises(ValidationError):
        services.transfer_ticket(ticket, Department.objects.create(code="x", name="x"), by=agent)
    with pytest.raises(ValidationError):
        services.escalate_ticket(ticket, reason="agent", by=agent)


def test_first_agent_reply_records_the_status_change(ticket: Ticket, agent: User) -> None:
    services.add_message(ticket, body="您好", author_kind="agent", author=agent)
    assert kinds(ticket)[-2:] == ["message", "status"]


def test_auto_assign_leaves_an_assigned_ticket_alone(
    ticket: Ticket, agent: User, make_user: Any, dept: Department
) -> None:
    make_agent(make_user, "free", dept)
    services.assign_ticket(ticket, agent)
    assert services.auto_assign(ticket) is None
    ticket.refresh_from_db()
    assert ticket.assignee == agent


def test_the_sla_check_escalates_a_breached_ticket_and_writes_it_on_the_timeline(dept: Department) -> None:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from tickets import escalation
    from tickets.models import SLAPolicy

    SLAPolicy.objects.create(name="快", first_response_minutes=30, resolution_minutes=240)
    opened = datetime(2026, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    ticket = services.open_ticket(f.consumer(), subject="急", department=dept, now=opened)
    assert ticket.first_response_due == opened + timedelta(minutes=30)
    counts = escalation.check_sla(now=opened + timedelta(hours=1))
    ticket.refresh_from_db()
    assert counts["breached"] == 1 and counts["escalated"] == 1
    assert (ticket.sla_state, ticket.priority) == ("breached", Ticket.Priority.HIGH)
    sla_events = TicketEvent.objects.filter(ticket=ticket, kind="sla").values_list("data", flat=True)
    assert list(sla_events) == [{"from": "at_risk", "to": "breached"}]  # 30 minutes is at risk from the start
    assert escalation.check_sla(now=opened + timedelta(hours=2))["escalated"] == 0  # once only


@pytest.mark.django_db(transaction=True)
async def test_an_escalation_is_announced_to_supervisors_not_agents(make_user: Any) -> None:
    def socket_of(username: str, role: str) -> WebsocketCommunicator:
        client = Client()
        client.force_login(make_user(username, role))
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        headers = [(b"origin", b"http://127.0.0.1"), (b"cookie", cookie.encode())]
        return WebsocketCommunicator(application, "/ws/events/", headers=headers)

    def escalate() -> int:
        who = f.consumer()
        dept = Department.objects.create(code="esc", name="升级")
        ticket = services.open_ticket(who, subject="投诉", department=dept, route=False)
        services.escalate_ticket(ticket, reason="agent")
        return ticket.pk

    supervisor = await sync_to_async(socket_of)("sup-esc", "supervisor")
    agent = await sync_to_async(socket_of)("agent-esc", "agent")
    assert (await supervisor.connect())[0] and (await agent.connect())[0]
    await supervisor.receive_json_from()  # hello
    await agent.receive_json_from()
    pk = await sync_to_async(escalate)()
    assert await supervisor.receive_json_from(timeout=5) == {
        "type": "ticket.escalated",
        "data": {"ticket": pk, "reason": "agent"},
    }
    assert await agent.receive_nothing(timeout=0.3)
    await supervisor.disconnect()
    await agent.disconnect()
