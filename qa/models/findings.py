"""What the rules found: findings with the supervisor's verdict, the runs that made them, and agents' scorecards."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from qa.models.rules import Category, Rule, RuleVersion, Severity
from qa.models.transcripts import Segment, Transcript


class Finding(models.Model):
    """What a rule found in a transcript: the passage, the rule version, and the supervisor's verdict."""

    tenant_field: ClassVar[str | None] = "transcript__ticket__merchant"

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CONFIRMED = "confirmed", _("Confirmed")
        DISMISSED = "dismissed", _("Dismissed")

    transcript = models.ForeignKey(Transcript, on_delete=models.CASCADE, related_name="findings")
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="findings", verbose_name=_("rule"))
    rule_version = models.ForeignKey(
        RuleVersion, on_delete=models.PROTECT, related_name="findings", verbose_name=_("rule version")
    )
    # Denormalised from the rule version and transcript for the queue's filters and ordering.
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="qa_findings",
        verbose_name=_("agent"),
    )  # fmt: skip
    # None for a required phrase that never came: the whole transcript is the finding.
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, null=True, blank=True, related_name="findings", verbose_name=_("segment")
    )
    matched_text = models.TextField(_("matched text"), blank=True)
    start = models.PositiveIntegerField(_("start offset"), default=0)
    end = models.PositiveIntegerField(_("end offset"), default=0)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    note = models.TextField(_("note"), blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("reviewed by"),
    )  # fmt: skip
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    created_at = models.DateTimeField(_("found at"), auto_now_add=True)

    class Meta:
        verbose_name = _("QA finding")
        verbose_name_plural = _("QA findings")
        ordering = ["-severity", "created_at", "pk"]
        constraints = [
            # Re-evaluating never duplicates: one finding per rule and place, whatever the rule's version.
            models.UniqueConstraint(
                fields=["rule", "transcript", "segment", "start"], name="qa_finding_once", nulls_distinct=False
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-severity", "created_at"], name="qa_finding_queue"),
            models.Index(fields=["agent", "occurred_at"], name="qa_finding_agent"),
        ]

    def __str__(self) -> str:
        return _("Finding #%(id)s") % {"id": self.pk}


class RuleRun(models.Model):
    """A rule version applied to the transcripts of the last N days in the background, with its progress."""

    tenant_field: ClassVar[str | None] = None

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="runs", verbose_name=_("rule"))
    rule_version = models.ForeignKey(
        RuleVersion, on_delete=models.PROTECT, related_name="runs", verbose_name=_("rule version")
    )
    days = models.PositiveSmallIntegerField(_("days"))
    # The window's start, fixed when the run is asked for: a run that waits in the queue reads the same days.
    since = models.DateTimeField(_("transcripts since"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("requested by"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    transcripts_total = models.PositiveIntegerField(_("transcripts to read"), null=True, blank=True)
    transcripts_done = models.PositiveIntegerField(_("transcripts read"), default=0)
    findings_added = models.PositiveIntegerField(_("findings added"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("rule run over history")
        verbose_name_plural = _("rule runs over history")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["rule", "-created_at"], name="qa_rulerun_rule")]

    def __str__(self) -> str:
        return _("Run #%(id)s") % {"id": self.pk}

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.transcripts_total:
            return 0
        return min(100, self.transcripts_done * 100 // self.transcripts_total)


class Scorecard(models.Model):
    """An agent's QA week: what they handled, what was confirmed against them, and the score."""

    tenant_field: ClassVar[str | None] = None

    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qa_scorecards", verbose_name=_("agent")
    )
    week = models.DateField(_("week of"), help_text=_("The Monday the week starts on."))
    calls = models.PositiveIntegerField(_("calls"), default=0)
    chats = models.PositiveIntegerField(_("chats"), default=0)
    confirmed = models.JSONField(_("confirmed findings per category"), default=dict)
    score = models.DecimalField(
        _("score"), max_digits=5, decimal_places=1,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )  # fmt: skip
    computed_at = models.DateTimeField(_("computed at"), auto_now=True)

    class Meta:
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")
        ordering = ["agent", "-week"]
        constraints = [models.UniqueConstraint(fields=["agent", "week"], name="qa_scorecard_week")]

    def __str__(self) -> str:
        return f"{self.agent} {self.week}"
