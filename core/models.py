from __future__ import annotations

from typing import ClassVar

from django.db import models
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
