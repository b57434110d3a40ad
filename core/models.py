from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DemoDataset(models.Model):
    """A record that seed_demo loaded the demo data, so a second run does not load it again."""

    tenant_field: ClassVar[str | None] = None

    seed = models.PositiveIntegerField(_("seed"))
    scale = models.PositiveIntegerField(_("scale"))
    counts = models.JSONField(_("rows created"), default=dict)
    loaded_at = models.DateTimeField(_("loaded at"), auto_now_add=True)
    # Each app's demo commits on its own: a run that stopped half-way left this empty.
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("demo dataset")
        verbose_name_plural = _("demo datasets")

    def __str__(self) -> str:
        return str(_("seed %(seed)s, scale %(scale)s") % {"seed": self.seed, "scale": self.scale})


class QueuedTask(models.Model):
    """A Celery task a committed change asked for, kept until the broker has taken it (the outbox).

    ``core.queue.enqueue`` writes it in the transaction of the change; after the commit the message is
    sent and the row deleted. A row left here (the broker was down) is sent again by the outbox sweep.
    """

    tenant_field: ClassVar[str | None] = None

    task_name = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list)
    kwargs = models.JSONField(_("keyword arguments"), default=dict)
    created_at = models.DateTimeField(_("queued at"), default=timezone.now)
    # The sweep sends a row once this has passed: after the commit's own attempt, or after a sweeper's claim.
    send_after = models.DateTimeField(_("send after"), default=timezone.now)
    attempts = models.PositiveIntegerField(_("failed sends"), default=0)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("queued task")
        verbose_name_plural = _("queued tasks")
        indexes = [models.Index(fields=["send_after"], name="core_queuedtask_send_after")]

    def __str__(self) -> str:
        return self.task_name
