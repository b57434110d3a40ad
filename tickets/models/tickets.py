"""A consumer's case: the ticket, its event history and the canned replies agents answer with."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.text import mask_pii
from tickets.models.departments import Department, SLAPolicy, TicketKind, TicketPriority

# The queue's order of urgency: breached first, then the nearest due (the first response's until there is one,
# then the resolution's), then priority, then age. The queue sorts by it (tickets.admin) and the partial indexes
# of open tickets below are built on the very same expressions, so that PostgreSQL reads a page of a view in
# this order from an index instead of sorting every open ticket of an agent, a department or an SLA state.
URGENCY = (
    models.Case(models.When(sla_state="breached", then=models.Value(0)), default=models.Value(1)).asc(),
    models.Case(
        models.When(first_response_at__isnull=True, then=models.F("first_response_due")),
        default=models.F("resolution_due"),
    ).asc(nulls_last=True),
    models.F("priority").desc(),
    models.F("created_at").asc(),
    models.F("id").asc(),
)
_OPEN = models.Q(status__in=("new", "open", "pending"))  # OPEN_STATUSES, below the class that defines them


class Ticket(models.Model):
    """A consumer's case: a question, refund, return, dispute or complaint, worked by agents."""

    tenant_field: ClassVar[str | None] = "merchant"

    Kind = TicketKind

    class Channel(models.TextChoices):
        CHAT = "chat", _("Chat")
        PHONE = "phone", _("Phone")
        WEB = "web", _("Web")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", pgettext_lazy("ticket status", "Open")
        PENDING = "pending", _("Waiting on the consumer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    Priority = TicketPriority

    class SLAState(models.TextChoices):
        OK = "ok", _("On track")
        AT_RISK = "at_risk", _("At risk")
        BREACHED = "breached", _("Breached")
        PAUSED = "paused", _("Paused")
        MET = "met", _("Met")
        NONE = "none", _("No SLA")

    subject = models.CharField(_("subject"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.CONSULTATION)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.WEB)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices, default=Priority.NORMAL)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("department")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_tickets",
        verbose_name=_("assignee"),
    )  # fmt: skip
    consumer = models.ForeignKey(
        "crm.Consumer", on_delete=models.PROTECT, related_name="tickets", verbose_name=_("consumer")
    )
    # The consumer's tier when the ticket was opened: what its SLA and routing were decided by.
    tier = models.ForeignKey(
        "crm.CreditTier", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("tier")
    )
    order = models.ForeignKey(
        "crm.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="tickets", verbose_name=_("order")
    )
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, null=True, blank=True, related_name="tickets",
        verbose_name=_("merchant"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    sla_policy = models.ForeignKey(
        SLAPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("SLA policy")
    )
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    sla_state = models.CharField(_("SLA"), max_length=16, choices=SLAState.choices, default=SLAState.NONE)
    paused_at = models.DateTimeField(_("SLA paused at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    # The database default too: bulk loads (core.seeding.copy_rows) name only the columns they fill.
    tags = ArrayField(
        models.CharField(max_length=32), verbose_name=_("tags"), default=list, db_default=models.Value("{}"), blank=True
    )

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [
            # The changelist's default view and its filters, newest activity first.
            models.Index(fields=["assignee", "status", "-updated_at"], name="tickets_assignee_status"),
            models.Index(fields=["status", "-updated_at"], name="tickets_status_updated"),
            models.Index(fields=["department", "status", "-updated_at"], name="tickets_dept_status"),
            models.Index(fields=["sla_state", "resolution_due"], name="tickets_sla_due"),
            models.Index(fields=["sla_state", "-updated_at", "-id"], name="tickets_sla_updated"),
            models.Index(fields=["merchant", "-updated_at"], name="tickets_merchant_updated"),
            models.Index(fields=["consumer", "-created_at"], name="tickets_consumer_created"),
            models.Index(fields=["kind", "-updated_at"], name="tickets_kind_updated"),
            models.Index(fields=["tier", "-updated_at"], name="tickets_tier_updated"),
            models.Index(fields=["-updated_at"], name="tickets_updated"),
            GinIndex(fields=["tags"], name="tickets_tags"),  # the queue's tag filter: tags @> '{tag}'
            # The queue's views of open tickets in order of urgency: an agent's, a department's, an SLA state's.
            models.Index(models.F("assignee"), *URGENCY, name="tickets_open_assignee_urgency", condition=_OPEN),
            models.Index(models.F("department"), *URGENCY, name="tickets_open_dept_urgency", condition=_OPEN),
            models.Index(models.F("sla_state"), *URGENCY, name="tickets_open_sla_urgency", condition=_OPEN),
        ]

    def __str__(self) -> str:
        # Shown wherever the admin names a ticket (history, delete pages, raw-id fields, the log), for anyone:
        # masked, since a consumer's subject may hold their numbers. The ticket page shows it per viewer.
        return f"#{self.pk} {mask_pii(self.subject)}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


OPEN_STATUSES = (Ticket.Status.NEW, Ticket.Status.OPEN, Ticket.Status.PENDING)


class TicketEvent(models.Model):
    """One entry of a ticket's append-only timeline: a message, a note, or a change with who made it."""

    tenant_field: ClassVar[str | None] = "ticket__merchant"

    class Kind(models.TextChoices):
        MESSAGE = "message", _("Message")
        NOTE = "note", _("Internal note")
        STATUS = "status", _("Status change")
        ASSIGNMENT = "assignment", _("Assignment")
        PRIORITY = "priority", _("Priority change")
        REFUND = "refund", _("Refund decision")
        RETURN = "return", _("Return decision")
        SLA = "sla", _("SLA")
        CREATED = "created", _("Created")

    class Author(models.TextChoices):
        CONSUMER = "consumer", _("Consumer")
        BOT = "bot", _("Bot")
        AGENT = "agent", _("Agent")
        SYSTEM = "system", _("System")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events", verbose_name=_("ticket"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    author_kind = models.CharField(_("from"), max_length=16, choices=Author.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("author"),
    )  # fmt: skip
    body = models.TextField(_("text"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        indexes = [models.Index(fields=["ticket", "created_at"], name="tickets_event_ticket_created")]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind} {self.created_at:%Y-%m-%d %H:%M}"


class CannedReplyQuerySet(models.QuerySet["CannedReply"]):
    def offered(self, department_id: int, language: str | models.Expression) -> CannedReplyQuerySet:
        """The active replies of a department (and of every department) in a conversation's language (and
        the language-less ones); ``language`` may be an expression, so a page can look it up in the same query."""
        return self.filter(
            models.Q(department__isnull=True) | models.Q(department=department_id),
            models.Q(language="") | models.Q(language=language),
            active=True,
        )  # fmt: skip


class CannedReply(models.Model):
    """A reply agents insert with one click; placeholders such as {consumer} are filled from the ticket."""

    tenant_field: ClassVar[str | None] = None

    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("text"), help_text=_("Placeholders: {consumer}, {agent}, {order}, {ticket}, {merchant}."))
    department = models.ForeignKey(
        Department, on_delete=models.CASCADE, null=True, blank=True, related_name="canned_replies",
        verbose_name=_("department"), help_text=_("Blank: offered in every department."),
    )  # fmt: skip
    # The language of the conversations it is offered in (a chat's language); blank: offered in every one.
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, blank=True,
        help_text=_("Blank: offered in every language."),
    )  # fmt: skip
    active = models.BooleanField(_("active"), default=True)

    objects = CannedReplyQuerySet.as_manager()

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title
