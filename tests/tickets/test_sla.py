"""SLA clocks: business-hours arithmetic, pauses, policies, states and the every-minute check.

June 2025: Monday the 2nd to Sunday the 8th, then Monday the 9th. Business hours are the defaults
(09:00-21:00, every day) unless a test overrides them.
"""

from __future__ import annotations

import threading
import time as pytime
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from pytest_django import DjangoAssertNumQueries

from crm.models import CreditTier
from tests.crm import factories as f
from tickets import clocks, escalation, services, sla
from tickets.models import Department, SLAPolicy, Ticket, TicketEvent

SH = ZoneInfo("Asia/Shanghai")
S = Ticket.SLAState


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute, tzinfo=SH)


MON, TUE, WED, THU, FRI, SAT, SUN, NEXT_MON = 2, 3, 4, 5, 6, 7, 8, 9
MON_DATE = date(2025, 6, 2)


# --- add_business_minutes ---------------------------------------------------------------------------


def test_adding_inside_business_hours_stays_on_the_same_day() -> None:
    assert sla.add_business_minutes(at(MON, 10), 90) == at(MON, 11, 30)
    assert sla.add_business_minutes(at(MON, 10), 660) == at(MON, 21)  # runs out exactly at the close


def test_minutes_left_at_the_evening_close_carry_over_to_the_next_morning() -> None:
    assert sla.add_business_minutes(at(MON, 20, 30), 60) == at(TUE, 9, 30)
    assert sla.add_business_minutes(at(MON, 21), 1) == at(TUE, 9, 1)


def test_counting_from_the_night_begins_at_the_next_opening() -> None:
    assert sla.add_business_minutes(at(MON, 23), 30) == at(TUE, 9, 30)
    assert sla.add_business_minutes(at(TUE, 3), 30) == at(TUE, 9, 30)
    assert sla.add_business_minutes(at(TUE, 8, 59), 1) == at(TUE, 9, 1)


def test_closed_weekdays_are_skipped(settings: Any) -> None:
    settings.SUPPORT_WEEKDAYS = "0-4"
    assert sla.add_business_minutes(at(SAT, 10), 60) == at(NEXT_MON, 10)
    assert sla.add_business_minutes(at(SUN, 23), 60) == at(NEXT_MON, 10)
    assert sla.add_business_minutes(at(FRI, 20), 120) == at(NEXT_MON, 10)


def test_a_target_of_several_days() -> None:
    # Monday 10:00-21:00 is 660, Tuesday and Wednesday 720 each: 2,100; 90 more on Thursday.
    assert sla.add_business_minutes(at(MON, 10), 2190) == at(THU, 10, 30)


def test_a_target_of_several_days_over_a_weekend(settings: Any) -> None:
    settings.SUPPORT_WEEKDAYS = "0-4"
    assert sla.add_business_minutes(at(FRI, 10), 2190) == datetime(2025, 6, 11, 10, 30, tzinfo=SH)


def test_zero_minutes_is_the_start_itself_even_at_night() -> None:
    assert sla.add_business_minutes(at(MON, 10), 0) == at(MON, 10)
    assert sla.add_business_minutes(at(MON, 23), 0) == at(MON, 23)


def test_an_end_of_24_00_is_midnight(settings: Any) -> None:
    settings.SUPPORT_HOURS = "08:00-24:00"
    assert sla.add_business_minutes(at(MON, 23), 60) == at(TUE, 0)
    assert sla.add_business_minutes(at(MON, 23, 30), 60) == at(TUE, 8, 30)
    assert sla.business_minutes_between(at(MON, 23), at(TUE, 9)) == 120


def test_any_zone_in_local_time_out() -> None:
    due = sla.add_business_minutes(datetime(2025, 6, 2, 2, 0, tzinfo=ZoneInfo("UTC")), 60)  # 10:00 in Shanghai
    assert due == at(MON, 11)
    assert due.utcoffset() == timedelta(hours=8)


def test_naive_datetimes_and_negative_minutes_are_refused() -> None:
    with translation.override("en"):
        with pytest.raises(ValueError, match="timezone-aware"):
            sla.add_business_minutes(datetime(2025, 6, 2, 10), 10)
        with pytest.raises(ValueError, match="negative"):
            sla.add_business_minutes(at(MON, 10), -1)


# --- business_minutes_between -----------------------------------------------------------------------


