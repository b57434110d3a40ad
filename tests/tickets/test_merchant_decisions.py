"""Merchant staff never decide about their own shop: on a complaint or dispute they reply and propose, while
parking (pending), resolving and closing it is the platform's — through the API, the ticket page, or any caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import translation

from core import roles
from merchants.models import MerchantMembership
from tests.crm import factories as f
from tickets import services
from tickets.models import Department, Ticket, TicketEvent

pytestmark = pytest.mark.django_db
EN = {"accept-language": "en"}


def refused(status: str) -> str:
    return (
        "A complaint or dispute about your shop is settled by the platform: you may reply and propose a solution,"
        f" but not set it to “{status}”."
    )


@pytest.fixture
def shop_case(make_user: Callable[..., User]) -> dict[str, Any]:
    shop = f.merchant("SHOP-SELF")
    staff = make_user("staff-self", roles.MERCHANT_STAFF)
    MerchantMembership.objects.create(user=staff, merchant=shop)
    dept = Department.objects.create(code="after-sales", name="售后")

    def case(kind: str) -> Ticket:
        who = f.consumer()
        return services.open_ticket(who, subject=f"{kind} 店铺", department=dept, kind=kind, order=f.order(who, shop))

    return {
        "staff": staff,
        "agent": make_user("agent-self", roles.AGENT),
        "supervisor": make_user("supervisor-self", roles.SUPERVISOR),
        "case": case,
    }


def status_events(ticket: Ticket) -> int:
    return TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.STATUS).count()


@pytest.mark.parametrize(
    ("kind", "to", "label"),
    [
        ("complaint", "resolved", "Resolved"),
        ("complaint", "pending", "Waiting on the consumer"),
        ("dispute", "pending", "Waiting on the consumer"),
        ("dispute", "resolved", "Resolved"),
    ],
)
def test_the_api_refuses_merchant_staff_deciding_a_complaint_or_dispute_about_their_shop(
    shop_case: dict[str, Any], client_for: Callable[[User], Client], kind: str, to: str, label: str
) -> None:
    ticket = shop_case["case"](kind)
    client = client_for(shop_case["staff"])
    response = client.post(f"/api/tickets/{ticket.pk}/transition/", {"status": to}, content_type="application/json",
                           headers=EN)  # fmt: skip
    assert (response.status_code, response.json()) == (403, {"code": "permission_denied", "message": refused(label)})
    ticket.refresh_from_db()
    assert (ticket.status, status_events(ticket)) == ("new", 0)
    # Taking the case up and replying (proposing a solution) stay theirs.
    taken = client.post(f"/api/tickets/{ticket.pk}/transition/", {"status": "open"}, content_type="application/json")
    assert (taken.status_code, taken.json()["status"]) == (200, "open")
    reply = client.post(f"/api/tickets/{ticket.pk}/reply/", {"body": "我们可以换货或退一半货款"},
                        content_type="application/json")  # fmt: skip
    assert reply.status_code == 201


def test_a_resolved_complaint_cannot_be_closed_by_the_shop_but_by_the_platform(
    shop_case: dict[str, Any], client_for: Callable[[User], Client]
) -> None:
    ticket = shop_case["case"]("complaint")
    services.transition_ticket(ticket, "resolved", by=shop_case["agent"])
    staff = client_for(shop_case["staff"])
    closing = staff.post(f"/api/tickets/{ticket.pk}/transition/", {"status": "closed"},
                         content_type="application/json", headers=EN)  # fmt: skip
    assert (closing.status_code, closing.json()["message"]) == (403, refused("Closed"))
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    agent = client_for(shop_case["agent"]).post(f"/api/tickets/{ticket.pk}/transition/", {"status": "closed"},
                                                content_type="application/json")  # fmt: skip
    assert (agent.status_code, agent.json()["status"]) == (200, "closed")


def test_merchant_staff_still_settle_their_other_tickets_and_agents_settle_complaints(
    shop_case: dict[str, Any], client_for: Callable[[User], Client]
) -> None:
    question = shop_case["case"]("consultation")
    staff = client_for(shop_case["staff"]).post(f"/api/tickets/{question.pk}/transition/", {"status": "resolved"},
                                                content_type="application/json")  # fmt: skip
    assert (staff.status_code, staff.json()["status"]) == (200, "resolved")
    complaint = shop_case["case"]("complaint")
    agent = client_for(shop_case["agent"]).post(f"/api/tickets/{complaint.pk}/transition/", {"status": "pending"},
                                                content_type="application/json")  # fmt: skip
    assert (agent.status_code, agent.json()["status"]) == (200, "pending")


def test_the_ticket_page_offers_merchant_staff_no_deciding_button_and_refuses_a_forged_one(
    shop_case: dict[str, Any], client_for: Callable[[User], Client]
) -> None:
    complaint = shop_case["case"]("complaint")
    url = f"/admin/tickets/ticket/{complaint.pk}/"
    staff = client_for(shop_case["staff"])
    page = staff.get(url + "change/")
    assert page.context["transitions"] == ["open"]
    html = page.content.decode()
    assert 'name="status" value="open"' in html
    assert 'name="status" value="resolved"' not in html and 'name="status" value="pending"' not in html
    for to in ("resolved", "pending"):
        assert staff.post(url + "act/", {"action": "status", "status": to}).status_code == 403
    complaint.refresh_from_db()
    assert (complaint.status, status_events(complaint)) == ("new", 0)
    # The platform's agents are offered, and may use, every move.
    assert client_for(shop_case["agent"]).get(url + "change/").context["transitions"] == ["open", "pending", "resolved"]
    assert staff.post(url + "act/", {"action": "reply", "body": "已为您补发"}).status_code == 302
    assert (
        client_for(shop_case["agent"]).post(url + "act/", {"action": "status", "status": "resolved"}).status_code == 302
    )
    complaint.refresh_from_db()
    assert complaint.status == "resolved"


def test_the_rule_holds_for_every_caller_of_the_service(shop_case: dict[str, Any]) -> None:
    dispute = shop_case["case"]("dispute")
    with translation.override("en"), pytest.raises(PermissionDenied, match="not set it to “Waiting on the consumer”"):
        services.transition_ticket(dispute, "pending", by=shop_case["staff"])
    with pytest.raises(PermissionDenied):
        services.resolve_dispute(dispute, "merchant_won", by=shop_case["staff"])
    dispute.refresh_from_db()
    assert (dispute.status, dispute.order.dispute) == ("new", "")  # nothing of the outcome was kept
    assert services.transitions_for(shop_case["staff"], dispute) == ["open"]
    assert services.transitions_for(shop_case["supervisor"], dispute) == ["open", "pending", "resolved"]
    assert services.resolve_dispute(dispute, "consumer_won", by=shop_case["supervisor"]).status == "resolved"
