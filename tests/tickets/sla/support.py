"""What the SLA tests share: June 2025 (Monday the 2nd to Sunday the 8th, then Monday the 9th), tickets, policies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.crm import factories as f
from tickets import services, sla
from tickets.models import Department, SLAPolicy, Ticket

SH = ZoneInfo("Asia/Shanghai")
S = Ticket.SLAState


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute, tzinfo=SH)


MON, TUE, WED, THU, FRI, SAT, SUN, NEXT_MON = 2, 3, 4, 5, 6, 7, 8, 9
MON_DATE = date(2025, 6, 2)


def ticket_row(dept: Department, **fields: Any) -> Ticket:
    now = at(MON, 10)
    return Ticket.objects.create(subject="问题", department=dept, consumer=f.consumer(), created_at=now,
                                 updated_at=now, **fields)  # fmt: skip


def policy(name: str, first: int = 60, resolution: int = 480, **fields: Any) -> SLAPolicy:
    return SLAPolicy.objects.create(name=name, first_response_minutes=first, resolution_minutes=resolution, **fields)


def opened(dept: Department, when: datetime, **kw: Any) -> Ticket:
    return services.open_ticket(f.consumer(), subject="问题", department=dept, now=when, **kw)


def states(*tickets: Ticket) -> list[str]:
    by_pk = dict(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("pk", "sla_state"))
    return [by_pk[t.pk] for t in tickets]


def stored(ticket: Ticket) -> tuple[object, ...]:
    row = Ticket.objects.get(pk=ticket.pk)
    return (row.status, row.sla_policy_id, row.first_response_due, row.resolution_due, row.paused_at, row.sla_state)


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
