"""An agent's own tools for the queue and the ticket page: saved views (a named query of the queue) and
macros (several ticket actions in one click). Personal when they have an owner; shared (made by a
supervisor, for everyone or one department) when they have none."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from tickets.models.departments import Department, TicketPriority
from tickets.models.tickets import Ticket


class DeskTool(models.Model):
    """What a saved view and a macro share: a name, an owner (blank: shared) and a department (shared only)."""

    tenant_field: ClassVar[str | None] = None

    name = models.CharField(_("name"), max_length=80)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("owner"), help_text=_("Blank: shared, made by a supervisor."),
    )  # fmt: skip
    department = models.ForeignKey(
        Department, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("department"),
        help_text=_("A shared one for this department only; blank: for everyone."),
    )  # fmt: skip
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def shared(self) -> bool:
        return self.owner_id is None


class SavedView(DeskTool):
    """A named filter set of the ticket queue: the changelist's known query parameters, checked when saved."""

    query = models.CharField(_("query"), max_length=1000, blank=True)

    class Meta(DeskTool.Meta):
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")


class Macro(DeskTool):
    """Several actions on a ticket in one click, in one transaction: reply, status, priority, tags, assign to me."""

    reply = models.TextField(
        _("reply"), blank=True, help_text=_("Placeholders: {consumer}, {agent}, {order}, {ticket}, {merchant}.")
    )
    status = models.CharField(_("set status"), max_length=16, blank=True, choices=Ticket.Status.choices)
    priority = models.PositiveSmallIntegerField(
        _("set priority"), null=True, blank=True, choices=TicketPriority.choices
    )
    tags = ArrayField(
        models.CharField(max_length=32), verbose_name=_("add tags"), default=list, blank=True, size=10,
        help_text=_("Comma-separated."),
    )  # fmt: skip
    assign_to_me = models.BooleanField(_("assign to me"), default=False)

    class Meta(DeskTool.Meta):
        verbose_name = _("macro")
        verbose_name_plural = _("macros")
