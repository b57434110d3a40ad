"""Every change to a ticket: one function each, and each leaves a timeline entry."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Func, Q, QuerySet, TextField, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from core.realtime import role_group, send_event, user_group
from core.roles import SUPERVISOR
from core.tenancy import is_merchant_staff
from core.users import Actor
from crm.models import Consumer, Order
from crm.services import record_dispute_outcome
from tickets import clocks, surveys
from tickets.models import OPEN_STATUSES, AgentProfile, CannedReply, Department, Ticket, TicketEvent

PLACEHOLDER = re.compile(r"\{(\w+)\}")
S = Ticket.Status
# Which status may follow which. Anything else is refused with a message naming both.
TRANSITIONS: dict[str, set[str]] = {
    S.NEW: {S.OPEN, S.PENDING, S.RESOLVED},
    S.OPEN: {S.PENDING, S.RESOLVED},
    S.PENDING: {S.OPEN, S.RESOLVED},
    S.RESOLVED: {S.OPEN, S.CLOSED},
    S.CLOSED: set(),
}
Author = TicketEvent.Author
# A complaint or a dispute about a shop is the platform's to settle: the shop's staff may reply and propose,
# never park it (pending stops its clock), resolve or close it.
PLATFORM_KINDS = frozenset({Ticket.Kind.COMPLAINT, Ticket.Kind.DISPUTE})
PLATFORM_DECISIONS = frozenset({S.PENDING, S.RESOLVED, S.CLOSED})


def may_move(user: Actor, ticket: Ticket, to: str) -> bool:
    """May ``user`` move ``ticket`` to status ``to``? The one rule of the API, the ticket page and every caller:
    merchant staff (who see only their own shop's tickets) never decide a complaint or dispute about it."""
    return not (to in PLATFORM_DECISIONS and ticket.kind in PLATFORM_KINDS and is_merchant_staff(user))


def transitions_for(user: Actor, ticket: Ticket) -> list[str]:
    """The statuses ``user`` may move ``ticket`` to now (the ticket page's buttons)."""
    return sorted(to for to in TRANSITIONS[ticket.status] if may_move(user, ticket, to))


def _event(ticket: Ticket, kind: str, *, author_kind: str, author: Any = None, body: str = "",
           data: dict[str, Any] | None = None, now: datetime) -> TicketEvent:  # fmt: skip
    return TicketEvent.objects.create(
        ticket=ticket, kind=kind, author_kind=author_kind, author=author, body=body, data=data or {}, created_at=now
    )


def _locked(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


@transaction.atomic
def open_ticket(
    consumer: Consumer,
    *,
    subject: str,
    department: Department,
    kind: str = Ticket.Kind.CONSULTATION,
    channel: str = Ticket.Channel.WEB,
    priority: int = Ticket.Priority.NORMAL,
    order: Order | None = None,
    body: str = "",
    author_kind: str = Author.CONSUMER,
    author: Any = None,
    now: datetime | None = None,
    route: bool = True,
    merchant_id: int | None = None,
) -> Ticket:
    """Open a ticket for a consumer (from the web, a call, a chat handoff, or an agent).

    ``route=False`` leaves it out of automatic assignment (a live chat is routed by its own queue).
    """
    now = now or timezone.now()
    if order is not None and order.consumer_id != consumer.pk:
        raise ValidationError({"order": _("This order belongs to another consumer.")})
    if not subject.strip():
        raise ValidationError({"subject": _("A ticket needs a subject.")})
    ticket = Ticket(
        subject=subject.strip()[:200], kind=kind, channel=channel, priority=priority, department=department,
        consumer=consumer, tier_id=consumer.tier_id, order=order,
        merchant_id=order.merchant_id if order else merchant_id, created_at=now, updated_at=now,
    )  # fmt: skip
    clocks.start_clock(ticket, now)
    ticket.full_clean(exclude=["assignee", "sla_policy", "order", "merchant", "tier", "consumer", "department"])
    ticket.save()
    _event(ticket, TicketEvent.Kind.CREATED, author_kind=author_kind, author=author, now=now,
           data={"kind": kind, "channel": channel, "priority": priority})  # fmt: skip
    if body.strip():
        _event(ticket, TicketEvent.Kind.MESSAGE, author_kind=author_kind, author=author, body=body.strip(), now=now)
    # Routed to an available agent of the department once the ticket is committed.
    if route:
        transaction.on_commit(lambda: auto_assign(ticket))
    return ticket


@transaction.atomic
def transition_ticket(
    ticket: Ticket,
    to: str,
    *,
    by: Actor | None = None,
    now: datetime | None = None,
    note: str = "",
    _with_outcome: bool = False,
) -> Ticket:
    """Move a ticket to another status, if the transition table allows it and ``by`` may (``may_move``)."""
    now = now or timezone.now()
    ticket = _locked(ticket)
    if to not in S.values:
        raise ValidationError({"status": _("Unknown status: %(status)s") % {"status": to}})
    if by is not None and not may_move(by, ticket, to):
        raise PermissionDenied(
            _(
                "A complaint or dispute about your shop is settled by the platform: you may reply and propose a"
                " solution, but not set it to “%(new)s”."
            )
            % {"new": S(to).label}
        )
    if to not in TRANSITIONS[ticket.status]:
        raise ValidationError(
            {
                "status": _("A ticket that is “%(current)s” cannot become “%(new)s”.")
                % {"current": S(ticket.status).label, "new": S(to).label}
            }
        )
    if to == S.RESOLVED and ticket.kind == Ticket.Kind.DISPUTE and ticket.order_id and not _with_outcome:
        raise ValidationError(
            {"status": _("Resolve a dispute with its outcome (won by the consumer or the merchant).")}
        )
    before = ticket.status
    if to == S.PENDING:
        clocks.pause_clock(ticket, now)
    elif before == S.PENDING:
        clocks.resume_clock(ticket, now)
    if to == S.RESOLVED:
        clocks.stop_clock(ticket, now)
        ticket.resolved_at = now
    if before == S.RESOLVED and to == S.OPEN:  # reopened: the resolution clock runs again
        ticket.resolved_at = None
        clocks.start_clock(ticket, now)
    ticket.status = to
    ticket.updated_at = now
    ticket.save()
    _event(ticket, TicketEvent.Kind.STATUS, author_kind=Author.AGENT if by else Author.SYSTEM, author=by,
           body=note, data={"from": before, "to": to}, now=now)  # fmt: skip
    if to == S.RESOLVED and (notice := surveys.resolution_notice(ticket)):  # a phone or web ticket: its CSAT link
        _event(ticket, TicketEvent.Kind.MESSAGE, author_kind=Author.SYSTEM, body=notice, data={"survey": True}, now=now)
    return ticket


@transaction.atomic
def add_message(
    ticket: Ticket, *, body: str, author_kind: str, author: Any = None, internal: bool = False,
    now: datetime | None = None, data: dict[str, Any] | None = None,
) -> TicketEvent:  # fmt: skip
    """A message on the timeline (or an internal note). An agent's first reply stops the first-response clock;
    a consumer's message on a ticket waiting for them puts it back in the agents' hands."""
    now = now or timezone.now()
    body = body.strip()
    if not body:
        raise ValidationError({"body": _("The message is empty.")})
    ticket = _locked(ticket)
    if ticket.status == S.CLOSED:
        raise ValidationError({"body": _("This ticket is closed; open a new one.")})
    kind = TicketEvent.Kind.NOTE if internal else TicketEvent.Kind.MESSAGE
    event = _event(ticket, kind, author_kind=author_kind, author=author, body=body, data=data, now=now)
    fields = ["updated_at"]
    if not internal and author_kind == Author.AGENT:
        if ticket.first_response_at is None:
            ticket.first_response_at = now
            fields.append("first_response_at")
        if ticket.status == S.NEW:
            ticket.status = S.OPEN
            fields.append("status")
            _event(
                ticket, TicketEvent.Kind.STATUS, author_kind=Author.SYSTEM, data={"from": S.NEW, "to": S.OPEN}, now=now
            )
    if not internal and author_kind == Author.CONSUMER and ticket.status in (S.PENDING, S.RESOLVED):
        before = ticket.status
        if before == S.PENDING:
            clocks.resume_clock(ticket, now)
        else:  # reopened after it was resolved: the resolution clock starts again
            ticket.resolved_at = None
            clocks.start_clock(ticket, now)
            fields += ["resolved_at", "sla_policy"]
        fields += ["first_response_due", "resolution_due", "sla_state", "paused_at"]
        ticket.status = S.OPEN
        fields.append("status")
        _event(ticket, TicketEvent.Kind.STATUS, author_kind=Author.SYSTEM, data={"from": before, "to": S.OPEN}, now=now)
    ticket.updated_at = now
    ticket.save(update_fields=fields)
    if ticket.assignee_id and author_kind != Author.AGENT:
        send_event(user_group(ticket.assignee_id), "ticket.message", {"ticket": ticket.pk})
    return event


@transaction.atomic
def assign_ticket(
    ticket: Ticket, agent: Actor | None, *, by: Actor | None = None, now: datetime | None = None
) -> Ticket:
    """Give a ticket to an agent (assign to me, reassign, transfer). ``agent=None`` puts it back in the queue."""
    now = now or timezone.now()
    ticket = _locked(ticket)
    if not ticket.is_open:
        raise ValidationError({"assignee": _("Only open tickets can be assigned.")})
    if agent is not None and not (agent.is_active and agent.is_staff):
        raise ValidationError({"assignee": _("%(user)s cannot work tickets.") % {"user": agent}})
    before = ticket.assignee_id
    if before == (agent.pk if agent else None):
        return ticket
    ticket.assignee = agent
    ticket.updated_at = now
    ticket.save(update_fields=["assignee", "updated_at"])
    _event(ticket, TicketEvent.Kind.ASSIGNMENT, author_kind=Author.AGENT if by else Author.SYSTEM, author=by,
           data={"from": before, "to": agent.pk if agent else None,
                 "to_name": agent.get_username() if agent else None}, now=now)  # fmt: skip
    if agent is not None:
        send_event(user_group(agent.pk), "ticket.assigned", {"ticket": ticket.pk})
    return ticket


@transaction.atomic
def transfer_ticket(
    ticket: Ticket, department: Department, *, by: Actor | None = None, now: datetime | None = None
) -> Ticket:
    """Move a ticket to another department's queue; it leaves its agent."""
    now = now or timezone.now()
    ticket = _locked(ticket)
    if not ticket.is_open:
        raise ValidationError({"department": _("Only open tickets can be transferred.")})
    if ticket.department_id == department.pk:
        return ticket
    before = ticket.department_id
    ticket.department = department
    ticket.assignee = None
    ticket.updated_at = now
    ticket.save(update_fields=["department", "assignee", "updated_at"])
    _event(ticket, TicketEvent.Kind.ASSIGNMENT, author_kind=Author.AGENT if by else Author.SYSTEM, author=by,
           data={"department_from": before, "department_to": department.pk, "department": department.name},
           now=now)  # fmt: skip
    return ticket


def auto_assign(ticket: Ticket, *, now: datetime | None = None) -> Ticket | None:
    """Give the ticket to the least-loaded available agent of its department who is under capacity.

    Agents' profiles are locked in a fixed order while choosing, so two tickets assigned at once
    cannot both take an agent's last free slot. Returns None when nobody can take it.
    """
    with transaction.atomic():
        ticket = _locked(ticket)
        if ticket.assignee_id is not None or not ticket.is_open:
            return None
        profiles = list(
            AgentProfile.objects.select_for_update()
            .filter(department_id=ticket.department_id, available=True, user__is_active=True)
            .order_by("pk")
        )
        if not profiles:
            return None
        loads = dict(
            Ticket.objects.filter(assignee_id__in=[p.user_id for p in profiles], status__in=OPEN_STATUSES)
            .values_list("assignee_id")
            .annotate(n=Count("pk"))
        )
        free = [(loads.get(p.user_id, 0), p.pk, p) for p in profiles if loads.get(p.user_id, 0) < p.capacity]
        if not free:
            return None
        _load, _pk, chosen = min(free, key=lambda item: (item[0], item[1]))
        return assign_ticket(ticket, chosen.user, now=now)


@transaction.atomic
def set_availability(agent: Actor, available: bool) -> AgentProfile:
    # update_or_create locks the row, and retries the read if a concurrent call created it first.
    profile, _created = AgentProfile.objects.update_or_create(user=agent, defaults={"available": available})
    return profile


@transaction.atomic
def set_priority(ticket: Ticket, priority: int, *, by: Actor | None, now: datetime | None = None) -> Ticket:
    """Set a ticket's priority (an agent's choice, unlike ``escalate_ticket``'s one step up); a timeline entry
    with the priority before and after, none when it does not change."""
    now = now or timezone.now()
    if priority not in Ticket.Priority.values:
        raise ValidationError({"priority": _("Unknown priority.")})
    ticket = _locked(ticket)
    if ticket.priority == priority:
        return ticket
    before, ticket.priority, ticket.updated_at = ticket.priority, priority, now
    ticket.save(update_fields=["priority", "updated_at"])
    _event(ticket, TicketEvent.Kind.PRIORITY, author_kind=Author.AGENT if by else Author.SYSTEM, author=by,
           data={"from": before, "to": priority}, now=now)  # fmt: skip
    return ticket


@transaction.atomic
def add_tags(ticket: Ticket, tags: list[str], *, now: datetime | None = None) -> Ticket:
    """Add tags to a ticket (lower-cased, each once, in the order first given; blanks and tags it has dropped).
    No timeline entry: the timeline has no kind for tags (a new kind is a migration and the ticket page's)."""
    ticket = _locked(ticket)
    added = [tag for tag in dict.fromkeys(t.strip().lower() for t in tags) if tag and tag not in ticket.tags]
    if added:
        ticket.tags = [*ticket.tags, *added]
        ticket.updated_at = now or timezone.now()
        ticket.save(update_fields=["tags", "updated_at"])
    return ticket


@transaction.atomic
def escalate_ticket(ticket: Ticket, *, reason: str, by: Actor | None = None, now: datetime | None = None) -> Ticket:
    """Raise a ticket's priority and flag it escalated; a second escalation of the same ticket does nothing."""
    now = now or timezone.now()
    ticket = _locked(ticket)
    if ticket.escalated_at is not None:
        return ticket
    if not ticket.is_open:
        raise ValidationError({"priority": _("Only open tickets can be escalated.")})
    before = ticket.priority
    ticket.priority = min(ticket.priority + 1, Ticket.Priority.URGENT)
    ticket.escalated_at = now
    ticket.updated_at = now
    ticket.save(update_fields=["priority", "escalated_at", "updated_at"])
    _event(ticket, TicketEvent.Kind.PRIORITY, author_kind=Author.AGENT if by else Author.SYSTEM, author=by,
           data={"from": before, "to": ticket.priority, "escalated": True, "reason": reason}, now=now)  # fmt: skip
    send_event(role_group(SUPERVISOR), "ticket.escalated", {"ticket": ticket.pk, "reason": reason})
    return ticket


@transaction.atomic
def resolve_dispute(ticket: Ticket, outcome: str, *, by: Actor | None = None, now: datetime | None = None) -> Ticket:
    """Resolve a dispute (维权) ticket and write its outcome down into crm for the credit rating."""
    if ticket.kind != Ticket.Kind.DISPUTE or ticket.order_id is None:
        raise ValidationError({"kind": _("Only a dispute about an order has an outcome.")})
    if outcome not in (Order.Dispute.CONSUMER_WON, Order.Dispute.MERCHANT_WON):
        raise ValidationError({"outcome": _("The outcome must be won by the consumer or by the merchant.")})
    record_dispute_outcome(ticket.order, outcome, at=now)  # type: ignore[arg-type]
    return transition_ticket(ticket, S.RESOLVED, by=by, now=now, note=outcome, _with_outcome=True)


def render_canned_reply(reply: CannedReply, ticket: Ticket, agent: Actor) -> str:
    """Fill a canned reply's placeholders from the ticket; unknown placeholders are left as written."""
    return fill_placeholders(reply.body, ticket, agent)


def fill_placeholders(text: str, ticket: Ticket, agent: Any) -> str:
    """``{consumer}``, ``{agent}``, ``{order}``, ``{ticket}``, ``{merchant}`` filled from the ticket (canned
    replies and macros); unknown placeholders are left as written."""
    values = {
        "consumer": ticket.consumer.display_name,
        "agent": getattr(agent, "first_name", "") or agent.get_username(),
        "order": ticket.order.order_no if ticket.order is not None else "",
        "ticket": f"#{ticket.pk}",
        "merchant": ticket.merchant.name if ticket.merchant is not None else "",
    }

    return PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), text)


