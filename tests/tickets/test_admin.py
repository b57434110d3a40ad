"""The agent's desk in the admin: the queue, the ticket page and its actions, tenancy, query counts."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import roles
from crm.models import CreditTier, RiskFlag
from merchants.models import MerchantMembership
from tests.crm import factories as f
from tickets import refunds, services
from tickets.models import AgentProfile, CannedReply, Department, RefundRequest, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def dept() -> Department:
    return Department.objects.create(code="after-sales", name="售后")


def open_tickets(dept: Department, n: int, **kw: Any) -> list[Ticket]:
    return [services.open_ticket(f.consumer(), subject=f"问题{i}", department=dept, **kw) for i in range(n)]


def test_default_view_is_my_open_tickets(dept: Department, agent: User, client_for: Callable[[User], Client]) -> None:
    mine, theirs, done = open_tickets(dept, 3)
    services.assign_ticket(mine, agent)
    services.assign_ticket(done, agent)
    services.transition_ticket(done, "resolved")
    html = client_for(agent).get("/admin/tickets/ticket/").content.decode()
    assert f"/admin/tickets/ticket/{mine.pk}/change/" in html
    assert f"/admin/tickets/ticket/{theirs.pk}/change/" not in html
    assert f"/admin/tickets/ticket/{done.pk}/change/" not in html
    everyone = client_for(agent).get("/admin/tickets/ticket/?queue=open").content.decode()
    assert f"/admin/tickets/ticket/{theirs.pk}/change/" in everyone


@pytest.mark.parametrize("query", ["", "?queue=open", "?queue=open&status__exact=new", "?queue=all&sla_state__exact=ok",
                                   "?queue=all&department__id__exact=1"])  # fmt: skip
def test_changelist_costs_the_same_queries_whatever_the_page_size(
    dept: Department, agent: User, client_for: Callable[[User], Client], query: str
) -> None:
    client = client_for(agent)
    for t in open_tickets(dept, 2):
        services.assign_ticket(t, agent)
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"/admin/tickets/ticket/{query}").status_code == 200
    for t in open_tickets(dept, 40, order=None):
        services.assign_ticket(t, agent)
    with CaptureQueriesContext(connection) as many:
        assert client.get(f"/admin/tickets/ticket/{query}").status_code == 200
    assert len(few) == len(many)


def test_ticket_page_shows_timeline_consumer_order_and_canned_replies(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    who = f.consumer(display_name="王小明", phone="13912345678", tier=CreditTier.objects.get(name="88VIP"))
    ticket = services.open_ticket(who, subject="快递三天没动", department=dept, order=f.order(who, f.merchant()),
                                  body="我的快递三天没动了")  # fmt: skip
    CannedReply.objects.create(title="问候", body="{consumer}您好，我是{agent}")
    html = client_for(agent).get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    for expected in ("我的快递三天没动了", "88VIP", "139****5678", "王小明您好，我是agent1", ticket.order.order_no):  # type: ignore[union-attr]
        assert expected in html, expected
    assert "13912345678" not in html


def test_agent_replies_with_a_canned_reply_and_refunds_instantly_from_the_ticket(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    who = f.consumer(tier=CreditTier.objects.get(name="88VIP"))
    order = f.order(who, f.merchant(), "199.00", status="delivered")
    ticket = services.open_ticket(who, subject="退款", department=dept, order=order, kind="refund")
    client = client_for(agent)
    url = f"/admin/tickets/ticket/{ticket.pk}/act/"
    assert client.post(url, {"action": "assign_me"}).status_code == 302
    client.post(url, {"action": "reply", "body": "您好，马上为您处理"})
    client.post(url, {"action": "refund", "amount": "199.00", "reason": "破损", "key": "ticket-key-1"})
    client.post(url, {"action": "refund", "amount": "199.00", "reason": "破损", "key": "ticket-key-1"})  # double click
    client.post(url, {"action": "status", "status": "resolved"})
    ticket.refresh_from_db()
    order.refresh_from_db()
    assert (ticket.assignee, ticket.status, ticket.first_response_at is not None) == (agent, "resolved", True)
    assert (order.refunded_amount, RefundRequest.objects.get().decision) == (Decimal("199.00"), "instant")
    kinds = list(TicketEvent.objects.filter(ticket=ticket).order_by("id").values_list("kind", flat=True))
    assert kinds == ["created", "assignment", "message", "status", "refund", "status", "message"]  # + the survey link


def test_each_button_calls_its_service_and_says_what_happened(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    (ticket,) = open_tickets(dept, 1)
    client = client_for(agent)
    url = f"/admin/tickets/ticket/{ticket.pk}/act/"

    def press(**data: str) -> tuple[str, str]:
        response = client.post(url, data, follow=True, headers={"Accept-Language": "en"})
        (message,) = list(response.context["messages"])
        return message.level_tag, str(message)

    assert press(action="note", body="  内部\x00备注 ") == ("success", "Note added.")
    assert press(action="reply", body="您好") == ("success", "Reply sent.")
    assert press(action="escalate") == ("success", "Escalated.")
    assert press(action="assign_me") == ("success", "The ticket is yours.")
    assert press(action="status", status="pending", note="等顾客回复") == ("success", "Status changed.")
    assert press(action="transfer", department="") == ("error", "Choose a department.")
    assert press(action="nonsense") == ("error", "Unknown action.")
    assert client.post(url, {"action": "refund", "amount": "1", "key": "k"}).status_code == 403  # no order to refund
    note, reply = TicketEvent.objects.filter(ticket=ticket, kind__in=["note", "message"]).order_by("id")
    assert (note.kind, note.body, reply.kind, reply.body) == ("note", "内部备注", "message", "您好")
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.status, ticket.escalated_at is not None) == (agent, "pending", True)


def test_restricted_consumer_refund_goes_to_the_manual_queue(
    dept: Department, agent: User, supervisor: User, client_for: Callable[[User], Client]
) -> None:
    who = f.consumer(tier=CreditTier.objects.get(name="受限"))
    order = f.order(who, f.merchant(), "80.00")
    ticket = services.open_ticket(who, subject="退款", department=dept, order=order)
    client_for(agent).post(f"/admin/tickets/ticket/{ticket.pk}/act/", {"action": "refund", "amount": "80", "key": "k"})
    refund = RefundRequest.objects.get()
    assert refund.decision == "manual"
    queue = client_for(supervisor).get("/admin/tickets/refundrequest/?decision__exact=manual").content.decode()
    assert f"/admin/tickets/refundrequest/{refund.pk}/change/" in queue
    # Agents may not decide it; supervisors may.
    client_for(agent).post("/admin/tickets/refundrequest/", {"action": "approve", "_selected_action": [refund.pk]})
    refund.refresh_from_db()
    assert refund.decision == "manual"
    client_for(supervisor).post("/admin/tickets/refundrequest/", {"action": "approve", "_selected_action": [refund.pk]})
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.decision == "approved" and order.refunded_amount == Decimal("80.00")


def test_bad_actions_are_refused_with_a_message(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    (ticket,) = open_tickets(dept, 1)
    client = client_for(agent)
    url = f"/admin/tickets/ticket/{ticket.pk}/act/"
    for data in ({"action": "status", "status": "closed"}, {"action": "reply", "body": ""}, {"action": "nonsense"},
                 {"action": "transfer", "department": "999"}):  # fmt: skip
        response = client.post(url, data, follow=True)
        assert response.status_code == 200
        assert list(response.context["messages"])[-1].level_tag == "error", data
    assert client.get(url).status_code == 403  # only POST
    ticket.refresh_from_db()
    assert ticket.status == "new"


def test_business_users_cannot_see_or_work_tickets(dept: Department, make_user: Any, client_for: Any) -> None:
    (ticket,) = open_tickets(dept, 1)
    client = client_for(make_user("biz", roles.BUSINESS))
    assert client.get("/admin/tickets/ticket/").status_code == 403
    assert client.post(f"/admin/tickets/ticket/{ticket.pk}/act/", {"action": "assign_me"}).status_code in (403, 404)
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_merchant_staff_see_and_work_only_their_merchants_tickets(
    dept: Department, make_user: Any, client_for: Callable[[User], Client]
) -> None:
    shop_a, shop_b = f.merchant(), f.merchant()
    staff = make_user("staff-a", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=shop_a)
    tickets = {}
    for key, shop in (("a", shop_a), ("b", shop_b)):
        who = f.consumer()
        tickets[key] = services.open_ticket(who, subject=f"店铺{key}", department=dept, order=f.order(who, shop))
    client = client_for(staff)
    listing = client.get("/admin/tickets/ticket/?queue=all").content.decode()
    assert f"/admin/tickets/ticket/{tickets['a'].pk}/change/" in listing
    assert f"/admin/tickets/ticket/{tickets['b'].pk}/change/" not in listing
    assert client.get(f"/admin/tickets/ticket/{tickets['a'].pk}/change/").status_code == 200
    assert client.get(f"/admin/tickets/ticket/{tickets['b'].pk}/change/").status_code == 404
    assert (
        client.post(f"/admin/tickets/ticket/{tickets['b'].pk}/act/", {"action": "reply", "body": "hi"}).status_code
        == 404
    )
    assert (
        client.post(f"/admin/tickets/ticket/{tickets['a'].pk}/act/", {"action": "reply", "body": "您好"}).status_code
        == 302
    )
    assert TicketEvent.objects.filter(ticket=tickets["b"], kind="message").count() == 0
    # No refunds from merchant staff: they lack the permission.
    client.post(f"/admin/tickets/ticket/{tickets['a'].pk}/act/", {"action": "refund", "amount": "1", "key": "x"})
    assert not RefundRequest.objects.exists()


@pytest.mark.parametrize("amount", ["abc", "NaN", "1e20", "0.005", "-5", "Infinity"])
def test_bad_refund_amounts_on_the_ticket_page_are_refused(
    dept: Department, agent: User, client_for: Callable[[User], Client], amount: str
) -> None:
    who = f.consumer(tier=CreditTier.objects.get(name="88VIP"))
    ticket = services.open_ticket(who, subject="退款", department=dept, order=f.order(who, f.merchant(), "100.00"))
    response = client_for(agent).post(
        f"/admin/tickets/ticket/{ticket.pk}/act/",
        {"action": "refund", "amount": amount, "key": f"k-{amount}"},
        follow=True,
    )
    assert response.status_code == 200
    assert list(response.context["messages"])[-1].level_tag == "error"
    assert not RefundRequest.objects.exists()


def test_merchant_staff_cannot_judge_their_own_dispute_nor_read_internal_notes(
    dept: Department, agent: User, make_user: Any, client_for: Callable[[User], Client]
) -> None:
    shop = f.merchant()
    staff = make_user("staff-d", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=shop)
    who = f.consumer()
    dispute = services.open_ticket(who, subject="维权", department=dept, kind="dispute", order=f.order(who, shop))
    services.add_message(dispute, body="内部：商家有前科", author_kind="agent", author=agent, internal=True)
    client = client_for(staff)
    page = client.get(f"/admin/tickets/ticket/{dispute.pk}/change/").content.decode()
    assert "内部：商家有前科" not in page and 'value="merchant_won"' not in page
    response = client.post(f"/admin/tickets/ticket/{dispute.pk}/act/", {"action": "dispute", "outcome": "merchant_won"})
    assert response.status_code == 403
    dispute.refresh_from_db()
    assert dispute.status == "new"


def test_agent_sets_themself_available_and_away(agent: User, client_for: Callable[[User], Client]) -> None:
    client = client_for(agent)
    client.post("/admin/tickets/ticket/availability/", {"available": "1"})
    assert AgentProfile.objects.get(user=agent).available is True
    assert "Available" in client.get("/admin/tickets/ticket/", headers={"accept-language": "en"}).content.decode()
    client.post("/admin/tickets/ticket/availability/", {"available": "0"})
    assert AgentProfile.objects.get(user=agent).available is False
    assert client.get("/admin/tickets/ticket/availability/").status_code == 403


def test_the_queue_shows_availability_as_two_states_with_the_current_one_pressed(
    agent: User, client_for: Callable[[User], Client]
) -> None:
    # Not one button named after the state it leaves ("AVAILABLE — GO AWAY"): both states, each a button that sets it.
    client = client_for(agent)
    client.post("/admin/tickets/ticket/availability/", {"available": "1"})
    page = client.get("/admin/tickets/ticket/", headers={"accept-language": "zh-hans"}).content.decode()
    switch = page[page.index('<span class="switch"') : page.index("</form>", page.index('<span class="switch"'))]
    assert "接单状态" in switch and "go away" not in page.lower() and "设为离开" not in page
    assert 'name="available" value="1" class="available" aria-pressed="true" disabled>● 可接单</button>' in switch
    assert 'name="available" value="0" class="away" aria-pressed="false">○ 离开</button>' in switch
    client.post("/admin/tickets/ticket/availability/", {"available": "0"})
    page = client.get("/admin/tickets/ticket/", headers={"accept-language": "en"}).content.decode()
    assert 'value="1" class="available" aria-pressed="false">● Available</button>' in page
    assert 'value="0" class="away" aria-pressed="true" disabled>○ Away</button>' in page
    assert "Taking work" in page


def test_ticket_page_costs_the_same_queries_however_long_its_history(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    who = f.consumer(tier=CreditTier.objects.get(name="受限"))
    order = f.order(who, f.merchant(), "500.00")
    ticket = services.open_ticket(who, subject="退款", department=dept, order=order, body="第一条")
    client = client_for(agent)
    url = f"/admin/tickets/ticket/{ticket.pk}/change/"

    def grow(n: int, flags: list[str]) -> None:
        for i in range(n):
            author = agent if i % 2 else make_author(f"{n}-{i}")
            services.add_message(ticket, body=f"消息{i}", author_kind="agent", author=author, internal=i % 3 == 0)
            CannedReply.objects.create(title=f"回复{i}", body="{consumer}您好 {order}", department=dept)
            refunds.request_refund(order, Decimal("1.00"), "x", key=f"page-{n}-{i}", requested_by=agent, ticket=ticket)
        for kind in flags:  # one live flag of each kind at most
            RiskFlag.objects.create(consumer=who, kind=kind, detected_at=timezone.now(), evidence={})

    def make_author(i: str) -> User:
        return User.objects.create_user(f"author-{ticket.pk}-{i}", is_staff=True)

    grow(1, ["extortion"])
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    grow(12, ["negative_burst", "negative_then_refund", "duplicate_text"])
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.context["events"]) > 25 and len(response.context["canned"]) == 13
    assert len(response.context["flags"]) == 4 and len(response.context["refunds"]) == 13
    assert len(few) == len(many), [q["sql"][:120] for q in many.captured_queries]


def test_agent_transfers_a_ticket_to_another_department(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    (ticket,) = open_tickets(dept, 1)
    refunds_dept = Department.objects.create(code="refunds", name="退款")
    client = client_for(agent)
    assert (
        f'<option value="{refunds_dept.pk}">'
        in client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    )
    client.post(f"/admin/tickets/ticket/{ticket.pk}/act/", {"action": "transfer", "department": refunds_dept.pk})
    ticket.refresh_from_db()
    assert ticket.department == refunds_dept


def test_merchant_staff_are_offered_no_department_and_cannot_transfer(
    dept: Department, make_user: Any, client_for: Callable[[User], Client]
) -> None:
    shop = f.merchant()
    staff = make_user("staff-t", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=shop)
    other = Department.objects.create(code="complaints", name="投诉内部组")
    who = f.consumer()
    ticket = services.open_ticket(who, subject="店铺", department=dept, order=f.order(who, shop))
    client = client_for(staff)
    page = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "投诉内部组" not in page and 'value="transfer"' not in page
    response = client.post(f"/admin/tickets/ticket/{ticket.pk}/act/", {"action": "transfer", "department": other.pk},
                           follow=True)  # fmt: skip
    assert list(response.context["messages"])[-1].level_tag == "error"
    ticket.refresh_from_db()
    assert ticket.department == dept


@pytest.mark.parametrize("department", ["abc", "1.5", "-1", "99999999999999999999", "\x00"])
def test_malformed_department_ids_are_refused_with_a_message(
    dept: Department, agent: User, client_for: Callable[[User], Client], department: str
) -> None:
    (ticket,) = open_tickets(dept, 1)
    response = client_for(agent).post(
        f"/admin/tickets/ticket/{ticket.pk}/act/", {"action": "transfer", "department": department}, follow=True
    )
    assert response.status_code == 200
    assert list(response.context["messages"])[-1].level_tag == "error"
    ticket.refresh_from_db()
    assert ticket.department == dept


@pytest.mark.parametrize("object_id", ["abc", "99999999999999999999", "0"])
def test_malformed_or_unknown_ticket_ids_are_not_found(
    agent: User, client_for: Callable[[User], Client], object_id: str
) -> None:
    assert client_for(agent).get(f"/admin/tickets/ticket/{object_id}/change/").status_code == 404


def test_merchant_staff_and_anonymous_users_cannot_set_availability(
    make_user: Any, client_for: Callable[[User], Client]
) -> None:
    staff = make_user("staff-v", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=f.merchant())
    assert client_for(staff).post("/admin/tickets/ticket/availability/", {"available": "1"}).status_code == 403
    anonymous = Client().post("/admin/tickets/ticket/availability/", {"available": "1"})
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert not AgentProfile.objects.exists()


# The refund add page: "refund an order" without a ticket ------------------------------------------


def refund_form(order: Any, amount: str, key: str = "add-page-key") -> dict[str, Any]:
    return {"order": order.pk, "amount": amount, "reason": "破损", "idempotency_key": key}


def test_agent_refunds_an_order_from_the_add_page_once_however_often_the_form_is_sent(
    agent: User, client_for: Callable[[User], Client]
) -> None:
    who = f.consumer(tier=CreditTier.objects.get(name="88VIP"))
    order = f.order(who, f.merchant(), "120.00", status="delivered")
    client = client_for(agent)
    assert client.get("/admin/tickets/refundrequest/add/").status_code == 200
    for _attempt in range(2):
        response = client.post("/admin/tickets/refundrequest/add/", refund_form(order, "120.00"))
        assert response.status_code == 302, response.context["adminform"].form.errors
    order.refresh_from_db()
    refund = RefundRequest.objects.get()
    assert (refund.decision, refund.requested_by, order.refunded_amount) == ("instant", agent, Decimal("120.00"))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "1.005"}, "amount"),
        ({"order": "999999"}, "order"),
        ({"order": ""}, "order"),
        ({"reason": ""}, "reason"),
    ],
)
def test_refund_add_page_with_bad_input_names_the_field(
    agent: User, client_for: Callable[[User], Client], data: dict[str, str], field: str
) -> None:
    order = f.order(f.consumer(), f.merchant(), "50.00")
    response = client_for(agent).post("/admin/tickets/refundrequest/add/", {**refund_form(order, "10.00"), **data})
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not RefundRequest.objects.exists()


def test_refund_add_page_refuses_a_form_reused_for_another_amount(
    agent: User, client_for: Callable[[User], Client]
) -> None:
    who = f.consumer(tier=CreditTier.objects.get(name="88VIP"))
    order = f.order(who, f.merchant(), "120.00", status="delivered")
    client = client_for(agent)
    assert client.post("/admin/tickets/refundrequest/add/", refund_form(order, "20.00")).status_code == 302
    response = client.post("/admin/tickets/refundrequest/add/", refund_form(order, "30.00"))
    assert response.status_code == 200 and response.context["adminform"].form.non_field_errors()
    assert list(RefundRequest.objects.values_list("amount", flat=True)) == [Decimal("20.00")]


def test_merchant_staff_and_business_users_cannot_refund_from_the_add_page(
    make_user: Any, client_for: Callable[[User], Client]
) -> None:
    shop = f.merchant()
    staff = make_user("staff-r", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=shop)
    order = f.order(f.consumer(tier=CreditTier.objects.get(name="88VIP")), shop, "20.00", status="delivered")
    for user in (staff, make_user("biz-r", roles.BUSINESS)):
        client = client_for(user)
        assert client.get("/admin/tickets/refundrequest/add/").status_code == 403
        assert client.post("/admin/tickets/refundrequest/add/", refund_form(order, "20.00")).status_code == 403
    assert not RefundRequest.objects.exists()


def test_reviewing_a_decided_refund_warns_with_its_decision_in_words(
    supervisor: User, client_for: Callable[[User], Client]
) -> None:
    who = f.consumer(tier=CreditTier.objects.get(name="88VIP"))
    order = f.order(who, f.merchant(), "20.00", status="delivered")
    refund = refunds.request_refund(order, Decimal("20.00"), "x", key="decided")
    response = client_for(supervisor).post(
        "/admin/tickets/refundrequest/?decision=all",
        {"action": "approve", "_selected_action": [refund.pk]},
        headers={"accept-language": "en"},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert f"Refund #{refund.pk} of ¥20.00 (Refunded instantly): This refund request is already decided." in texts
    refund.refresh_from_db()
    assert refund.decision == "instant"


def test_the_merchant_code_filter_finds_one_merchants_tickets_and_survives_a_nul(
    dept: Department, agent: User, client_for: Callable[[User], Client]
) -> None:
    shop = f.merchant("SHOP-F")
    who = f.consumer()
    theirs = services.open_ticket(who, subject="店铺", department=dept, order=f.order(who, shop))
    (other,) = open_tickets(dept, 1)
    client = client_for(agent)
    html = client.get("/admin/tickets/ticket/?queue=all&merchant_code=SHOP-F").content.decode()
    assert f"/admin/tickets/ticket/{theirs.pk}/change/" in html
    assert f"/admin/tickets/ticket/{other.pk}/change/" not in html
    # A NUL in a query parameter is refused before any filter reads it (core.middleware), not a 500.
    response = client.get("/admin/tickets/ticket/?queue=all&merchant_code=SHOP%00F")
    assert response.status_code == 400


def test_the_agent_profile_list_names_agents_as_the_pages_do_not_by_username(
    supervisor: User, agent: User, client_for: Callable[[User], Client]
) -> None:
    User.objects.filter(pk=agent.pk).update(first_name="小王")
    AgentProfile.objects.update_or_create(user=agent, defaults={"available": True})
    page = client_for(supervisor).get("/admin/tickets/agentprofile/").content.decode()
    assert re.findall(r'<th class="field-user_name"><a href="[^"]+">([^<]+)</a></th>', page) == ["小王"]


def test_the_agent_profile_list_costs_the_same_queries_for_one_agent_or_five(
    supervisor: User, make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    client = client_for(supervisor)
    AgentProfile.objects.update_or_create(user=make_user("counted-0", roles.AGENT))
    client.get("/admin/tickets/agentprofile/")
    with CaptureQueriesContext(connection) as one:
        client.get("/admin/tickets/agentprofile/")
    for n in range(1, 5):
        AgentProfile.objects.update_or_create(user=make_user(f"counted-{n}", roles.AGENT))
    with CaptureQueriesContext(connection) as five:
        page = client.get("/admin/tickets/agentprofile/").content.decode()
    assert page.count('class="field-user_name"') == 5
    assert len(five) == len(one)
