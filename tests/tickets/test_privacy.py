"""Personal numbers a consumer writes on a ticket reach each role as it may see them: API and ticket page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from core import roles
from merchants.models import MerchantMembership
from tests.crm import factories as f
from tickets import services
from tickets.models import Department, Ticket, TicketEvent

SAID = "我的手机13912345678 身份证110101199003071234 卡号6222020200112233445 一三八一二三四五六七八"
MASKED = "我的手机139****5678 身份证110***********1234 卡号**** **** **** 3445 138****5678"
RAW = ["13912345678", "110101199003071234", "6222020200112233445", "一三八一二三四五六七八"]


@pytest.fixture
def ticket(db: None) -> Ticket:
    shop = f.merchant("SHOP-P")
    consumer = f.consumer("C-P")
    dept = Department.objects.create(code="after-sales", name="售后")
    ticket = services.open_ticket(
        consumer, subject="回电 13912345678", department=dept, order=f.order(consumer, shop), body=SAID
    )
    services.add_message(ticket, body="卡号是 6222020200112233445", author_kind=TicketEvent.Author.CONSUMER)
    return ticket


@pytest.fixture
def people(make_user: Callable[..., User], ticket: Ticket) -> dict[str, User]:
    staff = make_user("staff-p", roles.MERCHANT_STAFF)
    assert ticket.merchant is not None
    MerchantMembership.objects.create(user=staff, merchant=ticket.merchant)
    return {
        "agent": make_user("agent-p", roles.AGENT),
        "supervisor": make_user("supervisor-p", roles.SUPERVISOR),
        "merchant": staff,
    }


@pytest.mark.parametrize(("role", "sees"), [("agent", False), ("merchant", False), ("supervisor", True)])
def test_the_api_shows_a_tickets_words_masked_unless_the_role_may_see_numbers(
    people: dict[str, User], client_for: Callable[[User], Client], ticket: Ticket, role: str, sees: bool
) -> None:
    response = client_for(people[role]).get(f"/api/tickets/{ticket.pk}/")
    assert response.status_code == 200
    data = response.json()
    bodies = [e["body"] for e in data["timeline"] if e["kind"] == "message"]
    if sees:
        assert (data["subject"], bodies) == ("回电 13912345678", [SAID, "卡号是 6222020200112233445"])
    else:
        assert (data["subject"], bodies) == ("回电 139****5678", [MASKED, "卡号是 **** **** **** 3445"])
    listed = client_for(people[role]).get("/api/tickets/")
    assert any(t["subject"] == data["subject"] for t in listed.json()["results"])
    assert all(raw not in listed.content.decode() for raw in RAW) is not sees


@pytest.mark.parametrize(("role", "sees"), [("agent", False), ("merchant", False), ("supervisor", True)])
def test_the_ticket_page_shows_a_tickets_words_masked_unless_the_role_may_see_numbers(
    people: dict[str, User], client_for: Callable[[User], Client], ticket: Ticket, role: str, sees: bool
) -> None:
    page = client_for(people[role]).get(f"/admin/tickets/ticket/{ticket.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert ("139****5678" in html) is not sees
    for raw in RAW:
        assert (raw in html) is sees, raw