class Bigrams(Func):
    """``tickets_bigrams(text)``: the lower-cased character bigrams the events' GIN index holds (migration 0006)."""

    function = "tickets_bigrams"
    output_field = ArrayField(TextField())


def search_ticket_ids(term: str) -> QuerySet[Any, Any]:
    """The ids of the tickets a search term finds, each way through an index: the ticket's number, the order's
    number, the consumer's external id, exact name or phone, and a word (2 characters or more) of a message.
    Phones are matched whole and never shown: the list masks them as always."""
    consumers = Consumer.objects.filter(Q(external_id=term) | Q(display_name=term) | Q(phone=term)).values("pk")
    ways: list[QuerySet[Any, Any]] = [
        Ticket.objects.filter(consumer__in=consumers).values("pk"),
        Ticket.objects.filter(order__order_no=term).values("pk"),
    ]
    if term.isascii() and term.isdigit() and len(term) < 19:
        ways.append(Ticket.objects.filter(pk=int(term)).values("pk"))
    if len(term) >= 2:
        words = TicketEvent.objects.alias(bigrams=Bigrams("body")).filter(
            kind=TicketEvent.Kind.MESSAGE, bigrams__contains=Bigrams(Value(term)), body__icontains=term
        )
        ways.append(words.values("ticket_id"))
    first, *rest = ways
    return first.union(*rest)


def my_open_tickets_q(user: Actor) -> Q:
    """An agent's default queue: their own open tickets (the ticket list's default view)."""
    return Q(assignee_id=user.pk, status__in=OPEN_STATUSES)