def test_business_minutes_on_one_day() -> None:
    assert sla.business_minutes_between(at(MON, 10), at(MON, 12, 15)) == 135
    assert sla.business_minutes_between(at(MON, 8), at(MON, 9, 30)) == 30
    assert sla.business_minutes_between(at(MON, 20, 59) + timedelta(seconds=30), at(MON, 21)) == 0.5


def test_business_minutes_across_nights() -> None:
    assert sla.business_minutes_between(at(MON, 20), at(TUE, 10)) == 120
    assert sla.business_minutes_between(at(MON, 22), at(TUE, 8)) == 0
    assert sla.business_minutes_between(at(MON, 10), at(THU, 10, 30)) == 2190


def test_business_minutes_across_a_weekend(settings: Any) -> None:
    assert sla.business_minutes_between(at(FRI, 20), at(NEXT_MON, 10)) == 60 + 720 + 720 + 60
    settings.SUPPORT_WEEKDAYS = "0-4"
    assert sla.business_minutes_between(at(FRI, 20), at(NEXT_MON, 10)) == 120
    assert sla.business_minutes_between(at(SAT, 10), at(SUN, 20)) == 0


def test_no_business_minutes_backwards() -> None:
    assert sla.business_minutes_between(at(MON, 12), at(MON, 10)) == 0
    assert sla.business_minutes_between(at(MON, 12), at(MON, 12)) == 0


@pytest.mark.parametrize("hours", ["09:00-21:00", "08:30-24:00", "00:00-24:00"])
@pytest.mark.parametrize("weekdays", ["0-6", "0-4", "0,2,4", "6"])
def test_counting_back_what_was_added_gives_the_same_minutes(settings: Any, hours: str, weekdays: str) -> None:
    settings.SUPPORT_HOURS, settings.SUPPORT_WEEKDAYS = hours, weekdays
    starts = [at(MON, 0) + timedelta(minutes=m) for m in range(0, 7 * 24 * 60, 97)]  # in and out of hours
    for start in starts:
        previous = start
        for minutes in (0, 1, 29, 30, 61, 719, 720, 721, 1441, 5000, 20000):
            due = sla.add_business_minutes(start, minutes)
            assert sla.business_minutes_between(start, due) == minutes, (start, minutes)
            assert due >= previous
            previous = due


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SUPPORT_HOURS", "9-21"),
        ("SUPPORT_HOURS", "21:00-09:00"),
        ("SUPPORT_HOURS", "09:00-09:00"),
        ("SUPPORT_HOURS", "09:00-25:00"),
        ("SUPPORT_HOURS", "09:00-24:30"),
        ("SUPPORT_HOURS", "09:60-21:00"),
        ("SUPPORT_HOURS", "09:00-21:60"),
        ("SUPPORT_HOURS", ""),
        ("SUPPORT_WEEKDAYS", "0-7"),
        ("SUPPORT_WEEKDAYS", "4-1"),
        ("SUPPORT_WEEKDAYS", "mon-fri"),
        ("SUPPORT_WEEKDAYS", "1,,2"),
        ("SUPPORT_WEEKDAYS", ""),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(settings: Any, name: str, value: str) -> None:
    setattr(settings, name, value)
    with pytest.raises(ValueError, match=name):
        sla.add_business_minutes(at(MON, 10), 10)
    with pytest.raises(ValueError, match=name):
        sla.business_minutes_between(at(MON, 10), at(MON, 11))


def test_weekday_lists_and_ranges_combine(settings: Any) -> None:
    settings.SUPPORT_WEEKDAYS = " 0-1, 3 ,6"
    assert sla.business_hours().weekdays == {0, 1, 3, 6}


# --- policies ---------------------------------------------------------------------------------------


@pytest.fixture
def dept(db: None) -> Department:
    return Department.objects.create(code="after-sales", name="售后")


def ticket_row(dept: Department, **fields: Any) -> Ticket:
    now = at(MON, 10)
    return Ticket.objects.create(subject="问题", department=dept, consumer=f.consumer(), created_at=now,
                                 updated_at=now, **fields)  # fmt: skip


def policy(name: str, first: int = 60, resolution: int = 480, **fields: Any) -> SLAPolicy:
    return SLAPolicy.objects.create(name=name, first_response_minutes=first, resolution_minutes=resolution, **fields)


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


# --- pauses, states and resolving (in memory) -------------------------------------------------------


