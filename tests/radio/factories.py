"""Builders for radio rows in tests: channels, tickets with the consumer's words, nominations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from radio import services, sources
from radio.models import Channel, Nomination
from tests.crm import factories as f
from tickets import services as ticket_services
from tickets.models import Department, Ticket, TicketEvent


def department(code: str = "logistics", name: str = "物流") -> Department:
    return Department.objects.get_or_create(code=code, defaults={"name": name})[0]


def channel(code: str, name: str | None = None, *, dept: Department | None = None, **fields: Any) -> Channel:
    return Channel.objects.create(code=code, name=name or code, department=dept or department(), **fields)


def ticket(*messages: str, dept: Department | None = None, subject: str = "快递三天没动") -> Ticket:
    """A ticket whose consumer wrote ``messages`` (an agent's reply sits between them)."""
    who = f.consumer(display_name="王小明", phone="13800138000")
    made = ticket_services.open_ticket(who, subject=subject, department=dept or department(), body=messages[0]
                                       if messages else "", route=False)  # fmt: skip
    ticket_services.add_message(made, body="您好，正在为您核实", author_kind=TicketEvent.Author.AGENT)
    for text in messages[1:]:
        ticket_services.add_message(made, body=text, author_kind=TicketEvent.Author.CONSUMER)
    return made


def nomination(
    by: User, *, quote: str = "快递三天没动了", channel: Channel | None = None, severity: int | None = None,
    nominated_at: datetime | None = None, **source: Any,
) -> Nomination:  # fmt: skip
    made = source.get("ticket") or ticket(quote)
    resolved = sources.resolve("ticket", made.pk)
    nominated, _created = services.nominate(resolved, by=by, quote=quote, note="这周第三次了", channel=channel,
                                            severity=severity, now=nominated_at)  # fmt: skip
    return nominated


def approved(by: User, curator: User, channels: Sequence[Channel], *, at: datetime | None = None,
             **fields: Any) -> Nomination:  # fmt: skip
    made = nomination(by, **fields)
    when = at or fields.get("nominated_at") or timezone.now()
    return services.approve_nomination(made, channels, by=curator, now=when)
