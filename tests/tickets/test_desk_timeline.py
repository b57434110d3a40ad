"""The ticket page's timeline puts the codes stored on events into words (``admin_desk.label_event``)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.crm import factories as f
from tickets import admin_desk, refunds, services
from tickets.models import Department, Ticket, TicketEvent

pytestmark = pytest.mark.django_db
EN = {"accept-language": "en"}


def opened() -> Ticket:
    department = Department.objects.create(code="after-sales", name="售后")
    return services.open_ticket(f.consumer(), subject="耳机没声音", department=department, route=False)


def test_status_and_priority_changes_read_from_what_to_what(agent: User, client_for: Callable[[User], Client]) -> None:
    ticket = opened()
    services.transition_ticket(ticket, Ticket.Status.PENDING, by=agent, note="等照片")
    services.set_priority(ticket, Ticket.Priority.URGENT, by=agent)
    html = client_for(agent).get(f"/admin/tickets/ticket/{ticket.pk}/change/", headers=EN).content.decode()
    assert '<div class="change">Status: New → Waiting on the consumer — 等照片</div>' in html
    assert '<div class="change">Priority: Normal → Urgent</div>' in html


def test_a_refund_waiting_for_review_reads_as_waiting_with_its_reason(
    agent: User, client_for: Callable[[User], Client]
) -> None:
    ticket = opened()
    order = f.order(ticket.consumer, f.merchant(), "500.00", status="delivered")
    refunds.request_refund(order, Decimal("500.00"), "坏了", key="k-1", requested_by=agent, ticket=ticket)
    entry = admin_desk.label_event(TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.REFUND))
    assert (entry.outcome, entry.from_label, entry.to_label) == ("waiting", "", "")
    html = client_for(agent).get(f"/admin/tickets/ticket/{ticket.pk}/change/", headers=EN).content.decode()
    assert '<div class="change refund waiting">… Refund ¥500.00: Waiting for manual review' in html
    assert '<span class="why">The consumer has no credit tier yet.</span>' in html


def test_a_message_has_no_labels(agent: User) -> None:
    ticket = opened()
    message = services.add_message(ticket, body="你好", author_kind=TicketEvent.Author.AGENT, author=agent)
    entry = admin_desk.label_event(message)
    labels = (entry.from_label, entry.to_label, entry.note_label, entry.outcome, entry.reason_lines)
    assert labels == ("", "", "", "", [])
