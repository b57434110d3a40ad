"""What consumers bought and said: orders (with how a refund, return or dispute ended) and their reviews."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.models.consumers import Consumer

STARS = [MinValueValidator(1), MaxValueValidator(5)]


class Order(models.Model):
    """A consumer's purchase from one merchant, with how any refund, return or dispute ended."""

    tenant_field: ClassVar[str | None] = "merchant"

    class Status(models.TextChoices):
        PAID = "paid", _("Paid")
        SHIPPED = "shipped", _("Shipped")
        DELIVERED = "delivered", _("Delivered")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        REFUNDED = "refunded", _("Refunded")

    class Dispute(models.TextChoices):
        NONE = "", _("No dispute")
        OPEN = "open", _("Open")
        CONSUMER_WON = "consumer_won", _("Won by the consumer")
        MERCHANT_WON = "merchant_won", _("Won by the merchant")

    # Unique through a constraint, not unique=True, so that PostgreSQL keeps no extra LIKE index; and the foreign
    # keys have no index of their own (the (consumer, placed) and (merchant, placed) ones serve): every index
    # costs each of the million rows an import writes.
    order_no = models.CharField(_("order number"), max_length=32)
    consumer = models.ForeignKey(
        Consumer, on_delete=models.PROTECT, related_name="orders", verbose_name=_("consumer"), db_index=False
    )
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="orders", verbose_name=_("merchant"),
        db_index=False,
    )  # fmt: skip
    item_title = models.CharField(_("item"), max_length=200)
    amount = models.DecimalField(
        _("amount (yuan)"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PAID)
    placed_at = models.DateTimeField(_("placed at"))
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    refund_requested_at = models.DateTimeField(_("refund requested at"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    refunded_amount = models.DecimalField(
        _("refunded (yuan)"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    returned = models.BooleanField(_("goods returned"), default=False)
    dispute = models.CharField(_("dispute"), max_length=16, choices=Dispute.choices, default="", blank=True)
    dispute_closed_at = models.DateTimeField(_("dispute closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["consumer", "-placed_at"], name="crm_order_consumer_placed"),
            models.Index(fields=["merchant", "-placed_at"], name="crm_order_merchant_placed"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["order_no"], name="crm_order_order_no_unique"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="crm_order_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__gte=0) & models.Q(refunded_amount__lte=models.F("amount")),
                name="crm_order_refund_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.order_no


class Review(models.Model):
    """A consumer's rating of one order: three DSR stars and a text."""

    tenant_field: ClassVar[str | None] = "merchant"

    class Moderation(models.TextChoices):
        PUBLISHED = "published", _("Published")
        HELD = "held", _("Held for moderation")
        REMOVED = "removed", _("Removed")

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="review", verbose_name=_("order"))
    # Copied from the order so that per-consumer and per-merchant queries need no join.
    # No index of their own: the (consumer, created) and (merchant, created) ones serve.
    consumer = models.ForeignKey(
        Consumer, on_delete=models.CASCADE, related_name="reviews", verbose_name=_("consumer"), db_index=False
    )
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.CASCADE, related_name="reviews", verbose_name=_("merchant"),
        db_index=False,
    )  # fmt: skip
    item_stars = models.PositiveSmallIntegerField(_("item as described"), validators=STARS)
    service_stars = models.PositiveSmallIntegerField(_("service attitude"), validators=STARS)
    logistics_stars = models.PositiveSmallIntegerField(_("logistics"), validators=STARS)
    text = models.TextField(_("text"), blank=True)
    is_negative = models.BooleanField(_("negative"), default=False)
    moderation = models.CharField(
        _("moderation"), max_length=16, choices=Moderation.choices, default=Moderation.PUBLISHED
    )
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        indexes = [
            models.Index(fields=["consumer", "-created_at"], name="crm_review_consumer_created"),
            models.Index(fields=["merchant", "-created_at"], name="crm_review_merchant_created"),
            # The risk rules and the merchants' scoring read a recent window of all reviews.
            models.Index(fields=["created_at"], name="crm_review_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(item_stars__range=(1, 5))
                & models.Q(service_stars__range=(1, 5))
                & models.Q(logistics_stars__range=(1, 5)),
                name="crm_review_stars_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order} ★{self.item_stars}/{self.service_stars}/{self.logistics_stars}"
