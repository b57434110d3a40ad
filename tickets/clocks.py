"""A ticket's SLA clock: the policy that applies to it, and ``tickets.sla``'s arithmetic on its fields.

The services call these as a ticket opens, waits, comes back, is resolved or reopens; they set the
ticket's policy, dues, pause and state and never save (the calling service saves, with its own change).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from django.db.models import Case, IntegerField, Q, Value, When

from tickets import sla
from tickets.models import SLAPolicy, Ticket

State = Ticket.SLAState


def policy_for(ticket: Ticket) -> SLAPolicy | None:
    """The most specific active policy for the ticket's kind, priority and tier, in one query.

    A blank field on a policy matches anything; the policy matching on the most non-blank fields wins,
    and the lowest id among equally specific ones.
    """
    tier = Q(tier__isnull=True) if ticket.tier_id is None else Q(tier__isnull=True) | Q(tier_id=ticket.tier_id)
    one, zero = Value(1), Value(0)
    return (
        SLAPolicy.objects.filter(Q(kind="") | Q(kind=ticket.kind), tier, active=True)
        .filter(Q(priority__isnull=True) | Q(priority=ticket.priority))
        .annotate(
            specificity=Case(When(kind="", then=zero), default=one, output_field=IntegerField())
            + Case(When(priority__isnull=True, then=zero), default=one, output_field=IntegerField())
            + Case(When(tier__isnull=True, then=zero), default=one, output_field=IntegerField())
        )
        .order_by("-specificity", "pk")
        .first()
    )


def clock_of(ticket: Ticket) -> sla.Clock:
    """The ticket's clock as values (its policy's targets read from ``ticket.sla_policy``)."""
    policy = ticket.sla_policy
    return sla.Clock(
        first_response_due=ticket.first_response_due,
        resolution_due=ticket.resolution_due,
        first_response_at=ticket.first_response_at,
        paused_at=ticket.paused_at,
        first_response_minutes=policy.first_response_minutes if policy else None,
        resolution_minutes=policy.resolution_minutes if policy else None,
    )


def _set(ticket: Ticket, clock: sla.Clock, state: str) -> None:
    ticket.first_response_due = clock.first_response_due
    ticket.resolution_due = clock.resolution_due
    ticket.paused_at = clock.paused_at
    ticket.sla_state = state


def start_clock(ticket: Ticket, now: datetime) -> None:
    """Apply the ticket's policy from ``now``: both dues, and the state they give (normally "ok").

    A reopened ticket starts again too; a first response it already had still counts. Without a policy
    the ticket has no dues and its state is "none".
    """
    policy = policy_for(ticket)
    ticket.sla_policy = policy
    if policy is None:
        _set(ticket, sla.Clock(), State.NONE)
        return
    hours = sla.business_hours()
    clock = sla.started(hours, now, policy.first_response_minutes, policy.resolution_minutes)
    clock = replace(clock, first_response_at=ticket.first_response_at)
    _set(ticket, clock, sla.state(hours, clock, now))


def pause_clock(ticket: Ticket, now: datetime) -> None:
    """Stop the clock while the ticket waits on the consumer (a ticket with dues, not paused yet)."""
    clock = clock_of(ticket)
    stopped = sla.paused(clock, now)
    if stopped != clock:
        _set(ticket, stopped, State.PAUSED)


def resume_clock(ticket: Ticket, now: datetime) -> None:
    """Restart a paused clock: the dues move later by the business minutes spent paused."""
    if ticket.paused_at is None:
        return
    hours = sla.business_hours()
    clock = sla.resumed(hours, clock_of(ticket), now)
    _set(ticket, clock, sla.state(hours, clock, now))


def stop_clock(ticket: Ticket, now: datetime) -> None:
    """Settle the SLA of a ticket resolved at ``now``: "met", "breached", or "none" without dues."""
    clock, state = sla.settled(sla.business_hours(), clock_of(ticket), now)
    _set(ticket, clock, state)


def state_at(ticket: Ticket, now: datetime) -> str:
    """The SLA state of an open ticket at ``now`` (``sla.state`` on its fields)."""
    return sla.state(sla.business_hours(), clock_of(ticket), now)
