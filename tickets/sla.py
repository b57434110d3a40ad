"""SLA clocks: business-hours arithmetic, pausing while we wait on the consumer, and the every-minute check.

Business hours are ``SUPPORT_HOURS`` ("09:00-21:00", local time in ``TIME_ZONE``; an end of "24:00" is
midnight) on ``SUPPORT_WEEKDAYS`` ("0-6", Monday is 0; "0-4", "0,2,4", "0-4,6"). Both are read, and
checked, on every call, so a changed setting needs no restart.

Dues are instants. The clock only runs in business hours: a ticket opened at night is due a number of
business minutes after the next opening, and the business minutes a ticket spends waiting on the
consumer are added to its dues when it comes back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Case, IntegerField, Max, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets.models import OPEN_STATUSES, SLAPolicy, Ticket, TicketEvent

if TYPE_CHECKING:
    from collections.abc import Iterable

State = Ticket.SLAState
# A pending target is at risk when at most this much business time is left, or this share of its
# target, whichever is more.
AT_RISK_FLOOR = timedelta(minutes=30)
AT_RISK_SHARE = 0.2
DAY = timedelta(days=1)

_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_WEEKDAYS = re.compile(r"^\s*(\d)\s*(?:-\s*(\d)\s*)?$")


@dataclass(frozen=True)
class BusinessHours:
    """One day's opening and closing times (closing ``None`` is midnight), the open weekdays, the zone."""

    opens: time
    closes: time | None
    weekdays: frozenset[int]
    tz: tzinfo

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's open interval as UTC instants, or None on a closed weekday."""
        if day.weekday() not in self.weekdays:
            return None
        opens = datetime.combine(day, self.opens, tzinfo=self.tz)
        if self.closes is None:
            closes = datetime.combine(day + DAY, time(0), tzinfo=self.tz)
        else:
            closes = datetime.combine(day, self.closes, tzinfo=self.tz)
        # Aware arithmetic between datetimes sharing a tzinfo ignores their offsets: work in UTC.
        return opens.astimezone(UTC), closes.astimezone(UTC)


def business_hours() -> BusinessHours:
    """Parse SUPPORT_HOURS and SUPPORT_WEEKDAYS; a bad value raises ValueError naming the setting."""
    hours = str(getattr(settings, "SUPPORT_HOURS", "09:00-21:00"))
    weekdays = str(getattr(settings, "SUPPORT_WEEKDAYS", "0-6"))
    opens, closes = _parse_hours(hours)
    return BusinessHours(opens, closes, _parse_weekdays(weekdays), timezone.get_default_timezone())


def _parse_hours(value: str) -> tuple[time, time | None]:
    bad = _("SUPPORT_HOURS must look like “09:00-21:00” (an end of 24:00 is midnight), not “%(value)s”.")
    match = _HOURS.match(value)
    if not match:
        raise ValueError(bad % {"value": value})
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise ValueError(bad % {"value": value})
    if (h1, m1) >= (h2, m2):
        raise ValueError(
            _("SUPPORT_HOURS must open before it closes on the same day, not “%(value)s”.") % {"value": value}
        )
    return time(h1, m1), None if h2 == 24 else time(h2, m2)


def _parse_weekdays(value: str) -> frozenset[int]:
    days: set[int] = set()
    for item in value.split(","):
        match = _WEEKDAYS.match(item)
        first, last = (int(match[1]), int(match[2] or match[1])) if match else (0, -1)
        if not match or last > 6 or first > last:
            raise ValueError(
                _("SUPPORT_WEEKDAYS must list days 0 (Monday) to 6 and ranges such as “0-4,6”, not “%(value)s”.")
                % {"value": value}
            )
        days.update(range(first, last + 1))
    return frozenset(days)


def _require_aware(*instants: datetime) -> None:
    if any(timezone.is_naive(at) for at in instants):
        raise ValueError(_("SLA arithmetic needs timezone-aware datetimes."))


