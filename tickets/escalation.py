"""The every-minute SLA check: running clocks move to "ok", "at_risk" or "breached", the newly breached escalate.

The arithmetic is ``tickets.sla``'s; this module reads the candidates, stores the new states with a
timeline entry each, and escalates through ``tickets.services.escalate_ticket``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from tickets import sla
from tickets.clocks import clock_of
from tickets.models import OPEN_STATUSES, SLAPolicy, Ticket, TicketEvent
from tickets.services import escalate_ticket

State = Ticket.SLAState

_FIELDS = (
    "sla_state", "first_response_due", "resolution_due", "first_response_at", "paused_at", "escalated_at",
    "sla_policy__first_response_minutes", "sla_policy__resolution_minutes",
)  # fmt: skip


def check_sla(now: datetime | None = None) -> dict[str, int]:
    """Move running clocks to "ok", "at_risk" or "breached", and escalate the newly breached.

    Reads only the candidates (see ``_candidates``) without locks, then locks just the rows whose state
    changes with ``skip_locked`` and recomputes them from the locked rows: a row an agent (or another
    run) holds is left for the next minute, and a row another run already marked is not escalated
    twice. One UPDATE per new state; ``escalate_ticket`` per newly breached ticket not yet escalated.
    Returns how many tickets became at risk, became breached, and were escalated.
    """
    now = now or timezone.now()
    hours = sla.business_hours()
    counts = {State.AT_RISK.value: 0, State.BREACHED.value: 0, "escalated": 0}
    tickets = Ticket.objects.select_related("sla_policy").only(*_FIELDS)
    changed = _changes(hours, tickets.filter(_candidates(hours, now)).iterator(chunk_size=2000), now)
    if not changed:
        return counts
    with transaction.atomic():
        locked = (
            tickets.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=list(changed), status__in=OPEN_STATUSES, paused_at__isnull=True)
            .order_by("pk")
        )
        changed = _changes(hours, locked, now)
        by_state: dict[str, list[int]] = {}
        for pk, (_ticket, state) in changed.items():
            by_state.setdefault(state, []).append(pk)
        for state, pks in sorted(by_state.items()):
            Ticket.objects.filter(pk__in=pks).update(sla_state=state)
            if state in counts:
                counts[state] = len(pks)
        # Nothing on a ticket changes without a timeline entry: one insert for every change.
        TicketEvent.objects.bulk_create(
            TicketEvent(
                ticket_id=pk,
                kind=TicketEvent.Kind.SLA,
                author_kind=TicketEvent.Author.SYSTEM,
                data={"from": ticket.sla_state, "to": state},
                created_at=now,
            )
            for pk, (ticket, state) in changed.items()
        )
        for ticket, state in changed.values():
            if state == State.BREACHED and ticket.escalated_at is None:
                escalate_ticket(ticket, reason="sla_breached", now=now)
                counts["escalated"] += 1
    return counts


def _candidates(hours: sla.Calendar, now: datetime) -> Q:
    """Open, running clocks whose state may change now: a pending due close enough to be at risk (or
    past), or marked at risk already (a reply or a pause may have made it safe again).

    Breached is final until a service restarts the clock, so those rows are never read again.
    """
    longest = SLAPolicy.objects.aggregate(
        first=Max("first_response_minutes"), resolution=Max("resolution_minutes")
    ).values()
    horizon = sla.horizon(hours, now, max((m or 0 for m in longest), default=0))
    return (
        Q(status__in=OPEN_STATUSES, paused_at__isnull=True)
        & (Q(first_response_due__isnull=False) | Q(resolution_due__isnull=False))
        & ~Q(sla_state=State.BREACHED)
        & (
            Q(first_response_at__isnull=True, first_response_due__lte=horizon)
            | Q(resolution_due__lte=horizon)
            | Q(sla_state=State.AT_RISK)
        )
    )


def _changes(hours: sla.Calendar, tickets: Iterable[Ticket], now: datetime) -> dict[int, tuple[Ticket, str]]:
    changed = {}
    for ticket in tickets:
        state = sla.state(hours, clock_of(ticket), now)
        if state != ticket.sla_state:
            changed[ticket.pk] = (ticket, state)
    return changed
