"""The tickets API's happy paths: opening a ticket, its timeline, replies, notes and transitions; the docs."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from crm.models import Order
from tests.tickets.api_support import EN, post
from tickets import services
from tickets.models import Department, SLAPolicy, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def timeline(response: Any) -> list[tuple[str, str, str | None, str]]:
    return [(e["kind"], e["author_kind"], e["author"], e["body"]) for e in response.json()["timeline"]]


def test_agent_opens_a_ticket_for_a_consumer(api: Client, order_a: Order, dept: Department) -> None:
    SLAPolicy.objects.create(name="退款", kind="refund", first_response_minutes=120, resolution_minutes=8 * 60)
    body = {"consumer": "C-VIP", "subject": " 耳机坏了 ", "body": "左耳没声音", "kind": "refund", "channel": "phone",
            "priority": 3, "department": "refunds", "order": "A-300"}  # fmt: skip

    response = post(api, "/api/tickets/", body)

    assert response.status_code == 201
    data = response.json()
    ticket = Ticket.objects.get()
    assert data["id"] == ticket.pk
    assert {k: data[k] for k in ("subject", "kind", "channel", "status", "priority", "department", "assignee")} == {
        "subject": "耳机坏了", "kind": "refund", "channel": "phone", "status": "new", "priority": 3,
        "department": "refunds", "assignee": None,
    }  # fmt: skip
    assert {k: data[k] for k in ("consumer", "consumer_name", "tier", "order", "merchant")} == {
        "consumer": "C-VIP", "consumer_name": "王小明", "tier": "测试VIP", "order": "A-300", "merchant": "SHOP-A",
    }  # fmt: skip
    assert timeline(response) == [
        ("created", "agent", "desk-agent", ""),
        ("message", "agent", "desk-agent", "左耳没声音"),
    ]
    assert data["timeline"][0]["data"] == {"kind": "refund", "channel": "phone", "priority": 3}
    assert ticket.first_response_due and ticket.resolution_due
    assert (data["sla_state"], data["first_response_due"], data["resolution_due"]) == (
        "ok",
        timezone.localtime(ticket.first_response_due).isoformat(),
        timezone.localtime(ticket.resolution_due).isoformat(),
    )


def test_ticket_detail_shows_the_timeline_oldest_first(api: Client, ticket_a: Ticket, desk_agent: User) -> None:
    services.add_message(ticket_a, body="请稍等", author_kind="agent", author=desk_agent)
    services.add_message(ticket_a, body="好的", author_kind="consumer")

    response = api.get(f"/api/tickets/{ticket_a.pk}/")

    assert response.status_code == 200
    assert timeline(response) == [
        ("created", "consumer", None, ""),
        ("message", "consumer", None, "左耳没声音"),
        ("message", "agent", "desk-agent", "请稍等"),
        ("status", "system", None, ""),  # the first reply opened it
        ("message", "consumer", None, "好的"),
    ]
    assert response.json()["status"] == "open"


def test_agent_reply_opens_the_ticket_and_stops_the_first_response_clock(api: Client, ticket_a: Ticket) -> None:
    response = post(api, f"/api/tickets/{ticket_a.pk}/reply/", {"body": " 已为您登记 ", "internal": False})

    assert response.status_code == 201
    ticket_a.refresh_from_db()
    assert (response.json()["status"], ticket_a.status) == ("open", "open")
    assert ticket_a.first_response_at is not None
    assert timeline(response)[-2:] == [("message", "agent", "desk-agent", "已为您登记"), ("status", "system", None, "")]


def test_internal_note_leaves_the_ticket_new(api: Client, ticket_a: Ticket) -> None:
    response = post(api, f"/api/tickets/{ticket_a.pk}/reply/", {"body": "先查物流", "internal": True})

    assert response.status_code == 201
    ticket_a.refresh_from_db()
    assert (ticket_a.status, ticket_a.first_response_at) == ("new", None)
    assert timeline(response)[-1] == ("note", "agent", "desk-agent", "先查物流")


def test_transition_moves_the_ticket_and_records_the_note(api: Client, ticket_a: Ticket) -> None:
    response = post(api, f"/api/tickets/{ticket_a.pk}/transition/", {"status": "resolved", "note": "已退款"})

    assert response.status_code == 200
    ticket_a.refresh_from_db()
    assert (response.json()["status"], ticket_a.status) == ("resolved", "resolved")
    # The status change, then the consumer's survey link (tickets.surveys).
    assert timeline(response)[-2] == ("status", "agent", "desk-agent", "已退款")
    assert response.json()["timeline"][-2]["data"] == {"from": "new", "to": "resolved"}
    assert response.json()["timeline"][-1]["data"] == {"survey": True}


def test_illegal_transition_is_refused_with_the_reason(api: Client, ticket_a: Ticket) -> None:
    response = post(api, f"/api/tickets/{ticket_a.pk}/transition/", {"status": "closed"})

    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"status": ["A ticket that is “New” cannot become “Closed”."]},
    )
    ticket_a.refresh_from_db()
    assert (ticket_a.status, TicketEvent.objects.filter(ticket=ticket_a).count()) == ("new", 2)


def test_reply_to_a_closed_ticket_is_refused(api: Client, ticket_a: Ticket) -> None:
    for status in ("resolved", "closed"):
        services.transition_ticket(ticket_a, status)

    response = post(api, f"/api/tickets/{ticket_a.pk}/reply/", {"body": "还在吗"})

    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"body": ["This ticket is closed; open a new one."]},
    )


def test_the_tickets_api_is_documented(api: Client) -> None:
    schema = api.get("/api/schema/", headers={"accept": "application/vnd.oai.openapi+json", **EN}).json()

    paths = schema["paths"]
    assert {
        "/api/tickets/",
        "/api/tickets/{id}/",
        "/api/tickets/{id}/reply/",
        "/api/tickets/{id}/transition/",
        "/api/refunds/",
        "/api/refunds/{id}/",
    } <= set(paths)
    create_refund = paths["/api/refunds/"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in create_refund["parameters"]]
    assert "A consumer is not a user of this API" in create_refund["description"]
    assert set(create_refund["responses"]) == {"200", "201", "400", "403", "409", "413", "415", "503"}
