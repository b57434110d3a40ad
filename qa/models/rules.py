"""QA rules: what a rule matches (its definition), the rule itself and its frozen versions, and their choices."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.text import PII_KINDS
from qa.matching import RuleSetError, RuleSpec, validate_spec


class Category(models.TextChoices):
    COMPLIANCE = "compliance", _("Compliance")
    COURTESY = "courtesy", _("Courtesy")
    RISK = "risk", _("Risk")
    PRIVACY = "privacy", _("Privacy")


class Severity(models.IntegerChoices):
    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")
    CRITICAL = 4, _("Critical")


class RuleKind(models.TextChoices):
    KEYWORD = "keyword", _("Keyword (any of a list)")
    PHRASE = "phrase", _("Phrase")
    PROXIMITY = "proximity", _("Proximity (A within N of B)")
    REGEX = "regex", _("Regular expression")
    REQUIRED = "required", _("Required phrase (its absence is the finding)")
    PII = "pii", _("Personal data read out (phone, ID or bank card number)")


class PiiKind(models.TextChoices):
    PHONE = "phone", _("Phone number")
    ID = "id", _("ID number")
    CARD = "card", _("Bank card number")


def all_pii_kinds() -> list[str]:
    return list(PII_KINDS)


class ProximityScope(models.TextChoices):
    SEGMENT = "segment", _("Within one turn")
    CALL = "call", _("Within the call (one speaker's turns)")


class SpeakerScope(models.TextChoices):
    AGENT = "agent", _("Agent")
    CONSUMER = "consumer", _("Consumer")
    ANY = "any", _("Any speaker")


class RuleDefinition(models.Model):
    """What a rule matches; shared by the rule (its current definition) and its frozen versions."""

    kind = models.CharField(_("kind"), max_length=16, choices=RuleKind.choices)
    # keyword/required: any of these; phrase: one or more phrases; proximity: the A terms.
    terms = models.JSONField(_("terms"), default=list, blank=True)
    # proximity only: the B terms, and how close (in tokens of the normalised text) they must be.
    near_terms = models.JSONField(_("near terms"), default=list, blank=True)
    distance = models.PositiveSmallIntegerField(_("distance (tokens)"), null=True, blank=True)
    pattern = models.TextField(_("regular expression"), blank=True)
    speaker = models.CharField(_("speaker"), max_length=16, choices=SpeakerScope.choices, default=SpeakerScope.ANY)
    # proximity only: one turn, or the turns of one speaker across the call.
    scope = models.CharField(
        _("proximity scope"), max_length=8, choices=ProximityScope.choices, default=ProximityScope.SEGMENT
    )
    # A match is dropped when one of these ends within negation_window tokens before it (没法保证 退款).
    negations = models.JSONField(_("negation terms"), default=list, blank=True)
    negation_window = models.PositiveSmallIntegerField(_("negation window (tokens)"), null=True, blank=True)
    # pii only: which numbers the rule looks for.
    pii_kinds = models.JSONField(_("personal numbers"), default=all_pii_kinds, blank=True)

    class Meta:
        abstract = True

    def spec(self, key: int = 0) -> RuleSpec:
        """The definition as the rule engine reads it."""
        return RuleSpec(
            key=key, kind=self.kind, speaker=self.speaker, terms=tuple(self.terms or ()),
            near_terms=tuple(self.near_terms or ()), distance=self.distance, pattern=self.pattern, scope=self.scope,
            negations=tuple(self.negations or ()), negation_window=self.negation_window,
            pii_kinds=tuple(self.pii_kinds or ()),
        )  # fmt: skip

    def clean(self) -> None:
        super().clean()
        spec = self.spec()
        try:
            validate_spec(spec)
        except RuleSetError as error:
            raise ValidationError({error.field: error.message}) from None


class Rule(RuleDefinition):
    """A QA rule supervisors tune; editing it freezes the old definition as a RuleVersion."""

    tenant_field: ClassVar[str | None] = None

    name = models.CharField(_("name"), max_length=120, unique=True)
    # A rule's name is data, written in the desk's language; the English one is what an English reader sees.
    name_en = models.CharField(_("name in English"), max_length=120, blank=True,
                               help_text=_("Shown instead of the name on English pages; blank: the name."))  # fmt: skip
    description = models.TextField(_("description"), blank=True)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices, default=Severity.MEDIUM)
    active = models.BooleanField(_("active"), default=False)
    version = models.PositiveIntegerField(_("version"), default=1)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("QA rule")
        verbose_name_plural = _("QA rules")
        ordering = ["-severity", "name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """The name in the reader's language: the English name on an English page when it has one."""
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name


class RuleVersion(RuleDefinition):
    """A rule's definition as it stood at one version; findings cite the version that found them."""

    tenant_field: ClassVar[str | None] = None

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="versions", verbose_name=_("rule"))
    number = models.PositiveIntegerField(_("version"))
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("rule version")
        verbose_name_plural = _("rule versions")
        ordering = ["rule", "-number"]
        constraints = [models.UniqueConstraint(fields=["rule", "number"], name="qa_rule_version_number")]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.number}"
