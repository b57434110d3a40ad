from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.text import mask_pii


class TicketKind(models.TextChoices):
    CONSULTATION = "consultation", _("Consultation")
    REFUND = "refund", _("Refund")
    RETURN = "return", _("Return")
    DISPUTE = "dispute", _("Dispute (维权)")
    COMPLAINT = "complaint", _("Complaint")


class TicketPriority(models.IntegerChoices):
    LOW = 1, _("Low")
    NORMAL = 2, _("Normal")
    HIGH = 3, _("High")
    URGENT = 4, _("Urgent")


class Department(models.Model):
    """A team and its queue of tickets (refunds, logistics, after-sales ...)."""

    tenant_field: ClassVar[str | None] = None

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentProfile(models.Model):
    """An agent's desk: their department, whether they take new work now, and how much at once."""

    tenant_field: ClassVar[str | None] = None

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile", verbose_name=_("user")
    )
    department = models.ForeignKey(
        Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="agents",
        verbose_name=_("department"),
    )  # fmt: skip
    available = models.BooleanField(_("available"), default=False)
    capacity = models.PositiveSmallIntegerField(_("capacity"), default=20, help_text=_("Open tickets at most."))
    chat_capacity = models.PositiveSmallIntegerField(
        _("chat capacity"), default=5, help_text=_("Live chats at once, at most.")
    )

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")

    def __str__(self) -> str:
        return str(self.user)


class SLAPolicy(models.Model):
    """Response and resolution targets, in business minutes, for tickets of a kind, priority and tier."""

    tenant_field: ClassVar[str | None] = None

    name = models.CharField(_("name"), max_length=100)
    # Blank means "any"; the most specific active policy that matches a ticket applies.
    kind = models.CharField(_("kind"), max_length=16, blank=True, choices=TicketKind.choices)
    priority = models.PositiveSmallIntegerField(_("priority"), null=True, blank=True, choices=TicketPriority.choices)
    tier = models.ForeignKey(
        "crm.CreditTier", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("tier")
    )
    first_response_minutes = models.PositiveIntegerField(_("first response within (business minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution within (business minutes)"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return self.name


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


class RefundRequest(models.Model):
    """A request to refund (part of) an order, with the policy's decision and its reasons."""

    tenant_field: ClassVar[str | None] = "merchant"

    class Decision(models.TextChoices):
        INSTANT = "instant", _("Refunded instantly")
        MANUAL = "manual", _("Waiting for manual review")
        APPROVED = "approved", _("Approved after review")
        REJECTED = "rejected", _("Rejected")

    # Unique per requester (see Meta): one user's key is never another's.
    idempotency_key = models.CharField(_("idempotency key"), max_length=64)
    order = models.ForeignKey(
        "crm.Order", on_delete=models.PROTECT, related_name="refund_requests", verbose_name=_("order")
    )
    consumer = models.ForeignKey(
        "crm.Consumer", on_delete=models.PROTECT, related_name="refund_requests", verbose_name=_("consumer")
    )
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="refund_requests", verbose_name=_("merchant")
    )
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="refund_requests",
        verbose_name=_("ticket"),
    )  # fmt: skip
    amount = models.DecimalField(
        _("amount (yuan)"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    reason = models.CharField(_("reason"), max_length=200)
    decision = models.CharField(_("decision"), max_length=16, choices=Decision.choices)
    # The policy's reasons, as codes with their parameters, so they can be shown in any language.
    reasons = models.JSONField(_("why"), default=list)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("requested by"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("created at"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("decided by"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("refund request")
        verbose_name_plural = _("refund requests")
        indexes = [models.Index(fields=["decision", "created_at"], name="tickets_refund_decision")]
        constraints = [
            # An idempotency key is its requester's: another user sending it makes a request of their own.
            models.UniqueConstraint(
                fields=["requested_by", "idempotency_key"], condition=models.Q(requested_by__isnull=False),
                name="tickets_refund_key_per_requester",
            ),
            # Requests with no requester (the chat bot's, keyed by chat and order) share one space of keys.
            models.UniqueConstraint(
                fields=["idempotency_key"], condition=models.Q(requested_by__isnull=True),
                name="tickets_refund_key_without_requester",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        # Named by its own number (the list's, the page's and the messages' one), never the order's id.
        if self.pk is None:
            return str(_("New refund request"))
        return str(_("Refund #%(id)s of ¥%(amount)s (%(decision)s)") % {
            "id": self.pk, "amount": self.amount, "decision": self.get_decision_display(),
        })  # fmt: skip


class ReturnRequest(models.Model):
    """A request to send an order back for its refund (极速退货): the policy's decision, where to send it by when,
    the carrier's first scan, and the refund it released."""

    tenant_field: ClassVar[str | None] = "merchant"

    class Decision(models.TextChoices):
        INSTANT = "instant", _("Approved instantly")
        MANUAL = "manual", _("Waiting for manual review")
        APPROVED = "approved", _("Approved after review")
        REJECTED = "rejected", _("Rejected")
        EXPIRED = "expired", _("Expired: not sent in time")

    idempotency_key = models.CharField(_("idempotency key"), max_length=64, unique=True)
    order = models.ForeignKey(
        "crm.Order", on_delete=models.PROTECT, related_name="return_requests", verbose_name=_("order")
    )
    consumer = models.ForeignKey(
        "crm.Consumer", on_delete=models.PROTECT, related_name="return_requests", verbose_name=_("consumer")
    )
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="return_requests", verbose_name=_("merchant")
    )
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="return_requests",
        verbose_name=_("ticket"),
    )  # fmt: skip
    # What the return refunds: what was left to refund on the order when it was requested.
    amount = models.DecimalField(_("amount (yuan)"), max_digits=12, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=200)
    decision = models.CharField(_("decision"), max_length=16, choices=Decision.choices)
    reasons = models.JSONField(_("why"), default=list)
    refund_at_once = models.BooleanField(_("refunded on approval"), default=False)
    return_address = models.TextField(_("return address"), blank=True)
    ship_by = models.DateTimeField(_("send back by"), null=True, blank=True)
    tracking_no = models.CharField(_("tracking number"), max_length=40, blank=True)
    scanned_at = models.DateTimeField(_("carrier's first scan"), null=True, blank=True)
    refund = models.OneToOneField(
        RefundRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="return_request",
        verbose_name=_("refund"),
    )  # fmt: skip
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("requested by"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("created at"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("decided by"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("return request")
        verbose_name_plural = _("return requests")
        indexes = [
            models.Index(fields=["decision", "created_at"], name="tickets_return_decision"),
            # The expiry sweep's look-up: approved returns not scanned yet, by their deadline.
            models.Index(
                fields=["ship_by"],
                condition=models.Q(decision__in=["instant", "approved"], scanned_at__isnull=True),
                name="tickets_return_unsent",
            ),
        ]
        constraints = [
            # One return under way per order; the order's row lock decides, this is the last line of defence.
            models.UniqueConstraint(
                fields=["order"],
                condition=~models.Q(decision__in=["rejected", "expired"]),
                name="tickets_return_one_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.get_decision_display()}"

    @property
    def approved(self) -> bool:
        return self.decision in (self.Decision.INSTANT, self.Decision.APPROVED)


# The agents' saved views and macros live beside (tickets.models_desk); imported here so Django finds them.
from tickets.models_desk import Macro, SavedView  # noqa: E402

# The survey answers of tickets resolved outside chat live beside (tickets.models_survey), imported likewise.
from tickets.models_survey import TicketSatisfaction  # noqa: E402

__all__ = ["Macro", "SavedView", "TicketSatisfaction"]
