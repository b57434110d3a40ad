"""The satisfaction survey (CSAT) of a ticket resolved outside chat: the consumer's one answer, given by a signed
link (tickets.surveys). A chat's own survey is answered in the chat widget (chat.Satisfaction)."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models.tickets import Ticket


class TicketSatisfaction(models.Model):
    """A consumer's answer to the survey of a phone or web ticket once resolved: 1–5 stars and a comment."""

    tenant_field: ClassVar[str | None] = "ticket__merchant"

    # One per ticket: the constraint is the last word on a second answer (two tabs, a double tap).
    ticket = models.OneToOneField(
        Ticket, on_delete=models.CASCADE, related_name="satisfaction", verbose_name=_("ticket")
    )
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("rated at"))

    class Meta:
        verbose_name = _("ticket satisfaction answer")
        verbose_name_plural = _("ticket satisfaction answers")
        indexes = [models.Index(fields=["created_at"], name="tickets_satisfaction_created")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__gte=1, score__lte=5), name="tickets_satisfaction_score_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.score}★"
