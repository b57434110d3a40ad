"""Opening a ticket by hand (a phone call) and giving a ticket to a named agent, in the admin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from core import roles
from merchants.models import MerchantMembership
from tests.crm import factories as f
from tickets import services
from tickets.models import AgentProfile, Department, Ticket, TicketEvent

pytestmark = pytest.mark.django_db
EN = {"Accept-Language": "en"}


@pytest.fixture
def dept() -> Department:
    return Department.objects.create(code="after-sales", name="售后")


def call(dept: Department, **data: Any) -> dict[str, Any]:
    return {"subject": "来电：耳机没声音", "kind": "refund", "channel": "phone", "priority": "3",
            "department": dept.pk, "order": "", "body": "顾客来电说左耳没声音", **data}  # fmt: skip


@pytest.mark.parametrize("role", [roles.AGENT, roles.SUPERVISOR])
def test_an_agent_or_supervisor_opens_a_ticket_for_a_phone_call_by_the_callers_phone(
    dept: Department, make_user: Callable[..., User], client_for: Callable[[User], Client], role: str
) -> None:
    user = make_user(f"u-{role}", role)
    caller = f.consumer(phone="13700002222")
    order = f.order(caller, f.merchant())
    client = client_for(user)
    assert client.get("/admin/tickets/ticket/add/").status_code == 200
    response = client.post("/admin/tickets/ticket/add/", call(dept, consumer="13700002222", order=order.order_no),
                           follow=True, headers=EN)  # fmt: skip
    ticket = Ticket.objects.get()
    assert response.redirect_chain == [(f"/admin/tickets/ticket/{ticket.pk}/change/", 302)]
    assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [
        ("success", f"Ticket #{ticket.pk} opened.")
    ]
    assert (ticket.consumer, ticket.order, ticket.merchant, ticket.channel, ticket.kind, ticket.priority) == (
        caller, order, order.merchant, "phone", "refund", 3,
    )  # fmt: skip
    events = list(ticket.events.order_by("id").values_list("kind", "author_kind", "author", "body"))
    assert events[:2] == [("created", "agent", user.pk, ""), ("message", "agent", user.pk, "顾客来电说左耳没声音")]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [({"consumer": "nobody"}, "consumer", "No consumer has this external id or phone number."),
     ({"consumer": "13700003333"}, "consumer", "Several consumers have this phone number: enter the external id."),
     ({"order": "another's"}, "order", "This consumer has no order with this number."),
     ({"subject": ""}, "subject", "This field is required.")],
)  # fmt: skip
def test_a_bad_new_ticket_names_the_field_and_opens_nothing(
    dept: Department, agent: User, client_for: Callable[[User], Client], data: dict[str, str], field: str,
    message: str,
) -> None:  # fmt: skip
    him = f.consumer(external_id="C-1")
    f.consumer(phone="13700003333"), f.consumer(phone="13700003333")
    theirs = f.order(f.consumer(), f.merchant())
    posted = call(dept, **{"consumer": him.external_id, **data})
    posted["order"] = theirs.order_no if "order" in data else ""
    response = client_for(agent).post("/admin/tickets/ticket/add/", posted, headers=EN)
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert not Ticket.objects.exists()


def test_merchant_staff_cannot_open_tickets(
    dept: Department, make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    staff = make_user("shop-1", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=f.merchant())
    client = client_for(staff)
    assert client.get("/admin/tickets/ticket/add/").status_code == 403
    assert client.post("/admin/tickets/ticket/add/", call(dept, consumer=f.consumer().external_id)).status_code == 403
    assert not Ticket.objects.exists()


def test_a_ticket_is_given_to_a_named_agent_of_its_department_only(
    dept: Department, agent: User, make_user: Callable[..., User], client_for: Callable[[User], Client]
) -> None:
    colleague = make_user("li", roles.AGENT, first_name="李", last_name="娜")
    AgentProfile.objects.create(user=colleague, department=dept)
    elsewhere = make_user("far", roles.AGENT)
    AgentProfile.objects.create(user=elsewhere, department=Department.objects.create(code="logistics", name="物流"))
    ticket = services.open_ticket(f.consumer(), subject="转给同事", department=dept, route=False)
    client = client_for(agent)
    page = client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert f'<option value="{colleague.pk}">李 娜</option>' in page and f'value="{elsewhere.pk}"' not in page
    url = f"/admin/tickets/ticket/{ticket.pk}/act/"
    refused = client.post(url, {"action": "reassign", "agent": elsewhere.pk}, follow=True, headers=EN)
    assert [str(m) for m in refused.context["messages"]] == ["Choose an agent of the ticket's department."]
    ticket.refresh_from_db()
    assert ticket.assignee is None
    done = client.post(url, {"action": "reassign", "agent": colleague.pk}, follow=True, headers=EN)
    assert [str(m) for m in done.context["messages"]] == ["Assigned to 李 娜."]
    ticket.refresh_from_db()
    assert ticket.assignee == colleague
    event = TicketEvent.objects.filter(ticket=ticket, kind="assignment").get()
    assert (event.author, event.data["to"]) == (agent, colleague.pk)
