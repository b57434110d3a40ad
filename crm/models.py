from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.text import mask_phone


class Consumer(models.Model):
    """A shopper on the marketplace, known to us by the platform's external id."""

    external_id = models.CharField(_("external id"), max_length=32, unique=True)
    display_name = models.CharField(_("display name"), max_length=64)
    # Stored whole; shown masked to every role without the view_consumer_pii permission.
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    registered_at = models.DateTimeField(_("registered at"))

    class Meta:
        verbose_name = _("consumer")
        verbose_name_plural = _("consumers")
        permissions = [("view_consumer_pii", _("Can see consumers' full phone and ID numbers"))]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.external_id})"

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)


class Order(models.Model):
    """A consumer's purchase from one merchant."""

    class Status(models.TextChoices):
        PAID = "paid", _("Paid")
        SHIPPED = "shipped", _("Shipped")
        DELIVERED = "delivered", _("Delivered")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        REFUNDED = "refunded", _("Refunded")

    order_no = models.CharField(_("order number"), max_length=32, unique=True)
    consumer = models.ForeignKey(Consumer, on_delete=models.PROTECT, related_name="orders", verbose_name=_("consumer"))
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="orders", verbose_name=_("merchant")
    )
    item_title = models.CharField(_("item"), max_length=200)
    amount = models.DecimalField(
        _("amount (yuan)"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PAID)
    placed_at = models.DateTimeField(_("placed at"))

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["consumer", "-placed_at"], name="crm_order_consumer_placed"),
            models.Index(fields=["merchant", "-placed_at"], name="crm_order_merchant_placed"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="crm_order_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.order_no
