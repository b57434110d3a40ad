from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Merchant(models.Model):
    """A shop on the marketplace."""

    # Tenancy (core/tenancy.py): merchant staff see their own merchant row only.
    tenant_field: ClassVar[str | None] = "pk"

    code = models.CharField(_("merchant code"), max_length=32, unique=True)
    name = models.CharField(_("shop name"), max_length=100)
    category = models.CharField(_("main category"), max_length=50)
    city = models.CharField(_("city"), max_length=50, blank=True)
    opened_at = models.DateTimeField(_("opened at"))
    # The merchant's refund policy, which the instant-refund decision respects.
    instant_refunds = models.BooleanField(_("allows instant refunds"), default=True, db_default=True)
    instant_refund_cap = models.DecimalField(
        _("instant refund cap (yuan)"), max_digits=12, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0.00"))],
        help_text=_("Refunds above this go to manual review whatever the consumer's tier. Blank: no cap."),
    )  # fmt: skip
    # Where returned goods go; a shop without one has every return reviewed by hand (tickets.returns).
    return_address = models.TextField(_("return address"), blank=True, default="", db_default="")
    # A shop that does not take chats (closed, or not yet on the service): tokens naming it are refused.
    takes_chats = models.BooleanField(_("takes live chats"), default=True, db_default=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class MerchantMembership(models.Model):
    """A staff user working for one merchant; the basis of merchant tenancy."""

    tenant_field: ClassVar[str | None] = "merchant"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="merchant_membership", verbose_name=_("user")
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("merchant")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("merchant membership")
        verbose_name_plural = _("merchant memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant}"


class MerchantScore(models.Model):
    """A merchant's service score on one day, over the 180 days before it; one row a day keeps the trend."""

    tenant_field: ClassVar[str | None] = "merchant"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="scores", verbose_name=_("merchant"))
    day = models.DateField(_("day"))
    reviews = models.PositiveIntegerField(_("reviews in window"))
    dsr_item = models.DecimalField(_("DSR: item as described"), max_digits=4, decimal_places=3)
    dsr_service = models.DecimalField(_("DSR: service attitude"), max_digits=4, decimal_places=3)
    dsr_logistics = models.DecimalField(_("DSR: logistics"), max_digits=4, decimal_places=3)
    orders = models.PositiveIntegerField(_("orders in window"))
    dispute_rate = models.DecimalField(_("dispute rate"), max_digits=6, decimal_places=5)
    refund_hours = models.DecimalField(
        _("average hours to refund"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    # Live chats about the shop's orders that reached a person (from the chat app's tables, read by SQL only).
    chats = models.PositiveIntegerField(_("chats in window"), default=0, db_default=0)
    chat_response_seconds = models.PositiveIntegerField(_("average seconds to answer a chat"), null=True, blank=True)
    chat_resolution_rate = models.DecimalField(
        _("chats resolved"), max_digits=5, decimal_places=4, null=True, blank=True
    )
    service_score = models.DecimalField(_("service score"), max_digits=5, decimal_places=2)
    traffic_weight = models.DecimalField(_("traffic weight"), max_digits=5, decimal_places=3)

    class Meta:
        verbose_name = _("merchant score")
        verbose_name_plural = _("merchant scores")
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["merchant", "day"], name="merchants_score_one_per_day")]
        indexes = [models.Index(fields=["day", "service_score"], name="merchants_score_day_score")]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.day}: {self.service_score}"

    @property
    def dispute_percent(self) -> Decimal:
        return self.dispute_rate * 100

    @property
    def chat_resolution_percent(self) -> Decimal | None:
        return None if self.chat_resolution_rate is None else self.chat_resolution_rate * 100
