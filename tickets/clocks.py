"""A ticket's SLA clock: the policy that applies to it, and ``tickets.sla``'s arithmetic on its fields.

The services call these as a ticket opens, waits, comes back, is resolved or reopens; they set the
ticket's policy, dues, pause and state and never save (the calling service saves, with its own change).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from core.prepared import Prepared
from tickets import sla
from tickets.models import SLAPolicy, Ticket

State = Ticket.SLAState


def _policies(kind: str, priority: int, tier_id: int | None) -> QuerySet[SLAPolicy]:
    tier = Q(tier__isnull=True) if tier_id is None else Q(tier__isnull=True) | Q(tier_id=tier_id)
    one, zero = Value(1), Value(0)
    return (
        SLAPolicy.objects.filter(Q(kind="") | Q(kind=kind), tier, active=True)
        .filter(Q(priority__isnull=True) | Q(priority=priority))
        .annotate(
            specificity=Case(When(kind="", then=zero), default=one, output_field=IntegerField())
            + Case(When(priority__isnull=True, then=zero), default=one, output_field=IntegerField())
            + Case(When(tier__isnull=True, then=zero), default=one, output_field=IntegerField())
        )
        .order_by("-specificity", "pk")[:1]
    )


# Every ticket opened (every chat started) reads its policy: the query is compiled once per shape (core.prepared);
# the priority's marker is a small positive number, as the column holds (the ORM folds one out of range away).
_UNTIERED = Prepared(lambda kind, priority: _policies(kind, priority, None), kind="<kind>", priority=32_749)
_TIERED = Prepared(_policies, kind="<kind>", priority=32_749, tier_id=-1_000_000_017)


def policy_for(ticket: Ticket) -> SLAPolicy | None:
    """The most specific active policy for the ticket's kind, priority and tier, in one query.

    A blank field on a policy matches anything; the policy matching on the most non-blank fields wins,
    and the lowest id among equally specific ones.
    """
    if ticket.tier_id is None:
        found = _UNTIERED(kind=ticket.kind, priority=ticket.priority)
    else:
        found = _TIERED(kind=ticket.kind, priority=ticket.priority, tier_id=ticket.tier_id)
    return found[0] if found else None


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