def _add(hours: BusinessHours, start: datetime, amount: timedelta) -> datetime:
    """The earliest instant ``amount`` of business time after ``start``; ``start`` itself for zero."""
    if amount < timedelta(0):
        raise ValueError(_("Cannot add a negative number of business minutes."))
    if not amount:
        return start
    at = start.astimezone(UTC)
    day = start.astimezone(hours.tz).date()
    while True:  # one step per calendar day; there is at least one open weekday, so it ends
        window = hours.window(day)
        if window is not None:
            begin, end = max(at, window[0]), window[1]
            if begin < end:
                if amount <= end - begin:
                    return (begin + amount).astimezone(hours.tz)
                amount -= end - begin
        day += DAY


def _between(hours: BusinessHours, a: datetime, b: datetime) -> timedelta:
    """The business time in [a, b); zero when b <= a."""
    total = timedelta(0)
    if b <= a:
        return total
    a, b = a.astimezone(UTC), b.astimezone(UTC)
    day, last = a.astimezone(hours.tz).date(), b.astimezone(hours.tz).date()
    while day <= last:
        window = hours.window(day)
        if window is not None:
            begin, end = max(a, window[0]), min(b, window[1])
            if begin < end:
                total += end - begin
        day += DAY
    return total


def add_business_minutes(start: datetime, minutes: int) -> datetime:
    """The instant ``minutes`` business minutes after ``start`` (aware, in TIME_ZONE).

    Outside business hours counting begins at the next opening. A count that runs out exactly at a
    closing returns that closing, not the next opening; ``minutes=0`` returns ``start`` unchanged.
    Negative minutes and naive datetimes raise ValueError. Steps a calendar day at a time.
    """
    _require_aware(start)
    return _add(business_hours(), start, timedelta(minutes=minutes))


def business_minutes_between(a: datetime, b: datetime) -> float:
    """The business minutes in [a, b); 0 when b <= a."""
    _require_aware(a, b)
    return _between(business_hours(), a, b).total_seconds() / 60


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


def start_clock(ticket: Ticket, now: datetime) -> None:
    """Apply the ticket's policy from ``now``: both dues, and the state they give (normally "ok").

    Without a policy the ticket has no dues and its state is "none". Does not save.
    """
    policy = policy_for(ticket)
    ticket.sla_policy = policy
    ticket.paused_at = None
    if policy is None:
        ticket.first_response_due = ticket.resolution_due = None
        ticket.sla_state = State.NONE
        return
    hours = business_hours()
    ticket.first_response_due = _add(hours, now, timedelta(minutes=policy.first_response_minutes))
    ticket.resolution_due = _add(hours, now, timedelta(minutes=policy.resolution_minutes))
    ticket.sla_state = _state(hours, ticket, now)


def pause_clock(ticket: Ticket, now: datetime) -> None:
    """Stop the clock while the ticket waits on the consumer: a ticket with dues, not paused yet. Does not save."""
    if _has_dues(ticket) and ticket.paused_at is None:
        ticket.paused_at = now
        ticket.sla_state = State.PAUSED


def resume_clock(ticket: Ticket, now: datetime) -> None:
    """Restart a paused clock: the dues move later by the business minutes spent paused. Does not save.

    Each due moves so that the business time left to it (or past it, for one already missed) is what
    it was when the clock stopped. The first-response due moves only if there has been no response.
    """
    if ticket.paused_at is None:
        return
    hours = business_hours()
    _shift_for_pause(hours, ticket, now)
    ticket.sla_state = _state(hours, ticket, now)


def stop_clock(ticket: Ticket, now: datetime) -> None:
    """Settle the SLA when the ticket is resolved at ``now``. Does not save.

    "met" if it is resolved by its resolution due and its first response (if one was due) came in
    time; "breached" otherwise; a ticket without dues keeps "none". A ticket resolved while paused
    first has its dues moved for the pause, so waiting on the consumer never counts against it.
    """
    hours = business_hours()
    _shift_for_pause(hours, ticket, now)
    if not _has_dues(ticket):
        ticket.sla_state = State.NONE
    elif _breached(ticket, now):
        ticket.sla_state = State.BREACHED
    else:
        ticket.sla_state = State.MET


