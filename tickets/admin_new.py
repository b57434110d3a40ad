"""Opening a ticket by hand in the admin (a phone call, a walk-in, a letter): the form and its one service call."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.users import Actor
from crm.models import Consumer, Order
from tickets import services
from tickets.models import Department, Ticket


class NewTicketForm(forms.Form):
    """The consumer by external id or phone, what the case is, and where it goes."""

    consumer = forms.CharField(label=_("Consumer"), max_length=32, help_text=_("External id or phone number."))
    subject = forms.CharField(label=_("Subject"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=Ticket.Kind.choices, initial=Ticket.Kind.CONSULTATION)
    channel = forms.ChoiceField(label=_("Channel"), choices=Ticket.Channel.choices, initial=Ticket.Channel.PHONE)
    priority = forms.TypedChoiceField(label=_("Priority"), choices=Ticket.Priority.choices, coerce=int,
                                      initial=Ticket.Priority.NORMAL)  # fmt: skip
    department = forms.ModelChoiceField(label=_("Department"), queryset=Department.objects.all())
    order = forms.CharField(label=_("Order number"), max_length=32, required=False)
    body = forms.CharField(label=_("What the consumer said"), widget=forms.Textarea(attrs={"rows": 4}), required=False)

    def clean_consumer(self) -> Consumer:
        value = self.cleaned_data["consumer"].strip()
        found = list(Consumer.objects.filter(Q(external_id=value) | Q(phone=value))[:2])
        if not found:
            raise ValidationError(_("No consumer has this external id or phone number."))
        if len(found) > 1:
            raise ValidationError(_("Several consumers have this phone number: enter the external id."))
        return found[0]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        number = (data.get("order") or "").strip()
        consumer = data.get("consumer")
        data["order"] = None
        if number and consumer is not None:
            data["order"] = Order.objects.filter(order_no=number, consumer=consumer).first()
            if data["order"] is None:
                self.add_error("order", _("This consumer has no order with this number."))
        return data

    def open(self, agent: Actor) -> Ticket:
        data = self.cleaned_data
        return services.open_ticket(
            data["consumer"], subject=data["subject"], department=data["department"], kind=data["kind"],
            channel=data["channel"], priority=data["priority"], order=data["order"], body=data["body"],
            author_kind=services.Author.AGENT, author=agent,
        )  # fmt: skip
