"""A call's uploaded audio and the languages and speakers QA knows."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Language(models.TextChoices):
    ENGLISH = "en", _("English")
    CHINESE = "zh", _("Chinese")


class Speaker(models.TextChoices):
    AGENT = "agent", _("Agent")
    CONSUMER = "consumer", _("Consumer")
    BOT = "bot", _("Bot")
    UNKNOWN = "unknown", _("Unknown speaker")


class Recording(models.Model):
    """A call's audio, uploaded for transcription, with where its transcription stands."""

    tenant_field: ClassVar[str | None] = "ticket__merchant"

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for transcription")
        TRANSCRIBING = "transcribing", _("Transcribing")
        DONE = "done", _("Transcribed")
        FAILED = "failed", _("Failed")

    audio = models.FileField(_("audio"), upload_to="recordings/%Y/%m/")
    language = models.CharField(_("language"), max_length=8, default=Language.ENGLISH, choices=Language.choices)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="recordings", verbose_name=_("agent")
    )
    consumer = models.ForeignKey(
        "crm.Consumer", on_delete=models.PROTECT, related_name="recordings", verbose_name=_("consumer")
    )
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="recordings",
        verbose_name=_("ticket"),
    )  # fmt: skip
    called_at = models.DateTimeField(_("call started at"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    failure_reason = models.TextField(_("failure reason"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    duration_seconds = models.FloatField(_("duration (s)"), null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("uploaded by"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    transcribed_at = models.DateTimeField(_("transcribed at"), null=True, blank=True)
    # The uploader's Idempotency-Key (empty: none was sent): a retried upload returns this recording.
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("recording")
        verbose_name_plural = _("recordings")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="qa_recording_status")]
        constraints = [
            # Keys are their uploader's own, like refunds' (tickets_refund_key_per_requester).
            models.UniqueConstraint(
                fields=["uploaded_by", "idempotency_key"], condition=~models.Q(idempotency_key=""),
                name="qa_recording_key_per_uploader",
            )
        ]  # fmt: skip

    def __str__(self) -> str:
        return _("Recording #%(id)s") % {"id": self.pk}
