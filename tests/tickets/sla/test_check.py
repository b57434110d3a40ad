"""The every-minute SLA check (``tickets.escalation.check_sla``): at risk, breached, escalated, locked rows."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoAssertNumQueries

from tests.tickets.sla.support import (
    MON,
    SH,
    S,
    at,
    opened,
    policy,
    states,
)
from tickets import escalation, services
from tickets.models import Department, SLAPolicy, Ticket, TicketEvent

# --- check_sla ------------------------------------------------------------------------------------


def test_check_marks_states_and_escalates_the_newly_breached_once(
    dept: Department, default_policy: SLAPolicy, agent: Any
) -> None:
    now = at(MON, 12)
    risky = opened(dept, at(MON, 11, 20))  # first response due 12:20
    late = opened(dept, at(MON, 10, 30))  # first response due 11:30
    fine = opened(dept, at(MON, 11, 50))
    answered = opened(dept, at(MON, 10))
    services.add_message(answered, body="您好", author_kind="agent", author=agent, now=at(MON, 10, 5))
    waiting = opened(dept, at(MON, 10))
    services.transition_ticket(waiting, "pending", now=at(MON, 10, 10))
    resolved = opened(dept, at(MON, 10))
    services.transition_ticket(resolved, "resolved", now=at(MON, 10, 20))

    assert escalation.check_sla(now) == {"at_risk": 1, "breached": 1, "escalated": 1}
    assert states(risky, late, fine, answered, waiting, resolved) == [S.AT_RISK, S.BREACHED, S.OK, S.OK, S.PAUSED,
                                                                      S.MET]  # fmt: skip
    late.refresh_from_db()
    assert (late.escalated_at, late.priority) == (now, Ticket.Priority.HIGH)
    assert late.updated_at == now  # by the escalation; the state change alone does not touch it
    risky.refresh_from_db()
    assert risky.updated_at == at(MON, 11, 20)

    assert escalation.check_sla(now) == {"at_risk": 0, "breached": 0, "escalated": 0}
    assert escalation.check_sla(at(MON, 13)) == {"at_risk": 0, "breached": 2, "escalated": 2}  # risky and fine
    assert TicketEvent.objects.filter(ticket=late, kind=TicketEvent.Kind.PRIORITY).count() == 1
    event = TicketEvent.objects.get(ticket=risky, kind=TicketEvent.Kind.PRIORITY)
    assert (event.data["reason"], event.created_at) == ("sla_breached", at(MON, 13))
    assert Ticket.objects.filter(escalated_at__isnull=False).count() == 3


def test_check_puts_an_answered_ticket_back_on_track(dept: Department, default_policy: SLAPolicy, agent: Any) -> None:
    ticket = opened(dept, at(MON, 11, 20))
    assert escalation.check_sla(at(MON, 12))["at_risk"] == 1
    services.add_message(ticket, body="您好", author_kind="agent", author=agent, now=at(MON, 12, 5))
    assert escalation.check_sla(at(MON, 12, 6)) == {"at_risk": 0, "breached": 0, "escalated": 0}
    assert states(ticket) == [S.OK]


def test_check_sees_long_targets_at_risk_days_ahead(dept: Department, agent: Any) -> None:
    policy("disputes", first=60, resolution=10_000, kind="dispute")  # at risk with 2,000 minutes left
    ticket = opened(dept, at(MON, 10), kind="dispute")
    services.add_message(ticket, body="您好", author_kind="agent", author=agent, now=at(MON, 10, 5))
    ticket.refresh_from_db()
    assert ticket.resolution_due == datetime(2025, 6, 15, 20, 40, tzinfo=SH)
    # 2,000 business minutes before: 700 on Sunday, 720 on Saturday, 580 on Friday from 11:20.
    assert escalation.check_sla(datetime(2025, 6, 13, 11, 19, tzinfo=SH))["at_risk"] == 0
    assert escalation.check_sla(datetime(2025, 6, 13, 11, 20, tzinfo=SH))["at_risk"] == 1


def test_check_costs_the_same_queries_however_many_tickets_it_leaves_alone(
    dept: Department, default_policy: SLAPolicy, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    now = at(MON, 12)

    def batch(untouched: int) -> None:
        opened(dept, at(MON, 11, 20))  # becomes at risk
        opened(dept, at(MON, 10, 30))  # becomes breached and is escalated
        for i in range(untouched):
            ticket = opened(dept, at(MON, 11, 50 + i % 10))  # read, but still on track
            if i % 3 == 0:
                services.transition_ticket(ticket, "pending", now=at(MON, 11, 59))
            if i % 3 == 1:
                opened(dept, at(MON, 11, 59))

    batch(2)
    with CaptureQueriesContext(connection) as few:
        assert escalation.check_sla(now) == {"at_risk": 1, "breached": 1, "escalated": 1}
    batch(40)
    with CaptureQueriesContext(connection) as many:
        assert escalation.check_sla(now) == {"at_risk": 1, "breached": 1, "escalated": 1}
    assert len(few) == len(many)
    with django_assert_num_queries(2):  # the horizon and the candidates; nothing to change
        assert escalation.check_sla(now) == {"at_risk": 0, "breached": 0, "escalated": 0}


def test_check_leaves_a_row_locked_elsewhere_for_the_next_run(transactional_db: None) -> None:
    dept = Department.objects.create(code="after-sales", name="售后")
    policy("default")
    late = opened(dept, at(MON, 10, 30))
    risky = opened(dept, at(MON, 11, 20))
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:  # another beat run, or an agent's change, holding the row
        try:
            with transaction.atomic():
                Ticket.objects.select_for_update().get(pk=late.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        assert escalation.check_sla(at(MON, 12)) == {"at_risk": 1, "breached": 0, "escalated": 0}
        assert states(late, risky) == [S.OK, S.AT_RISK]
    finally:
        release.set()
        holder.join()
    assert escalation.check_sla(at(MON, 12, 1)) == {"at_risk": 0, "breached": 1, "escalated": 1}
    assert escalation.check_sla(at(MON, 12, 2)) == {"at_risk": 0, "breached": 0, "escalated": 0}
    assert TicketEvent.objects.filter(ticket=late, kind=TicketEvent.Kind.PRIORITY).count() == 1


def test_a_ticket_escalated_by_hand_is_not_escalated_again(dept: Department, default_policy: SLAPolicy) -> None:
    ticket = opened(dept, at(MON, 10, 30))
    services.escalate_ticket(ticket, reason="vip", now=at(MON, 11))
    assert escalation.check_sla(at(MON, 12)) == {"at_risk": 0, "breached": 1, "escalated": 0}
    ticket.refresh_from_db()
    assert (ticket.sla_state, ticket.escalated_at, ticket.priority) == (S.BREACHED, at(MON, 11), Ticket.Priority.HIGH)


def test_a_breach_is_final_for_the_check(dept: Department, default_policy: SLAPolicy) -> None:
    ticket = opened(dept, at(MON, 10, 30))
    assert escalation.check_sla(at(MON, 12))["breached"] == 1
    Ticket.objects.filter(pk=ticket.pk).update(first_response_due=at(MON, 12, 30), resolution_due=at(MON, 18))
    assert escalation.check_sla(at(MON, 12, 1)) == {"at_risk": 0, "breached": 0, "escalated": 0}
    assert states(ticket) == [S.BREACHED]
