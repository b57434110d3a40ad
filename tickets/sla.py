"""SLA arithmetic: business minutes over the staffed hours, dues, pauses and states. Values in, values out.

Nothing here reads or writes the database: ``tickets.clocks`` applies these functions to a ticket's fields
and finds its policy, and ``tickets.escalation`` is the every-minute check that stores what changed.

Business hours are ``SUPPORT_HOURS`` ("09:00-21:00", local time in ``TIME_ZONE``; an end of "24:00" is
midnight) on ``SUPPORT_WEEKDAYS`` ("0-6", Monday is 0; "0-4", "0,2,4", "0-4,6"). ``business_hours()``
reads and checks both on every call, so a changed setting needs no restart; everything else takes the
hours as a value (a ``Calendar``: ``BusinessHours``, or a ``Timetable`` precomputed over a span of days).

Dues are instants. The clock only runs in business hours: a ticket opened at night is due a number of
business minutes after the next opening, and the business minutes a ticket spends waiting on the
consumer are added to its dues when it comes back.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets.models import Ticket

State = Ticket.SLAState
# A pending target is at risk when at most this much business time is left, or this share of its
# target, whichever is more.
AT_RISK_FLOOR = timedelta(minutes=30)
AT_RISK_SHARE = 0.2
DAY = timedelta(days=1)
ZERO = timedelta(0)

_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_WEEKDAYS = re.compile(r"^\s*(\d)\s*(?:-\s*(\d)\s*)?$")


class Calendar(Protocol):
    """Business time: what ``BusinessHours`` and ``Timetable`` both answer, the same way."""

    def add(self, start: datetime, amount: timedelta) -> datetime: ...

    def between(self, a: datetime, b: datetime) -> timedelta: ...


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

    def add(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant ``amount`` of business time after ``start``; ``start`` itself for zero.

        Counting begins at the next opening; a count that runs out exactly at a closing returns that
        closing. Steps a calendar day at a time; the result is in the zone of the hours.
        """
        _require_aware(start)
        if amount < ZERO:
            raise ValueError(_("Cannot add a negative number of business minutes."))
        if not amount:
            return start
        at = start.astimezone(UTC)
        day = start.astimezone(self.tz).date()
        while True:  # one step per calendar day; there is at least one open weekday, so it ends
            window = self.window(day)
            if window is not None:
                begin, end = max(at, window[0]), window[1]
                if begin < end:
                    if amount <= end - begin:
                        return (begin + amount).astimezone(self.tz)
                    amount -= end - begin
            day += DAY

    def between(self, a: datetime, b: datetime) -> timedelta:
        """The business time in [a, b); zero when b <= a."""
        _require_aware(a, b)
        total = ZERO
        if b <= a:
            return total
        a, b = a.astimezone(UTC), b.astimezone(UTC)
        day, last = a.astimezone(self.tz).date(), b.astimezone(self.tz).date()
        while day <= last:
            window = self.window(day)
            if window is not None:
                begin, end = max(a, window[0]), min(b, window[1])
                if begin < end:
                    total += end - begin
            day += DAY
        return total


class Timetable:
    """``BusinessHours`` worked out once for the days ``first`` to ``last``: the same answers by bisection.

    For a million dues at a time (the demo's seeder), where ``BusinessHours`` walks calendar days on each
    call. Instants outside the span are asked of the hours themselves.
    """

    def __init__(self, hours: BusinessHours, first: date, last: date) -> None:
        self.hours = hours
        self.opens: list[datetime] = []
        self.before: list[timedelta] = []  # business time before each window opens
        self.through: list[timedelta] = []  # ... and by the time it closes
        total = ZERO
        day = first
        while day <= last:
            window = hours.window(day)
            if window is not None:
                self.opens.append(window[0])
                self.before.append(total)
                total += window[1] - window[0]
                self.through.append(total)
            day += DAY
        self.closes = self.opens[-1] + (self.through[-1] - self.before[-1]) if self.opens else None

    def business(self, at: datetime) -> timedelta:
        """Business time from the span's first opening to ``at`` (inside the span)."""
        i = bisect_right(self.opens, at) - 1
        if i < 0:
            raise ValueError("before the timetable's first day")
        return min(self.before[i] + (at - self.opens[i]), self.through[i])

    def instant(self, business: timedelta) -> datetime:
        """The earliest instant with ``business`` (> 0, inside the span) before it: a closing, not the next opening."""
        j = bisect_left(self.through, business)
        return (self.opens[j] + (business - self.before[j])).astimezone(self.hours.tz)

    def _inside(self, *instants: datetime) -> bool:
        return self.closes is not None and all(self.opens[0] <= at <= self.closes for at in instants)

    def add(self, start: datetime, amount: timedelta) -> datetime:
        if self._inside(start) and ZERO < amount <= self.through[-1] - self.business(start):
            return self.instant(self.business(start) + amount)
        return self.hours.add(start, amount)

    def between(self, a: datetime, b: datetime) -> timedelta:
        if self._inside(a, b):
            return max(ZERO, self.business(b) - self.business(a))
        return self.hours.between(a, b)


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


