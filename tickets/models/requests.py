"""What a consumer asks of an order: a refund (and the decision on it) or a return."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models.tickets import Ticket


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