def clock(opened: datetime, first: int = 60, resolution: int = 480, **fields: Any) -> Ticket:
    """A ticket whose clock started at ``opened`` under a policy of ``first``/``resolution`` minutes."""
    return Ticket(
        sla_policy=SLAPolicy(first_response_minutes=first, resolution_minutes=resolution),
        first_response_due=sla.add_business_minutes(opened, first),
        resolution_due=sla.add_business_minutes(opened, resolution),
        sla_state=S.OK,
        **fields,
    )


def left(ticket: Ticket, now: datetime) -> tuple[float, float]:
    assert ticket.first_response_due and ticket.resolution_due
    return (
        sla.business_minutes_between(now, ticket.first_response_due),
        sla.business_minutes_between(now, ticket.resolution_due),
    )


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


# --- check_sla ------------------------------------------------------------------------------------


@pytest.fixture
def default_policy(db: None) -> SLAPolicy:
    return policy("default", first=60, resolution=480)


def opened(dept: Department, when: datetime, **kw: Any) -> Ticket:
    return services.open_ticket(f.consumer(), subject="问题", department=dept, now=when, **kw)


def states(*tickets: Ticket) -> list[str]:
    by_pk = dict(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("pk", "sla_state"))
    return [by_pk[t.pk] for t in tickets]


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


# --- the services keep the clock (a real policy, stored rows) ----------------------------------------


def stored(ticket: Ticket) -> tuple[object, ...]:
    row = Ticket.objects.get(pk=ticket.pk)
    return (row.status, row.sla_policy_id, row.first_response_due, row.resolution_due, row.paused_at, row.sla_state)


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


# --- the timetable: the same business time, worked out once ------------------------------------------


@pytest.mark.parametrize(
    ("hours", "weekdays"), [("09:00-21:00", "0-6"), ("08:30-24:00", "0-4"), ("10:00-18:00", "1,3")]
)
def test_a_timetable_gives_what_the_business_hours_give(settings: Any, hours: str, weekdays: str) -> None:
    settings.SUPPORT_HOURS, settings.SUPPORT_WEEKDAYS = hours, weekdays
    business = sla.business_hours()
    table = sla.Timetable(business, at(MON, 0).date(), at(MON, 0).date() + timedelta(days=13))
    starts = [at(MON, 0) + timedelta(minutes=m) for m in range(0, 9 * 24 * 60, 173)]
    for start in starts:
        for minutes in (0, 1, 15, 60, 240, 720, 1440, 2880, 20000):  # the last runs past the table
            amount = timedelta(minutes=minutes)
            assert table.add(start, amount) == business.add(start, amount), (start, minutes)
        for end in (start + timedelta(minutes=m) for m in (-60, 0, 1, 59, 600, 1500, 6000, 30000)):
            assert table.between(start, end) == business.between(start, end), (start, end)
    before = at(MON, 0) - timedelta(days=2)  # before the table: asked of the hours
    assert table.add(before, timedelta(minutes=30)) == business.add(before, timedelta(minutes=30))
    assert table.between(before, at(TUE, 12)) == business.between(before, at(TUE, 12))


def test_a_timetable_counts_from_its_first_opening() -> None:
    table = sla.Timetable(sla.business_hours(), at(MON, 0).date(), at(WED, 0).date())
    assert table.business(at(MON, 9)) == timedelta(0)
    assert table.business(at(MON, 22)) == timedelta(hours=12)
    assert table.business(at(TUE, 10)) == timedelta(hours=13)
    assert table.instant(timedelta(hours=12)) == at(MON, 21)  # a closing, not the next opening
    assert table.instant(timedelta(hours=12, minutes=1)) == at(TUE, 9, 1)
    with pytest.raises(ValueError):
        table.business(at(MON, 8))


# --- the settings, read exactly ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "opens", "closes"),
    [
        ("23:00-24:00", time(23), None),
        ("00:00-23:59", time(0), time(23, 59)),
        ("08:59-21:00", time(8, 59), time(21)),
        (" 8:05 - 9:06 ", time(8, 5), time(9, 6)),
    ],
)
def test_the_widest_and_narrowest_hours_are_read_exactly(settings: Any, hours: str, opens: time, closes: time) -> None:
    settings.SUPPORT_HOURS, settings.SUPPORT_WEEKDAYS = hours, "0-6"
    assert sla.business_hours() == sla.BusinessHours(opens, closes, frozenset(range(7)), SH)


