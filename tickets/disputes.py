"""极速维权, the instant dispute: a trusted consumer's dispute the merchant leaves unanswered is decided for them.

A dispute (a ticket of kind "dispute" about an order) opened by a consumer whose tier had instant disputes
when it was opened (``Ticket.tier``, ``CreditTier.instant_disputes``) gives the merchant
``INSTANT_DISPUTE_HOURS`` to answer: a message on the ticket from one of the merchant's own staff. Past
that, with no such answer, the every-minute job decides it for the consumer through
``services.resolve_dispute``, which writes the outcome into crm (the order's dispute outcome) for the
credit rating and the merchant's dispute rate, and says so on the timeline.

Exactly once: candidates are locked with ``skip_locked`` (a ticket an agent or another run holds is
left for the next minute) and read again under the lock; a resolved ticket is no longer a candidate.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Order
from tickets import services
from tickets.models import OPEN_STATUSES, Ticket, TicketEvent


def answer_due(ticket: Ticket) -> datetime | None:
    """When the merchant must answer this dispute, if it is a trusted consumer's open one (else None)."""
    tier = ticket.tier
    if ticket.kind != Ticket.Kind.DISPUTE or not ticket.is_open or ticket.order_id is None or tier is None:
        return None
    return ticket.created_at + timedelta(hours=settings.INSTANT_DISPUTE_HOURS) if tier.instant_disputes else None


def merchant_answered() -> Exists:
    """A message on the ticket from a staff user of the ticket's own merchant (not the platform's agents)."""
    return Exists(
        TicketEvent.objects.filter(
            ticket=OuterRef("pk"), kind=TicketEvent.Kind.MESSAGE, author_kind=TicketEvent.Author.AGENT,
            author__merchant_membership__merchant=OuterRef("merchant"),
        )
    )  # fmt: skip


def unanswered_disputes(now: datetime) -> QuerySet[Ticket]:
    """Open disputes of trusted consumers, past the merchant's deadline, that the merchant never answered."""
    return Ticket.objects.filter(
        Q(order__dispute="") | Q(order__dispute=Order.Dispute.OPEN),
        kind=Ticket.Kind.DISPUTE, status__in=OPEN_STATUSES, order__isnull=False, merchant__isnull=False,
        tier__instant_disputes=True, created_at__lte=now - timedelta(hours=settings.INSTANT_DISPUTE_HOURS),
    ).exclude(merchant_answered())  # fmt: skip


def decide_unanswered_disputes(now: datetime | None = None) -> int:
    """Decide for the consumer every trusted consumer's dispute the merchant left unanswered. Returns how many."""
    now = now or timezone.now()
    decided = 0
    for pk in list(unanswered_disputes(now).values_list("pk", flat=True)[:500]):
        with transaction.atomic():
            ticket = unanswered_disputes(now).select_for_update(skip_locked=True, of=("self",)).filter(pk=pk).first()
            if ticket is None:  # held by someone, answered, or decided meanwhile
                continue
            services.add_message(ticket, body=_said(), author_kind=TicketEvent.Author.SYSTEM, now=now)
            services.resolve_dispute(ticket, Order.Dispute.CONSUMER_WON, now=now)
            decided += 1
    return decided


def _said() -> str:
    return _("Instant dispute: the merchant did not answer within %(hours)s hours; decided for the consumer.") % {
        "hours": settings.INSTANT_DISPUTE_HOURS
    }
