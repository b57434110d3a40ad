"""The desk's shape: departments (teams and their queues), agents' desks, and the SLA policies with the ticket
kinds and priorities they are keyed by."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TicketKind(models.TextChoices):
    CONSULTATION = "consultation", _("Consultation")
    REFUND = "refund", _("Refund")
    RETURN = "return", _("Return")
    DISPUTE = "dispute", _("Dispute (维权)")
    COMPLAINT = "complaint", _("Complaint")


class TicketPriority(models.IntegerChoices):
    LOW = 1, _("Low")
    NORMAL = 2, _("Normal")
    HIGH = 3, _("High")
    URGENT = 4, _("Urgent")


class Department(models.Model):
    """A team and its queue of tickets (refunds, logistics, after-sales ...)."""

    tenant_field: ClassVar[str | None] = None

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentProfile(models.Model):
    """An agent's desk: their department, whether they take new work now, and how much at once."""

    tenant_field: ClassVar[str | None] = None

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile", verbose_name=_("user")
    )
    department = models.ForeignKey(
        Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="agents",
        verbose_name=_("department"),
    )  # fmt: skip
    available = models.BooleanField(_("available"), default=False)
    capacity = models.PositiveSmallIntegerField(_("capacity"), default=20, help_text=_("Open tickets at most."))
    chat_capacity = models.PositiveSmallIntegerField(
        _("chat capacity"), default=5, help_text=_("Live chats at once, at most.")
    )

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")

    def __str__(self) -> str:
        return str(self.user)


class SLAPolicy(models.Model):
    """Response and resolution targets, in business minutes, for tickets of a kind, priority and tier."""

    tenant_field: ClassVar[str | None] = None

    name = models.CharField(_("name"), max_length=100)
    # Blank means "any"; the most specific active policy that matches a ticket applies.
    kind = models.CharField(_("kind"), max_length=16, blank=True, choices=TicketKind.choices)
    priority = models.PositiveSmallIntegerField(_("priority"), null=True, blank=True, choices=TicketPriority.choices)
    tier = models.ForeignKey(
        "crm.CreditTier", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("tier")
    )
    first_response_minutes = models.PositiveIntegerField(_("first response within (business minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution within (business minutes)"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return self.name
