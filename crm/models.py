from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.text import mask_phone

STARS = [MinValueValidator(1), MaxValueValidator(5)]


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


class RiskFlag(models.Model):
    """A suspicion about a consumer (e.g. a malicious negative reviewer), with its evidence, for a supervisor."""

    class Kind(models.TextChoices):
        NEGATIVE_BURST = "negative_burst", _("Many negative reviews across many shops")
        NEGATIVE_THEN_REFUND = "negative_then_refund", _("Negative reviews followed by refund demands")
        EXTORTION = "extortion", _("Extortion phrases")
        ABUSE = "abuse", _("Abusive reviews")
        DUPLICATE_TEXT = "duplicate_text", _("Near-identical review texts")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CONFIRMED = "confirmed", _("Confirmed")
        CLEARED = "cleared", _("Cleared")

    consumer = models.ForeignKey(
        Consumer, on_delete=models.CASCADE, related_name="risk_flags", verbose_name=_("consumer")
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    evidence = models.JSONField(_("evidence"), default=dict)
    detected_at = models.DateTimeField(_("detected at"))
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("risk flag")
        verbose_name_plural = _("risk flags")
        indexes = [models.Index(fields=["status", "-detected_at"], name="crm_riskflag_status_detected")]
        constraints = [
            # At most one live flag of a kind per consumer: detection updates it rather than adding another.
            models.UniqueConstraint(
                fields=["consumer", "kind"],
                condition=models.Q(status__in=["open", "confirmed"]),
                name="crm_riskflag_one_live_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display()})"


class RiskPatternDefinition(models.Model):
    """What a risk pattern matches in a review's text; shared by the pattern and its frozen versions."""

    class Match(models.TextChoices):
        PHRASE = "phrase", _("Any of the phrases")
        PROXIMITY = "proximity", _("Terms near each other")
        REGEX = "regex", _("Regular expression")

    class Flags(models.TextChoices):
        EXTORTION = "extortion", _("Extortion")
        ABUSE = "abuse", _("Abuse")

    match = models.CharField(_("match"), max_length=16, choices=Match.choices, default=Match.PHRASE)
    flag = models.CharField(_("raises"), max_length=16, choices=Flags.choices, default=Flags.EXTORTION)
    terms = models.TextField(
        _("terms"), help_text=_("One per line: the phrases; for proximity the first terms; for regex the expression.")
    )
    near_terms = models.TextField(
        _("near terms"), blank=True, help_text=_("Proximity: one per line, within the distance of a first term.")
    )
    then_terms = models.TextField(
        _("then terms"),
        blank=True,
        help_text=_("Proximity, optional: one per line, within the distance after a near term (in that order)."),
    )
    except_terms = models.TextField(
        _("except"),
        blank=True,
        help_text=_("One per line: a match whose passage contains one of these does not count (不退款就算了)."),
    )
    ordered = models.BooleanField(
        _("in this order"), default=False, help_text=_("Proximity: the near terms must come after the first terms.")
    )
    distance = models.PositiveSmallIntegerField(
        _("distance (characters)"), default=12, validators=[MinValueValidator(1), MaxValueValidator(200)]
    )
    weight = models.PositiveSmallIntegerField(
        _("weight"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text=_("Added to the consumer's extortion score for each review it matches."),
    )

    class Meta:
        abstract = True


class RiskPattern(RiskPatternDefinition):
    """An admin-editable pattern of extortion or abuse in review texts; editing it freezes a version."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("risk pattern")
        verbose_name_plural = _("risk patterns")
        ordering = ["flag", "name"]

    def __str__(self) -> str:
        return self.name


class RiskPatternVersion(RiskPatternDefinition):
    """A risk pattern's definition as it stood at one version; flags' evidence cites it."""

    pattern = models.ForeignKey(
        RiskPattern, on_delete=models.CASCADE, related_name="versions", verbose_name=_("risk pattern")
    )
    number = models.PositiveIntegerField(_("version"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("risk pattern version")
        verbose_name_plural = _("risk pattern versions")
        ordering = ["pattern", "-number"]
        constraints = [models.UniqueConstraint(fields=["pattern", "number"], name="crm_riskpattern_version_number")]

    def __str__(self) -> str:
        return f"{self.pattern_id} v{self.number}"


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
