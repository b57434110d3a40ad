from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Merchant(models.Model):
    """A shop on the marketplace."""

    code = models.CharField(_("merchant code"), max_length=32, unique=True)
    name = models.CharField(_("shop name"), max_length=100)
    category = models.CharField(_("main category"), max_length=50)
    city = models.CharField(_("city"), max_length=50, blank=True)
    opened_at = models.DateTimeField(_("opened at"))

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class MerchantMembership(models.Model):
    """A staff user working for one merchant; the basis of merchant tenancy."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="merchant_membership", verbose_name=_("user")
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("merchant")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("merchant membership")
        verbose_name_plural = _("merchant memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant}"
