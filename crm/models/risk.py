"""Suspicions about consumers: risk flags with their evidence, and the review-text patterns (and frozen versions)
that raise them."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.models.consumers import Consumer


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
