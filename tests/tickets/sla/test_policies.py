"""Which SLA policy applies, and the services keeping the clock of stored tickets (start, reopen, pause)."""

from __future__ import annotations

from typing import Any

from pytest_django import DjangoAssertNumQueries

from crm.models import CreditTier
from tests.tickets.sla.support import (
    MON,
    TUE,
    S,
    at,
    opened,
    policy,
    stored,
    ticket_row,
)
from tickets import clocks, escalation, services
from tickets.models import Department, SLAPolicy, Ticket

# --- policies ---------------------------------------------------------------------------------------


def test_the_most_specific_active_policy_applies(
    dept: Department, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    vip = CreditTier.objects.get(name="88VIP")
    anything = policy("any")
    refunds = policy("refunds", kind="refund")
    urgent_refunds = policy("refunds, high", kind="refund", priority=Ticket.Priority.HIGH)
    policy("refunds, VIP", kind="refund", tier=vip)  # as specific as the one before, but a later id
    policy("refunds, high, VIP (off)", kind="refund", priority=Ticket.Priority.HIGH, tier=vip, active=False)
    policy("complaints, high, VIP", kind="complaint", priority=Ticket.Priority.HIGH, tier=vip)
    vip_refund = ticket_row(dept, kind="refund", priority=Ticket.Priority.HIGH, tier=vip)
    with django_assert_num_queries(1):
        assert clocks.policy_for(vip_refund) == urgent_refunds
    assert clocks.policy_for(ticket_row(dept, kind="refund", priority=Ticket.Priority.LOW)) == refunds
    assert clocks.policy_for(ticket_row(dept, kind="consultation", tier=vip)) == anything


def test_a_tier_policy_applies_to_that_tier_only_and_outranks_the_catch_all(dept: Department) -> None:
    vip, gold = CreditTier.objects.get(name="88VIP"), CreditTier.objects.get(name="金牌会员")
    anything = policy("any")  # the lowest id: a tie would go to it
    vip_only = policy("VIP", tier=vip)
    gold_refunds = policy("gold refunds", kind="refund", tier=gold)
    assert clocks.policy_for(ticket_row(dept, kind="consultation", tier=vip)) == vip_only
    assert clocks.policy_for(ticket_row(dept, kind="consultation", tier=gold)) == anything
    assert clocks.policy_for(ticket_row(dept, kind="consultation")) == anything
    assert clocks.policy_for(ticket_row(dept, kind="refund", tier=gold)) == gold_refunds
    assert clocks.policy_for(ticket_row(dept, kind="refund", tier=vip)) == vip_only  # one matching field each: id


def test_two_matching_fields_outrank_one_whichever_fields_they_are(dept: Department) -> None:
    vip = CreditTier.objects.get(name="88VIP")
    high = policy("high", priority=Ticket.Priority.HIGH)
    refunds_vip = policy("refunds, VIP", kind="refund", tier=vip)
    high_vip = policy("high, VIP", priority=Ticket.Priority.HIGH, tier=vip)
    urgent = ticket_row(dept, kind="refund", priority=Ticket.Priority.HIGH, tier=vip)
    assert clocks.policy_for(urgent) == refunds_vip  # two fields each: the lower id
    SLAPolicy.objects.filter(pk=refunds_vip.pk).update(active=False)
    assert clocks.policy_for(urgent) == high_vip
    SLAPolicy.objects.filter(pk=high_vip.pk).update(active=False)
    assert clocks.policy_for(urgent) == high


def test_equally_specific_policies_go_to_the_lowest_id_whatever_order_they_were_stored_in(dept: Department) -> None:
    policy("b", kind="refund", pk=9002)  # stored first: a scan meets it first
    first = policy("a", kind="refund", pk=9001)
    assert clocks.policy_for(ticket_row(dept, kind="refund")) == first


def test_no_policy_matches(dept: Department) -> None:
    policy("refunds", kind="refund")
    policy("off", active=False)
    assert clocks.policy_for(ticket_row(dept, kind="complaint")) is None


def test_starting_the_clock_sets_both_dues(dept: Department) -> None:
    policy("refunds", first=45, resolution=720, kind="refund")
    ticket = Ticket(kind="refund", priority=Ticket.Priority.NORMAL)
    clocks.start_clock(ticket, at(MON, 20, 45))
    assert ticket.sla_policy is not None and ticket.sla_policy.name == "refunds"
    assert (ticket.first_response_due, ticket.resolution_due) == (at(TUE, 9, 30), at(TUE, 20, 45))
    assert ticket.sla_state == S.OK
    quick = Ticket(kind="refund", priority=Ticket.Priority.NORMAL)
    policy("quick refunds", first=15, resolution=720, kind="refund", priority=Ticket.Priority.NORMAL)
    clocks.start_clock(quick, at(MON, 10))
    assert (quick.first_response_due, quick.sla_state) == (at(MON, 10, 15), S.AT_RISK)  # 15 <= 30 from the start


def test_starting_the_clock_without_a_policy(dept: Department) -> None:
    ticket = Ticket(kind="refund", priority=Ticket.Priority.NORMAL)
    clocks.start_clock(ticket, at(MON, 10))
    assert (ticket.sla_policy, ticket.first_response_due, ticket.resolution_due, ticket.sla_state) == (
        None, None, None, S.NONE
    )  # fmt: skip


# --- the services keep the clock (a real policy, stored rows) ----------------------------------------


def test_reopening_a_resolved_ticket_restarts_its_clock_from_the_reopening(
    dept: Department, default_policy: SLAPolicy, agent: Any
) -> None:
    ticket = opened(dept, at(MON, 10))  # first response due 11:00, resolution 18:00
    services.add_message(ticket, body="您好", author_kind="agent", author=agent, now=at(MON, 10, 5))
    services.transition_ticket(ticket, "resolved", by=agent, now=at(MON, 12))
    assert stored(ticket) == ("resolved", default_policy.pk, at(MON, 11), at(MON, 18), None, S.MET)
    services.transition_ticket(ticket, "open", by=agent, now=at(TUE, 10))
    assert stored(ticket) == ("open", default_policy.pk, at(TUE, 11), at(TUE, 18), None, S.OK)
    assert Ticket.objects.get(pk=ticket.pk).resolved_at is None
    # The every-minute check works from the new dues: the answer of Monday still counts as the first response.
    assert escalation.check_sla(at(TUE, 17, 59)) == {"at_risk": 1, "breached": 0, "escalated": 0}
    assert escalation.check_sla(at(TUE, 18, 1)) == {"at_risk": 0, "breached": 1, "escalated": 1}


def test_a_reopened_ticket_that_was_answered_is_not_at_risk_for_its_first_response(
    dept: Department, agent: Any
) -> None:
    policy("short first response", first=20, resolution=480)  # 20 minutes: inside the 30-minute at-risk floor
    ticket = opened(dept, at(MON, 10))
    services.add_message(ticket, body="您好", author_kind="agent", author=agent, now=at(MON, 10, 5))
    services.transition_ticket(ticket, "resolved", by=agent, now=at(MON, 12))
    services.transition_ticket(ticket, "open", by=agent, now=at(TUE, 10))
    # The answer of Monday still counts: only the resolution (8 business hours away) is measured.
    assert (stored(ticket)[-1], Ticket.objects.get(pk=ticket.pk).first_response_at) == (S.OK, at(MON, 10, 5))


def test_a_consumer_writing_to_a_resolved_ticket_restarts_its_clock(
    dept: Department, default_policy: SLAPolicy, agent: Any
) -> None:
    ticket = opened(dept, at(MON, 10))
    services.transition_ticket(ticket, "resolved", by=agent, now=at(MON, 10, 30))  # never answered: met all the same
    assert stored(ticket)[-1] == S.MET
    services.add_message(ticket, body="还是不行", author_kind="consumer", now=at(MON, 20, 30))
    # 60 and 480 business minutes from Monday 20:30: 30 that evening, the rest from Tuesday 09:00.
    assert stored(ticket) == ("open", default_policy.pk, at(TUE, 9, 30), at(TUE, 16, 30), None, S.OK)
    assert escalation.check_sla(at(TUE, 9, 31)) == {"at_risk": 0, "breached": 1, "escalated": 1}


def test_waiting_on_the_consumer_moves_the_stored_dues_by_the_business_minutes_waited(
    dept: Department, default_policy: SLAPolicy, agent: Any
) -> None:
    ticket = opened(dept, at(MON, 10))  # 11:00 and 18:00
    services.transition_ticket(ticket, "pending", by=agent, now=at(MON, 10, 30))
    assert stored(ticket) == ("pending", default_policy.pk, at(MON, 11), at(MON, 18), at(MON, 10, 30), S.PAUSED)
    assert escalation.check_sla(at(MON, 19)) == {"at_risk": 0, "breached": 0, "escalated": 0}  # paused: not read
    services.add_message(ticket, body="照片发您了", author_kind="consumer", now=at(MON, 20, 30))  # 600 minutes later
    # 11:00 + 600 runs out at Monday's close; 18:00 + 600 is 180 on Monday and 420 on Tuesday.
    assert stored(ticket) == ("open", default_policy.pk, at(MON, 21), at(TUE, 16), None, S.AT_RISK)


def test_resolving_a_waiting_ticket_does_not_count_the_wait(
    dept: Department, default_policy: SLAPolicy, agent: Any
) -> None:
    ticket = opened(dept, at(MON, 10))
    services.add_message(ticket, body="您好", author_kind="agent", author=agent, now=at(MON, 10, 5))
    services.transition_ticket(ticket, "pending", by=agent, now=at(MON, 12))
    services.transition_ticket(ticket, "resolved", by=agent, now=at(TUE, 12))  # 6 business hours before 18:00 Monday
    assert stored(ticket) == ("resolved", default_policy.pk, at(MON, 11), at(TUE, 18), None, S.MET)
