"""Macros: several actions on a ticket in one click (reply, status, priority, tags, assign to me).

``apply_macro`` runs them in one transaction through the ticket services, so their rules hold (the
transition table; merchant staff never settle a complaint about their own shop): one refused step
refuses the whole macro and nothing of it stays.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.roles import SUPERVISOR
from core.users import Actor
from tickets import services
from tickets.models import AgentProfile, Macro, Ticket, TicketEvent

Author = TicketEvent.Author


def is_supervisor(user: Actor) -> bool:
    return bool(user.is_superuser or user.groups.filter(name=SUPERVISOR).exists())


def visible_to(user: Actor) -> Q:
    """A user's own personal tools, and the shared ones for everyone or for their department."""
    department = AgentProfile.objects.filter(user=user.pk).values("department")
    shared = Q(owner__isnull=True) & (Q(department__isnull=True) | Q(department__in=department))
    return Q(owner=user.pk) | shared


def macros_for(user: Actor) -> QuerySet[Macro]:
    return Macro.objects.filter(visible_to(user)).order_by("name", "id")


@transaction.atomic
def apply_macro(macro: Macro, ticket: Ticket, *, by: Actor, now: datetime | None = None) -> Ticket:
    """Every step of ``macro`` on ``ticket``, all or nothing: assign, reply, status, priority, tags.
    A service's refusal (ValidationError, PermissionDenied) propagates and the transaction rolls back."""
    now = now or timezone.now()
    if macro.assign_to_me:
        services.assign_ticket(ticket, by, by=by, now=now)
    if macro.reply.strip():
        body = services.fill_placeholders(macro.reply, ticket, by)
        services.add_message(ticket, body=body, author_kind=Author.AGENT, author=by, now=now)
    if macro.status:
        services.transition_ticket(ticket, macro.status, by=by, now=now, note=macro.name)
    if macro.priority is not None:
        services.set_priority(ticket, macro.priority, by=by, now=now)
    if macro.tags:
        services.add_tags(ticket, macro.tags, now=now)
    ticket.refresh_from_db()
    return ticket


def apply_macro_or_refuse(macro: Macro, ticket: Ticket, *, by: Actor) -> Ticket:
    """``apply_macro``, a refusal of the user's rights said as a ValidationError (the desk and the bulk
    action show it as a message beside the others)."""
    try:
        return apply_macro(macro, ticket, by=by)
    except PermissionDenied as refused:
        raise ValidationError(str(refused) or _("You may not do this to this ticket.")) from None
