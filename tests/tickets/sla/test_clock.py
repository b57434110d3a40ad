"""A ticket's clock in memory (``tickets.clocks`` over ``tickets.sla``): pauses, states and resolving."""

from __future__ import annotations

from tests.tickets.sla.support import (
    MON,
    TUE,
    S,
    at,
    clock,
    left,
)
from tickets import clocks
from tickets.models import Ticket

# --- pauses, states and resolving (in memory) -------------------------------------------------------


def test_a_pause_keeps_the_business_time_left() -> None:
    ticket = clock(at(MON, 10))  # first response due 11:00, resolution 18:00
    clocks.pause_clock(ticket, at(MON, 10, 10))
    assert (ticket.paused_at, ticket.sla_state) == (at(MON, 10, 10), S.PAUSED)
    assert left(ticket, at(MON, 10, 10)) == (50, 470)
    clocks.resume_clock(ticket, at(MON, 14))  # 230 business minutes later
    assert (ticket.first_response_due, ticket.resolution_due) == (at(MON, 14, 50), at(TUE, 9, 50))
    assert left(ticket, at(MON, 14)) == (50, 470)
    assert (ticket.paused_at, ticket.sla_state) == (None, S.OK)


def test_a_pause_over_the_night_moves_the_dues_by_its_business_minutes_only() -> None:
    ticket = clock(at(MON, 19, 30))  # first response due Monday 20:30, resolution Tuesday 15:30
    clocks.pause_clock(ticket, at(MON, 20))
    clocks.resume_clock(ticket, at(TUE, 10))  # 60 on Monday evening, 60 on Tuesday morning
    assert (ticket.first_response_due, ticket.resolution_due) == (at(TUE, 10, 30), at(TUE, 17, 30))
    assert ticket.sla_state == S.AT_RISK  # 30 minutes left to answer


def test_a_pause_only_at_night_moves_nothing() -> None:
    ticket = clock(at(MON, 19, 30))
    clocks.pause_clock(ticket, at(MON, 21, 30))
    clocks.resume_clock(ticket, at(TUE, 8, 30))
    assert (ticket.first_response_due, ticket.resolution_due) == (at(MON, 20, 30), at(TUE, 15, 30))
    assert ticket.sla_state == S.BREACHED  # it was overdue already when it was paused


def test_after_the_first_response_a_pause_moves_only_the_resolution_due() -> None:
    ticket = clock(at(MON, 10), first_response_at=at(MON, 10, 20))
    clocks.pause_clock(ticket, at(MON, 11))
    clocks.resume_clock(ticket, at(MON, 12))
    assert (ticket.first_response_due, ticket.resolution_due) == (at(MON, 11), at(MON, 19))


def test_a_missed_due_stays_missed_by_as_much_after_a_pause() -> None:
    ticket = clock(at(MON, 10))  # first response was due 11:00
    clocks.pause_clock(ticket, at(MON, 11, 15))
    clocks.resume_clock(ticket, at(MON, 15))
    assert ticket.first_response_due == at(MON, 14, 45)
    assert ticket.sla_state == S.BREACHED


def test_only_a_running_clock_with_dues_pauses() -> None:
    no_sla = Ticket(sla_state=S.NONE)
    clocks.pause_clock(no_sla, at(MON, 10))
    assert (no_sla.paused_at, no_sla.sla_state) == (None, S.NONE)
    ticket = clock(at(MON, 10))
    clocks.pause_clock(ticket, at(MON, 10, 10))
    clocks.pause_clock(ticket, at(MON, 10, 40))
    assert ticket.paused_at == at(MON, 10, 10)
    running = clock(at(MON, 10))
    clocks.resume_clock(running, at(MON, 12))  # not paused: nothing moves
    assert (running.first_response_due, running.sla_state) == (at(MON, 11), S.OK)


def test_states_over_a_ticket_s_life() -> None:
    ticket = clock(at(MON, 10))  # first response 11:00 (at risk within 30), resolution 18:00 (within 96)
    assert clocks.state_at(ticket, at(MON, 10, 29)) == S.OK
    assert clocks.state_at(ticket, at(MON, 10, 30)) == S.AT_RISK
    assert clocks.state_at(ticket, at(MON, 11)) == S.AT_RISK  # due now, not yet past
    assert clocks.state_at(ticket, at(MON, 11, 1)) == S.BREACHED
    answered = clock(at(MON, 10), first_response_at=at(MON, 10, 45))
    assert clocks.state_at(answered, at(MON, 16, 23)) == S.OK
    assert clocks.state_at(answered, at(MON, 16, 24)) == S.AT_RISK
    assert clocks.state_at(answered, at(MON, 18)) == S.AT_RISK
    assert clocks.state_at(answered, at(MON, 18, 1)) == S.BREACHED
    clocks.pause_clock(answered, at(MON, 18, 1))
    assert clocks.state_at(answered, at(MON, 18, 30)) == S.PAUSED
    assert clocks.state_at(Ticket(), at(MON, 10)) == S.NONE


def test_at_risk_counts_business_minutes_not_the_clock() -> None:
    ticket = clock(at(MON, 20, 10))  # first response due Tuesday 09:10
    assert clocks.state_at(ticket, at(MON, 20, 35)) == S.OK  # 25 + 10 = 35 business minutes left
    assert clocks.state_at(ticket, at(MON, 20, 40)) == S.AT_RISK  # 30 left, twelve and a half hours away


def test_the_share_of_a_long_target_decides_at_risk() -> None:
    ticket = clock(at(MON, 10), first=1000, resolution=5000)  # first response due Tuesday 14:40, 200 at risk
    assert clocks.state_at(ticket, at(TUE, 11, 19)) == S.OK
    assert clocks.state_at(ticket, at(TUE, 11, 20)) == S.AT_RISK


def test_a_late_first_response_stays_a_breach() -> None:
    ticket = clock(at(MON, 10), first_response_at=at(MON, 11, 5))
    assert clocks.state_at(ticket, at(MON, 12)) == S.BREACHED


def test_resolving_in_time_meets_the_sla() -> None:
    ticket = clock(at(MON, 10), first_response_at=at(MON, 10, 30))
    clocks.stop_clock(ticket, at(MON, 18))
    assert ticket.sla_state == S.MET


def test_resolving_late_breaches_the_sla() -> None:
    ticket = clock(at(MON, 10), first_response_at=at(MON, 10, 30))
    clocks.stop_clock(ticket, at(MON, 18, 1))
    assert ticket.sla_state == S.BREACHED
    late_reply = clock(at(MON, 10), first_response_at=at(MON, 11, 30))
    clocks.stop_clock(late_reply, at(MON, 12))
    assert late_reply.sla_state == S.BREACHED


def test_resolving_while_paused_does_not_count_the_wait() -> None:
    ticket = clock(at(MON, 10), first_response_at=at(MON, 10, 30))
    clocks.pause_clock(ticket, at(MON, 12))
    clocks.stop_clock(ticket, at(TUE, 12))  # past 18:00 Monday, but 6 hours of it were waiting
    assert (ticket.sla_state, ticket.paused_at, ticket.resolution_due) == (S.MET, None, at(TUE, 18))


def test_resolving_a_ticket_without_sla() -> None:
    ticket = Ticket(sla_state=S.NONE)
    clocks.stop_clock(ticket, at(MON, 10))
    assert ticket.sla_state == S.NONE
