"""The ticket page of the admin (the agent's desk): what it shows (its buttons are tickets.admin_desk_buttons)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from core import durations
from core.links import nominate_url
from core.privacy import shown
from core.tenancy import is_merchant_staff, scope
from core.users import Actor, actor
from crm.models import Order, RiskFlag
from tickets import disputes, macros, refunds, services, surveys
from tickets.models import AgentProfile, CannedReply, Department, RefundRequest, ReturnRequest, Ticket, TicketEvent

TIMELINE_LIMIT = 200  # events shown on a ticket page; a longer history is summarised


# --- What the page shows ---------------------------------------------------------------------------


def page_context(request: HttpRequest, ticket: Ticket) -> dict[str, Any]:
    """The ticket page's own context: the timeline, the reply box, the consumer, the order and the buttons."""
    user = actor(request)
    merchant_side = is_merchant_staff(user)
    return {
        "title": f"#{ticket.pk} {shown(ticket.subject, user)}",
        "ticket": ticket,
        "events": timeline(ticket, with_notes=not merchant_side),
        "transitions": services.transitions_for(user, ticket),  # merchant staff never settle their own case
        "status_labels": dict(Ticket.Status.choices),
        "canned": [
            (reply.title, services.render_canned_reply(reply, ticket, user)) for reply in canned_replies(ticket)
        ],
        # Departments are the marketplace's teams: merchant staff are offered none (core.tenancy).
        "departments": scope(Department.objects.exclude(pk=ticket.department_id), user),
        "flags": live_flags(ticket) if user.has_perm("crm.view_riskflag") else [],
        "show_consumer": user.has_perm("crm.view_consumer"),
        "can_resolve_dispute": not merchant_side,
        "dispute_due": disputes.answer_due(ticket),  # 极速维权: the merchant's deadline
        "agents": [] if merchant_side or not ticket.is_open else reassign_targets(ticket),
        "sla": sla_badge(ticket, timezone.now()),
        "radio_nominate_url": radio_nominate_url(request, ticket),
        "macros": macros.macros_for(user) if ticket.status != Ticket.Status.CLOSED else [],
        "survey": surveys.desk_survey(ticket, user),  # CSAT of a resolved phone or web ticket: its link, its answer
        **order_panel(ticket, user),
    }


def timeline(ticket: Ticket, *, with_notes: bool) -> list[TimelineEntry]:
    """The latest TIMELINE_LIMIT events, oldest first, labelled; internal notes are the marketplace's only."""
    events = TicketEvent.objects.filter(ticket=ticket).select_related("author").order_by("-created_at", "-id")
    if not with_notes:
        events = events.exclude(kind=TicketEvent.Kind.NOTE)
    return [label_event(event) for event in list(events[:TIMELINE_LIMIT])[::-1]]


def canned_replies(ticket: Ticket) -> QuerySet[CannedReply]:
    """The active replies of the ticket's department and those for every department, in the ticket's language:
    its chat's (looked up in the same query), else the desk's own (settings.LANGUAGE_CODE)."""
    chat_language = Ticket.objects.filter(pk=ticket.pk).values("chat__language")[:1]
    language = Coalesce(Subquery(chat_language), Value(settings.LANGUAGE_CODE))
    return CannedReply.objects.offered(ticket.department_id, language)


def reassign_targets(ticket: Ticket) -> list[tuple[int, str]]:
    """The agents a ticket may be given to by name: active staff with a desk in the ticket's department."""
    profiles = assignable_desks(ticket).exclude(user=ticket.assignee_id).select_related("user")
    return [(p.user_id, refunds.person(p.user)) for p in profiles.order_by("user__first_name", "user__username")]


def assignable_desks(ticket: Ticket) -> QuerySet[AgentProfile]:
    """The desks of active staff in the ticket's department: whom it may be reassigned to."""
    return AgentProfile.objects.filter(department=ticket.department_id, user__is_active=True, user__is_staff=True)


def live_flags(ticket: Ticket) -> QuerySet[RiskFlag]:
    return RiskFlag.objects.filter(consumer=ticket.consumer_id, status__in=["open", "confirmed"])


def order_panel(ticket: Ticket, user: Actor) -> dict[str, Any]:
    """The order box: the order, its refunds, and the refund form's permission and one-time key."""
    order = ticket.order
    return {
        "order": order,
        "refunds": RefundRequest.objects.filter(order=order).order_by("-created_at") if order else [],
        "refund_key": uuid.uuid4().hex,
        "can_refund": user.has_perm("tickets.add_refundrequest") and order is not None and not fully_refunded(order),
        # 极速退货 (tickets.returns): the order's returns and the button.
        "returns": ReturnRequest.objects.filter(order=order).order_by("-created_at") if order else [],
        "return_key": uuid.uuid4().hex,
        "can_return": user.has_perm("tickets.add_returnrequest") and order is not None,
        "fully_refunded": order is not None and fully_refunded(order),
        "is_dispute": ticket.kind == Ticket.Kind.DISPUTE and order is not None,
    }


def fully_refunded(order: Order) -> bool:
    return refunds.left_to_refund(order) <= 0


def radio_nominate_url(request: HttpRequest, ticket: Ticket) -> str | None:
    """The radio's nominate page for this ticket (radio is a higher app: found by URL name, never imported)."""
    if not request.user.has_perm("radio.add_nomination"):
        return None
    return nominate_url("ticket", ticket.pk, request.get_full_path())


