"""A consumer: the shopper, their credit tier and latest rating, and each look at their whole phone or ID number."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.text import mask_phone


class CreditTier(models.Model):
    """A band of credit scores and the privileges it grants; rows are edited in the admin."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    min_score = models.PositiveIntegerField(_("minimum score"), unique=True, validators=[MaxValueValidator(1000)])
    instant_refund_limit = models.DecimalField(
        _("instant refund limit (yuan)"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0.00"))],
        help_text=_("Refunds up to this amount are approved at once; 0 means never instantly."),
    )
    priority_routing = models.BooleanField(_("priority routing"), default=False)
    # 极速退货 and 极速维权: the privileges beyond the instant refund (tickets.returns, tickets.disputes).
    instant_returns = models.BooleanField(
        _("instant returns"), default=False, db_default=False,
        help_text=_("Returns are approved at once, with the merchant's return address and a deadline to ship."),
    )  # fmt: skip
    return_refund_at_once = models.BooleanField(
        _("refund a return at once"), default=False, db_default=False,
        help_text=_(
            "An instant return is refunded on approval, before the goods are sent (within the instant refund"
            " limit); otherwise on the carrier's first scan."
        ),
    )  # fmt: skip
    instant_disputes = models.BooleanField(
        _("instant disputes"), default=False, db_default=False,
        help_text=_("A dispute the merchant does not answer by its deadline is decided for the consumer at once."),
    )  # fmt: skip
    description = models.CharField(_("privileges"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("credit tier")
        verbose_name_plural = _("credit tiers")
        ordering = ["-min_score"]

    def __str__(self) -> str:
        return self.name


class Consumer(models.Model):
    """A shopper on the marketplace, known to us by the platform's external id."""

    # Tenancy (core/tenancy.py): a consumer belongs to no merchant, so merchant staff never list them.
    tenant_field: ClassVar[str | None] = None

    external_id = models.CharField(_("external id"), max_length=32, unique=True)
    display_name = models.CharField(_("display name"), max_length=64)
    # Stored whole; shown masked to every role without the view_consumer_pii permission.
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    id_number = models.CharField(_("ID number"), max_length=18, blank=True)
    registered_at = models.DateTimeField(_("registered at"))
    # The latest rating, copied here by the nightly run so that lists and routing read one row.
    credit_score = models.PositiveIntegerField(_("credit score"), null=True, blank=True)
    tier = models.ForeignKey(
        CreditTier, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("tier")
    )

    class Meta:
        verbose_name = _("consumer")
        verbose_name_plural = _("consumers")
        permissions = [
            ("view_consumer_pii", _("Can see consumers' full phone and ID numbers")),
            ("import_marketplace", _("Can import consumers, merchants, orders, reviews and merchant staff")),
        ]
        indexes = [
            models.Index(fields=["tier", "credit_score"], name="crm_consumer_tier_score"),
            # The ticket queue finds a caller by their exact name or phone.
            models.Index(fields=["display_name"], name="crm_consumer_name"),
            models.Index(fields=["phone"], name="crm_consumer_phone", condition=~models.Q(phone="")),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.external_id})"

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def masked_id_number(self) -> str:
        value = self.id_number
        return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) > 7 else "*" * len(value)


class CreditRating(models.Model):
    """A consumer's latest credit rating, with each indicator's contribution, so the score explains itself."""

    consumer = models.OneToOneField(
        Consumer, on_delete=models.CASCADE, related_name="rating", verbose_name=_("consumer")
    )
    score = models.PositiveIntegerField(_("score"))
    tier = models.ForeignKey(CreditTier, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("tier"))
    # {indicator key: [raw value, points]}; score = BASE_SCORE + sum(points), clamped to 0..1000.
    contributions = models.JSONField(_("contributions"), default=dict)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("credit rating")
        verbose_name_plural = _("credit ratings")

    def __str__(self) -> str:
        return f"{self.consumer_id}: {self.score}"


class PiiReveal(models.Model):
    """One look at a consumer's whole phone or ID number by someone allowed to see it: who, when, which field."""

    tenant_field: ClassVar[str | None] = None  # the platform's log: no merchant's staff sees it

    class Field(models.TextChoices):
        PHONE = "phone", _("phone")
        ID_NUMBER = "id_number", _("ID number")

    consumer = models.ForeignKey(
        Consumer, on_delete=models.CASCADE, related_name="pii_reveals", verbose_name=_("consumer")
    )
    field = models.CharField(_("field"), max_length=16, choices=Field.choices)
    revealed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("revealed by")
    )
    revealed_at = models.DateTimeField(_("revealed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("personal number revealed")
        verbose_name_plural = _("personal numbers revealed")
        indexes = [models.Index(fields=["consumer", "-revealed_at"], name="crm_piireveal_consumer")]

    def __str__(self) -> str:
        return f"{self.consumer_id} {self.field} {self.revealed_by_id}"