@pytest.mark.parametrize(("weekdays", "days"), [("6", {6}), ("0-6", set(range(7))), ("2-2,5", {2, 5}), ("0", {0})])
def test_weekdays_are_read_exactly(settings: Any, weekdays: str, days: set[int]) -> None:
    settings.SUPPORT_WEEKDAYS = weekdays
    assert sla.business_hours().weekdays == days


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SUPPORT_HOURS", "9-21",
         "SUPPORT_HOURS must look like “09:00-21:00” (an end of 24:00 is midnight), not “9-21”."),
        ("SUPPORT_HOURS", "24:00-24:00",
         "SUPPORT_HOURS must look like “09:00-21:00” (an end of 24:00 is midnight), not “24:00-24:00”."),
        ("SUPPORT_HOURS", "21:00-09:00",
         "SUPPORT_HOURS must open before it closes on the same day, not “21:00-09:00”."),
        ("SUPPORT_WEEKDAYS", "0-7",
         "SUPPORT_WEEKDAYS must list days 0 (Monday) to 6 and ranges such as “0-4,6”, not “0-7”."),
    ],
)  # fmt: skip
def test_bad_settings_are_refused_in_so_many_words(settings: Any, name: str, value: str, message: str) -> None:
    setattr(settings, name, value)
    with translation.override("en"), pytest.raises(ValueError) as error:
        sla.business_hours()
    assert str(error.value) == message


def test_naive_datetimes_and_negative_minutes_are_refused_in_so_many_words() -> None:
    hours = sla.business_hours()
    with translation.override("en"):
        for call in (lambda: hours.add(datetime(2025, 6, 2, 10), timedelta(1)),
                     lambda: hours.between(at(MON, 10), datetime(2025, 6, 2, 11))):  # fmt: skip
            with pytest.raises(ValueError) as naive:
                call()
            assert str(naive.value) == "SLA arithmetic needs timezone-aware datetimes."
        with pytest.raises(ValueError) as negative:
            hours.add(at(MON, 10), timedelta(minutes=-1))
        assert str(negative.value) == "Cannot add a negative number of business minutes."


def test_the_default_hours_are_nine_to_nine_every_day(settings: Any) -> None:
    del settings.SUPPORT_HOURS, settings.SUPPORT_WEEKDAYS
    assert sla.business_hours() == sla.BusinessHours(time(9), time(21), frozenset(range(7)), SH)


def test_a_started_clock_carries_its_dues_and_its_policy_s_targets() -> None:
    hours = sla.business_hours()
    assert sla.started(hours, at(MON, 10), 60, 480) == sla.Clock(at(MON, 11), at(MON, 18), None, None, 60, 480)
    long = sla.started(hours, at(MON, 10), 60, 5000)  # at risk with 1,000 business minutes left
    answered = sla.Clock(long.first_response_due, long.resolution_due, at(MON, 10, 5), None, 60, 5000)
    assert sla.state(hours, answered, at(WED, 9)) == S.OK
    assert sla.state(hours, replace(answered, first_response_minutes=None), at(MON, 10, 31)) == S.OK
    first = sla.started(hours, at(MON, 10), 1000, 5000)  # the first response is at risk 200 minutes before
    assert sla.state(hours, first, at(TUE, 11, 20)) == S.AT_RISK


def test_the_business_time_between_needs_aware_instants_at_both_ends() -> None:
    hours = sla.business_hours()
    for a, b in ((datetime(2025, 6, 2, 10), at(MON, 11)), (at(MON, 10), datetime(2025, 6, 2, 11))):
        with pytest.raises(ValueError):
            hours.between(a, b)


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12", "UTC"])  # UTC+14, UTC-12
def test_business_time_does_not_depend_on_the_machine_s_zone(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("TZ", zone)
    pytime.tzset()
    try:
        hours = sla.business_hours()
        assert hours.between(at(MON, 20), at(TUE, 10)) == timedelta(minutes=120)
        due = hours.add(at(MON, 20), timedelta(minutes=120))
        assert (due, due.utcoffset()) == (at(TUE, 10), timedelta(hours=8))
        assert hours.window(MON_DATE) == (datetime(2025, 6, 2, 1, tzinfo=UTC), datetime(2025, 6, 2, 13, tzinfo=UTC))
    finally:
        monkeypatch.undo()
        pytime.tzset()
