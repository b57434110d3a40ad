"""The ticket services ``set_priority`` and ``add_tags`` (a macro's steps, tests/tickets/test_macros.py): what they
change and what they leave on the timeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from tests.crm import factories as f
from tickets import services
from tickets.models import Department, Ticket, TicketEvent

pytestmark = pytest.mark.django_db
Priority = Ticket.Priority


def opened(**kw: Any) -> Ticket:
    department = Department.objects.create(code="after-sales", name="售后")
    return services.open_ticket(f.consumer(), subject="耳机没声音", department=department, route=False, **kw)


def priority_events(ticket: Ticket) -> list[tuple[str, int | None, dict[str, Any]]]:
    events = TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.PRIORITY).order_by("pk")
    return list(events.values_list("author_kind", "author_id", "data"))


def test_an_agent_sets_the_priority_and_the_timeline_says_from_what_to_what(agent: User) -> None:
    ticket = opened()
    now = timezone.now() + timedelta(minutes=5)
    changed = services.set_priority(ticket, Priority.URGENT, by=agent, now=now)
    ticket.refresh_from_db()
    assert (changed.priority, ticket.priority, ticket.updated_at) == (Priority.URGENT, Priority.URGENT, now)
    assert priority_events(ticket) == [("agent", agent.pk, {"from": Priority.NORMAL, "to": Priority.URGENT})]
    assert TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.PRIORITY).created_at == now


def test_a_priority_set_by_nobody_is_the_systems() -> None:
    ticket = opened()
    services.set_priority(ticket, Priority.LOW, by=None)
    assert priority_events(ticket) == [("system", None, {"from": Priority.NORMAL, "to": Priority.LOW})]


def test_setting_the_priority_a_ticket_has_changes_nothing(agent: User) -> None:
    ticket = opened(priority=Priority.HIGH)
    before = Ticket.objects.get(pk=ticket.pk).updated_at
    services.set_priority(ticket, Priority.HIGH, by=agent, now=timezone.now() + timedelta(hours=1))
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.updated_at, priority_events(ticket)) == (Priority.HIGH, before, [])


@pytest.mark.parametrize("priority", [0, 5, -1])
def test_an_unknown_priority_is_refused_and_nothing_is_stored(agent: User, priority: int) -> None:
    ticket = opened()
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        services.set_priority(ticket, priority, by=agent)
    assert refused.value.message_dict == {"priority": ["未知的优先级。"]}
    ticket.refresh_from_db()
    assert (ticket.priority, priority_events(ticket)) == (Priority.NORMAL, [])


def test_tags_are_added_lower_cased_once_each_in_the_order_given_without_a_timeline_entry() -> None:
    ticket = opened()
    Ticket.objects.filter(pk=ticket.pk).update(tags=["vip"])
    events_before = TicketEvent.objects.filter(ticket=ticket).count()
    now = timezone.now() + timedelta(minutes=3)
    services.add_tags(ticket, ["Photo", " photo ", "", "耳机", "VIP", "  "], now=now)
    ticket.refresh_from_db()
    assert (ticket.tags, ticket.updated_at) == (["vip", "photo", "耳机"], now)
    assert TicketEvent.objects.filter(ticket=ticket).count() == events_before


def test_tags_the_ticket_already_has_change_nothing() -> None:
    ticket = opened()
    services.add_tags(ticket, ["photo"])
    before = Ticket.objects.get(pk=ticket.pk).updated_at
    services.add_tags(ticket, ["PHOTO", " "], now=timezone.now() + timedelta(hours=1))
    ticket.refresh_from_db()
    assert (ticket.tags, ticket.updated_at) == (["photo"], before)