STATUS_LABELS = dict(Ticket.Status.choices)
PRIORITY_LABELS = dict(Ticket.Priority.choices)
DECISION_LABELS = dict(RefundRequest.Decision.choices)
RETURN_LABELS = dict(ReturnRequest.Decision.choices)
DISPUTE_LABELS = dict(Order.Dispute.choices)
SLA_LABELS = dict(Ticket.SLAState.choices)
CHANGE_LABELS: dict[str, dict[Any, Any]] = {
    TicketEvent.Kind.STATUS: STATUS_LABELS,
    TicketEvent.Kind.PRIORITY: PRIORITY_LABELS,
    TicketEvent.Kind.SLA: SLA_LABELS,
}


@dataclass(frozen=True)
class TimelineEntry:
    """One event of the ticket page's timeline with its codes put into words (``label_event``)."""

    event: TicketEvent
    from_label: Any = ""  # a change's before and after (status, priority, SLA state)
    to_label: Any = ""
    note_label: Any = ""  # a status change's note, a refund's or a return's decision
    outcome: str = ""  # a refund decision as the desk colours it (REFUND_OUTCOME)
    reason_lines: list[str] = field(default_factory=list)  # why a refund was not instant


def label_event(event: TicketEvent) -> TimelineEntry:
    """Codes stored on the timeline, put into words in the reader's language."""
    data = event.data
    labels = CHANGE_LABELS.get(event.kind)
    changed: dict[str, Any] = {}
    if labels is not None:
        changed = {"from_label": labels.get(data.get("from"), data.get("from")),
                   "to_label": labels.get(data.get("to"), data.get("to"))}  # fmt: skip
    if event.kind == TicketEvent.Kind.STATUS:
        return TimelineEntry(event, **changed, note_label=DISPUTE_LABELS.get(event.body, event.body))
    if event.kind == TicketEvent.Kind.REFUND:
        return TimelineEntry(event, **changed, note_label=DECISION_LABELS.get(data.get("decision"), event.body),
                             outcome=REFUND_OUTCOME.get(data.get("decision"), ""),
                             reason_lines=refunds.explain(data.get("reasons", [])))  # fmt: skip
    if event.kind == TicketEvent.Kind.RETURN:
        return TimelineEntry(event, **changed, note_label=RETURN_LABELS.get(data.get("decision"), event.body))
    return TimelineEntry(event, **changed)


# A refund decision as the desk colours it: refunded (green), waiting (amber), rejected (red).
REFUND_OUTCOME: dict[str, str] = {
    RefundRequest.Decision.INSTANT: "refunded",
    RefundRequest.Decision.APPROVED: "refunded",
    RefundRequest.Decision.MANUAL: "waiting",
    RefundRequest.Decision.REJECTED: "rejected",
}
# ... and as the message after the button says it.
REFUND_LEVEL = {"refunded": messages.SUCCESS, "waiting": messages.WARNING, "rejected": messages.ERROR}


def refund_level(refund: RefundRequest) -> int:
    return REFUND_LEVEL[REFUND_OUTCOME[refund.decision]]


def sla_badge(ticket: Ticket, now: datetime) -> str:
    """A short, coloured SLA label: time left to the nearer due, or how long ago it was missed."""
    state = ticket.sla_state
    if state in (Ticket.SLAState.NONE, Ticket.SLAState.MET) or not ticket.is_open:
        return format_html('<span class="sla {}">{}</span>', state, ticket.get_sla_state_display())
    if state == Ticket.SLAState.PAUSED:
        return format_html('<span class="sla paused">{}</span>', _("Paused"))
    due = ticket.first_response_due if ticket.first_response_at is None else ticket.resolution_due
    if due is None:
        return ""
    return _due_badge(ticket, int((due - now).total_seconds() // 60))


def _due_badge(ticket: Ticket, minutes: int) -> str:
    """An open ticket's label by the minutes left to its nearer due (negative: overdue)."""
    state = ticket.sla_state
    if state == Ticket.SLAState.BREACHED and minutes >= 0:
        # A missed first response stays a breach after the reply, though the resolution due is still ahead.
        return format_html('<span class="sla breached">{}</span>', ticket.get_sla_state_display())
    if minutes < 0:
        return format_html(
            '<span class="sla breached">{}</span>', _("%(span)s overdue") % {"span": _duration(-minutes)}
        )
    css = "at_risk" if state == Ticket.SLAState.AT_RISK else "ok"
    return format_html('<span class="sla {}">{}</span>', css, _("%(span)s left") % {"span": _duration(minutes)})


def _duration(minutes: int) -> str:
    return durations.in_words(minutes * 60, to_the_second=False)


def narrow_time(value: datetime) -> str:
    """A moment in a list's narrow column, in local time: today's by the clock, this year's by month and day, older
    ones by the date (at 1440 px with both sidebars open a full date pushed the queue's last column out of view);
    the whole date and time in the tooltip."""
    local, today = timezone.localtime(value), timezone.localdate()
    if local.date() == today:
        shown_as = local.strftime("%H:%M")
    elif local.year == today.year:
        shown_as = date_format(local, pgettext("a date of this year, in a narrow column", "m/d"))
    else:
        shown_as = date_format(local, "SHORT_DATE_FORMAT")
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', local.isoformat(), date_format(local, "DATETIME_FORMAT"), shown_as
    )
