"""The ticket page's buttons (tickets.admin_desk is what the page shows), each a small form.

Every button posts to ``TicketAdmin.act_view`` with an ``action``; ``ACTIONS`` maps the action to its
form, whose ``act`` calls one service and says what happened."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.tenancy import is_merchant_staff, scope
from core.users import Actor, actor
from tickets import macros, refunds, returns, services
from tickets.admin_desk import assignable_desks, fully_refunded, refund_level
from tickets.models import Department, RefundRequest, Ticket, TicketEvent


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
        profile = (
            assignable_desks(self.ticket)
            .filter(user=_int_or_0(self.cleaned_data["agent"]))
            .select_related("user")
            .first()
        )
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