def add_business_minutes(start: datetime, minutes: int) -> datetime:
    """The instant ``minutes`` business minutes after ``start`` (aware, in TIME_ZONE), under the settings' hours.

    Outside business hours counting begins at the next opening. A count that runs out exactly at a
    closing returns that closing, not the next opening; ``minutes=0`` returns ``start`` unchanged.
    Negative minutes and naive datetimes raise ValueError.
    """
    return business_hours().add(start, timedelta(minutes=minutes))


def business_minutes_between(a: datetime, b: datetime) -> float:
    """The business minutes in [a, b) under the settings' hours; 0 when b <= a."""
    return business_hours().between(a, b).total_seconds() / 60


# --- a ticket's clock as values ---------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """A ticket's SLA clock: its dues, its first response, the start of a pause, and its policy's targets.

    The targets (minutes) decide when a pending due is at risk; ``None`` once the policy is deleted.
    """

    first_response_due: datetime | None = None
    resolution_due: datetime | None = None
    first_response_at: datetime | None = None
    paused_at: datetime | None = None
    first_response_minutes: int | None = None
    resolution_minutes: int | None = None

    @property
    def has_dues(self) -> bool:
        return self.first_response_due is not None or self.resolution_due is not None


def started(calendar: Calendar, now: datetime, first_response_minutes: int, resolution_minutes: int) -> Clock:
    """A clock started at ``now`` under a policy of these targets: both dues, nothing answered, not paused."""
    return Clock(
        first_response_due=calendar.add(now, timedelta(minutes=first_response_minutes)),
        resolution_due=calendar.add(now, timedelta(minutes=resolution_minutes)),
        first_response_minutes=first_response_minutes,
        resolution_minutes=resolution_minutes,
    )


def paused(clock: Clock, now: datetime) -> Clock:
    """The clock stopped at ``now`` while the ticket waits on the consumer; unchanged without dues or if paused."""
    if not clock.has_dues or clock.paused_at is not None:
        return clock
    return replace(clock, paused_at=now)


def resumed(calendar: Calendar, clock: Clock, now: datetime) -> Clock:
    """A paused clock running again at ``now``: the dues move later by the business time spent paused.

    Each due moves so that the business time left to it (or past it, for one already missed) is what
    it was when the clock stopped. The first-response due moves only if there has been no response.
    """
    if clock.paused_at is None:
        return clock
    waited = calendar.between(clock.paused_at, now)
    first_due, resolution_due = clock.first_response_due, clock.resolution_due
    if first_due is not None and clock.first_response_at is None:
        first_due = calendar.add(first_due, waited)
    if resolution_due is not None:
        resolution_due = calendar.add(resolution_due, waited)
    return replace(clock, first_response_due=first_due, resolution_due=resolution_due, paused_at=None)


def breached(clock: Clock, now: datetime) -> bool:
    """A due has passed unmet by ``now``: a first response after its due stays a breach."""
    first_due, answered = clock.first_response_due, clock.first_response_at
    if first_due is not None and (answered or now) > first_due:
        return True
    return clock.resolution_due is not None and now > clock.resolution_due


def state(calendar: Calendar, clock: Clock, now: datetime) -> str:
    """The SLA state of an open ticket's clock at ``now``.

    "none" without dues; "paused" while paused; "breached" once a due has passed unmet; "at_risk" when a
    pending target has at most max(30, 20% of its policy minutes) business minutes left; "ok" otherwise.
    """
    if not clock.has_dues:
        return State.NONE
    if clock.paused_at is not None:
        return State.PAUSED
    if breached(clock, now):
        return State.BREACHED
    pending: list[tuple[datetime, int | None]] = []
    if clock.first_response_due is not None and clock.first_response_at is None:
        pending.append((clock.first_response_due, clock.first_response_minutes))
    if clock.resolution_due is not None:
        pending.append((clock.resolution_due, clock.resolution_minutes))
    for due, target in pending:
        if calendar.between(now, due) <= at_risk_within(target):
            return State.AT_RISK
    return State.OK


def settled(calendar: Calendar, clock: Clock, now: datetime) -> tuple[Clock, str]:
    """The clock of a ticket resolved at ``now`` and its final state.

    "met" if resolved by its resolution due with its first response (if one was due) in time; "breached"
    otherwise; "none" without dues. A ticket resolved while paused first has its dues moved for the
    pause, so waiting on the consumer never counts against it.
    """
    clock = resumed(calendar, clock, now)
    if not clock.has_dues:
        return clock, State.NONE
    return clock, State.BREACHED if breached(clock, now) else State.MET


def at_risk_within(target_minutes: int | None) -> timedelta:
    """How much business time left makes a due at risk; a ticket whose policy is gone gets the floor only."""
    return max(AT_RISK_FLOOR, timedelta(minutes=target_minutes or 0) * AT_RISK_SHARE)


def horizon(calendar: Calendar, now: datetime, longest_target_minutes: int) -> datetime:
    """No due later than this can be at risk at ``now`` under any policy whose targets are at most this long.

    The extra minute also takes in dues between a closing and the next opening, which are all the same
    business time away.
    """
    return calendar.add(now, at_risk_within(longest_target_minutes) + timedelta(minutes=1))
