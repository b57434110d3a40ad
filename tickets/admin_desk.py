"""The ticket page of the admin (the agent's desk): what it shows, and its buttons as small forms.

Every button posts to ``TicketAdmin.act_view`` with an ``action``; ``ACTIONS`` maps the action to its
form, whose ``act`` calls one service and says what happened.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.links import nominate_url
from core.privacy import shown
from core.tenancy import is_merchant_staff, scope
from core.users import Actor, actor
from crm.models import Order, RiskFlag
from tickets import disputes, macros, refunds, returns, services, surveys
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
    profiles = _desks(ticket).exclude(user=ticket.assignee_id).select_related("user")
    return [(p.user_id, refunds.person(p.user)) for p in profiles.order_by("user__first_name", "user__username")]


def _desks(ticket: Ticket) -> QuerySet[AgentProfile]:
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
    if minutes >= 1440:
        return str(_("%(d)sd %(h)sh") % {"d": minutes // 1440, "h": minutes % 1440 // 60})
    if minutes >= 60:
        return str(_("%(h)sh %(m)sm") % {"h": minutes // 60, "m": minutes % 60})
    return str(_("%(m)sm") % {"m": minutes})


# --- The buttons -------------------------------------------------------------------------------------


class DeskAction(forms.Form):
    """One button of the ticket page, bound to what it posted: ``act`` calls one service and returns the
    message for the agent (at ``level``: success unless the act says otherwise). Fields are optional and
    unstripped: the services judge the values and say why."""

    level: int = messages.SUCCESS

    def __init__(self, data: dict[str, str], *, ticket: Ticket, user: Actor) -> None:
        super().__init__(data)
        self.ticket = ticket
        self.user = user

    @classmethod
    def permitted(cls, user: Actor, ticket: Ticket) -> bool:
        return True

    def perform(self) -> str:
        if not self.is_valid():
            raise ValidationError([message for errors in self.errors.values() for message in errors])
        return self.act()

    def act(self) -> str:
        raise NotImplementedError


def _text(**kwargs: Any) -> forms.CharField:
    return forms.CharField(required=False, strip=False, **kwargs)


class ReplyAction(DeskAction):
    body = _text()
    internal: ClassVar[bool] = False

    def act(self) -> str:
        services.add_message(self.ticket, body=self.cleaned_data["body"], author_kind=TicketEvent.Author.AGENT,
                             author=self.user, internal=self.internal)  # fmt: skip
        return str(_("Reply sent."))


class NoteAction(ReplyAction):
    internal = True

    def act(self) -> str:
        super().act()
        return str(_("Note added."))


class AssignMeAction(DeskAction):
    def act(self) -> str:
        services.assign_ticket(self.ticket, self.user, by=self.user)
        return str(_("The ticket is yours."))


class ReassignAction(DeskAction):
    agent = _text()

    @classmethod
    def permitted(cls, user: Actor, ticket: Ticket) -> bool:
        return not is_merchant_staff(user)  # the marketplace's agents are not a merchant's to hand work to

    def clean_agent(self) -> Any:
        profile = _desks(self.ticket).filter(user=_int_or_0(self.cleaned_data["agent"])).select_related("user").first()
        if profile is None:
            raise ValidationError(_("Choose an agent of the ticket's department."))
        return profile.user

    def act(self) -> str:
        agent = self.cleaned_data["agent"]
        services.assign_ticket(self.ticket, agent, by=self.user)
        return str(_("Assigned to %(agent)s.") % {"agent": refunds.person(agent)})


class TransferAction(DeskAction):
    department = _text()

    def clean_department(self) -> Department:
        department = scope(Department.objects.all(), self.user).filter(pk=_int_or_0(self.cleaned_data["department"]))
        if (found := department.first()) is None:
            raise ValidationError(_("Choose a department."))
        return found

    def act(self) -> str:
        department = self.cleaned_data["department"]
        services.transfer_ticket(self.ticket, department, by=self.user)
        return str(_("Transferred to %(department)s.") % {"department": department.name})


class StatusAction(DeskAction):
    status = _text()
    note = _text()

    def act(self) -> str:
        services.transition_ticket(self.ticket, self.cleaned_data["status"], by=self.user,
                                   note=self.cleaned_data["note"])  # fmt: skip
        return str(_("Status changed."))


class EscalateAction(DeskAction):
    def act(self) -> str:
        services.escalate_ticket(self.ticket, reason="agent", by=self.user)
        return str(_("Escalated."))


class DisputeAction(DeskAction):
    outcome = _text()

    @classmethod
    def permitted(cls, user: Actor, ticket: Ticket) -> bool:
        return not is_merchant_staff(user)  # a merchant does not judge its own dispute

    def act(self) -> str:
        services.resolve_dispute(self.ticket, self.cleaned_data["outcome"], by=self.user)
        return str(_("Dispute resolved; its outcome is recorded for the credit rating."))


class RefundAction(DeskAction):
    amount = _text()
    reason = _text()
    key = _text()

    @classmethod
    def permitted(cls, user: Actor, ticket: Ticket) -> bool:
        return bool(user.has_perm("tickets.add_refundrequest")) and ticket.order is not None

    def clean(self) -> dict[str, Any]:
        assert self.ticket.order is not None  # permitted() holds
        if fully_refunded(self.ticket.order):
            raise ValidationError(_("This order is fully refunded: there is nothing left to refund."))
        return super().clean() or {}

    def clean_amount(self) -> Decimal:
        try:
            return Decimal(self.cleaned_data["amount"])
        except InvalidOperation:
            raise ValidationError(_("Enter an amount in yuan, such as 99.00.")) from None

    def act(self) -> str:
        assert self.ticket.order is not None  # permitted() holds
        reason = self.cleaned_data["reason"] or str(_("Requested by an agent"))
        decided = refunds.request_refund(
            self.ticket.order, self.cleaned_data["amount"], reason,
            key=self.cleaned_data["key"], requested_by=self.user, ticket=self.ticket,
        )  # fmt: skip
        self.level = refund_level(decided)
        return refund_said(decided)


def refund_said(refund: RefundRequest) -> str:
    """A refund's decision in one line: its number, amount, decision and the policy's reasons."""
    head = _("Refund #%(id)s of ¥%(amount)s: %(decision)s.") % {
        "id": refund.pk, "amount": refund.amount, "decision": refund.get_decision_display(),
    }  # fmt: skip
    return " ".join([str(head), *refunds.explain(refund.reasons)])


class ReturnAction(DeskAction):
    """极速退货: the return policy decides at once (tickets.returns); an approved return says where and by when."""

    reason = _text()
    key = _text()

    @classmethod
    def permitted(cls, user: Actor, ticket: Ticket) -> bool:
        return bool(user.has_perm("tickets.add_returnrequest")) and ticket.order is not None

    def act(self) -> str:
        assert self.ticket.order is not None  # permitted() holds
        reason = self.cleaned_data["reason"] or str(_("Requested by an agent"))
        made = returns.request_return(self.ticket.order, reason, key=self.cleaned_data["key"], requested_by=self.user,
                                      ticket=self.ticket)  # fmt: skip
        said = [str(made.get_decision_display()), *returns.explain(made.reasons)]
        if made.approved and made.ship_by is not None:
            when = timezone.localtime(made.ship_by).strftime("%Y-%m-%d")
            said.append(str(_("Send the goods to %(address)s by %(date)s.") % {"address": made.return_address,
                                                                               "date": when}))  # fmt: skip
        return " ".join(said)


class MacroAction(DeskAction):
    """Several actions in one click (tickets.macros): all of them, or none and the reason."""

    macro = _text()

    def clean_macro(self) -> Any:
        found = macros.macros_for(self.user).filter(pk=_int_or_0(self.cleaned_data["macro"])).first()
        if found is None:
            raise ValidationError(_("Choose one of your macros."))
        return found

    def act(self) -> str:
        macros.apply_macro_or_refuse(self.cleaned_data["macro"], self.ticket, by=self.user)
        return str(_("Macro “%(name)s” applied.") % {"name": self.cleaned_data["macro"].name})


ACTIONS: dict[str, type[DeskAction]] = {
    "macro": MacroAction,
    "reply": ReplyAction,
    "note": NoteAction,
    "assign_me": AssignMeAction,
    "reassign": ReassignAction,
    "transfer": TransferAction,
    "status": StatusAction,
    "escalate": EscalateAction,
    "dispute": DisputeAction,
    "refund": RefundAction,
    "return": ReturnAction,
}


def bound_action(request: HttpRequest, ticket: Ticket) -> DeskAction:
    """The form of the button that was pressed, bound to its post (PermissionDenied if the user may not).
    NUL characters cannot be stored in PostgreSQL text: they are dropped rather than failed on."""
    action = ACTIONS.get(str(request.POST.get("action", "")))
    if action is None:
        raise ValidationError(_("Unknown action."))
    if not action.permitted(actor(request), ticket):
        raise PermissionDenied
    post = {key: str(value).replace("\x00", "") for key, value in request.POST.items()}
    return action(post, ticket=ticket, user=actor(request))


def _int_or_0(value: str | None) -> int:
    """A posted id; anything that is not one (text, a number past bigint) is 0, which matches no row."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else 0