def state_at(ticket: Ticket, now: datetime) -> str:
    """The SLA state of an open ticket at ``now``.

    "none" without dues; "paused" while paused; "breached" once a due has passed unmet (a first
    response after its due stays a breach); "at_risk" when a pending target has at most
    max(30, 20% of its policy minutes) business minutes left; "ok" otherwise.
    """
    return _state(business_hours(), ticket, now)


def _has_dues(ticket: Ticket) -> bool:
    return ticket.first_response_due is not None or ticket.resolution_due is not None


def _shift_for_pause(hours: BusinessHours, ticket: Ticket, now: datetime) -> None:
    if ticket.paused_at is None:
        return
    paused = _between(hours, ticket.paused_at, now)
    if ticket.first_response_due is not None and ticket.first_response_at is None:
        ticket.first_response_due = _add(hours, ticket.first_response_due, paused)
    if ticket.resolution_due is not None:
        ticket.resolution_due = _add(hours, ticket.resolution_due, paused)
    ticket.paused_at = None


def _breached(ticket: Ticket, now: datetime) -> bool:
    first_due, answered = ticket.first_response_due, ticket.first_response_at
    if first_due is not None and (answered or now) > first_due:
        return True
    return ticket.resolution_due is not None and now > ticket.resolution_due


def _state(hours: BusinessHours, ticket: Ticket, now: datetime) -> str:
    if not _has_dues(ticket):
        return State.NONE
    if ticket.paused_at is not None:
        return State.PAUSED
    if _breached(ticket, now):
        return State.BREACHED
    policy = ticket.sla_policy
    pending: list[tuple[datetime, int | None]] = []
    if ticket.first_response_due is not None and ticket.first_response_at is None:
        pending.append((ticket.first_response_due, policy.first_response_minutes if policy else None))
    if ticket.resolution_due is not None:
        pending.append((ticket.resolution_due, policy.resolution_minutes if policy else None))
    for due, target in pending:
        if _between(hours, now, due) <= _at_risk_within(target):
            return State.AT_RISK
    return State.OK


def _at_risk_within(target_minutes: int | None) -> timedelta:
    # A ticket whose policy has since been deleted keeps its dues; only the floor applies to it.
    return max(AT_RISK_FLOOR, timedelta(minutes=target_minutes or 0) * AT_RISK_SHARE)


def _candidates(hours: BusinessHours, now: datetime) -> Q:
    """Open, running clocks whose state may change now: a pending due close enough to be at risk (or
    past), or marked at risk already (a reply or a pause may have made it safe again).

    Breached is final until a service restarts the clock, so those rows are never read again.
    """
    longest = SLAPolicy.objects.aggregate(
        first=Max("first_response_minutes"), resolution=Max("resolution_minutes")
    ).values()
    # No due later than this can be at risk under any policy. The extra minute also takes in dues
    # between a closing and the next opening, which are all the same business time away.
    horizon = _add(hours, now, _at_risk_within(max((m or 0 for m in longest), default=0)) + timedelta(minutes=1))
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


_FIELDS = (
    "sla_state", "first_response_due", "resolution_due", "first_response_at", "paused_at", "escalated_at",
    "sla_policy__first_response_minutes", "sla_policy__resolution_minutes",
)  # fmt: skip


def _changes(hours: BusinessHours, tickets: Iterable[Ticket], now: datetime) -> dict[int, tuple[Ticket, str]]:
    changed = {}
    for ticket in tickets:
        state = _state(hours, ticket, now)
        if state != ticket.sla_state:
            changed[ticket.pk] = (ticket, state)
    return changed


def check_sla(now: datetime | None = None) -> dict[str, int]:
    """The every-minute job: move running clocks to "ok", "at_risk" or "breached", and escalate the
    newly breached.

    Reads only the candidates (see ``_candidates``) without locks, then locks just the rows whose state
    changes with ``skip_locked`` and recomputes them from the locked rows: a row an agent (or another
    run) holds is left for the next minute, and a row another run already marked is not escalated
    twice. One UPDATE per new state; ``escalate_ticket`` per newly breached ticket not yet escalated.
    Returns how many tickets became at risk, became breached, and were escalated.
    """
    from tickets.services import escalate_ticket

    now = now or timezone.now()
    hours = business_hours()
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
