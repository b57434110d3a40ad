"""What makes the bot act: proactive rules (it opens with a message) and handoff phrases (it hands off)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.cache import cache
from django.db import models
from django.utils.translation import gettext_lazy as _

from chat.models.sessions import Language


class ProactiveRule(models.Model):
    """When a chat opens and the consumer's situation matches, the bot opens with this message."""

    tenant_field: ClassVar[str | None] = "shop"

    class Condition(models.TextChoices):
        LATE_DELIVERY = "late_delivery", _("An order paid at least N days ago is not delivered yet")
        REFUND_REVIEW = "refund_review", _("A refund request is waiting for manual review")
        RECENTLY_DELIVERED = "recently_delivered", _("An order was delivered in the last N days")
        OPEN_DISPUTE = "open_dispute", _("An order has an open dispute")

    # A shop's rule speaks in that shop's chats only (before the platform's); null: the platform's.
    shop = models.ForeignKey(
        "merchants.Merchant", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("shop"), help_text=_("Blank: the platform's rule."),
    )  # fmt: skip
    name = models.CharField(_("name"), max_length=100)
    condition = models.CharField(_("when"), max_length=32, choices=Condition.choices)
    days = models.PositiveSmallIntegerField(_("N days"), default=3)
    message = models.TextField(_("message"), help_text=_("Placeholders: {consumer}, {order}, {item}, {amount}."))
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, default=Language.ZH_HANS)
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=10, help_text=_("When several rules match, the lowest number speaks.")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("proactive rule")
        verbose_name_plural = _("proactive rules")
        ordering = ["priority", "pk"]

    def __str__(self) -> str:
        return self.name


class HandoffPhrase(models.Model):
    """A phrase by which a consumer asks for a person (转人工, "real person"); any active one hands the chat off.

    The bot reads the active phrases through ``active_phrases`` (cached in Redis, shared by every process);
    saving or deleting a phrase drops the cache, so the next message reads the new list. The seed phrases in
    ``chat.intents`` keep working when the table is empty.
    """

    tenant_field: ClassVar[str | None] = None
    CACHE_KEY = "chat:handoff-phrases"

    phrase = models.CharField(_("phrase"), max_length=60, unique=True)
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, default=Language.ZH_HANS)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("handoff phrase")
        verbose_name_plural = _("handoff phrases")
        ordering = ["language", "phrase"]

    def __str__(self) -> str:
        return self.phrase

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.phrase = " ".join(self.phrase.split())
        super().save(*args, **kwargs)
        self.forget_phrases()

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        deleted = super().delete(*args, **kwargs)
        self.forget_phrases()
        return deleted

    @classmethod
    def forget_phrases(cls) -> None:
        """Drop the cached list (after a change; bulk changes in the admin call it too)."""
        cache.delete(cls.CACHE_KEY)

    @classmethod
    def active_phrases(cls) -> tuple[str, ...]:
        """The active phrases, from the cache when it holds them (one Redis read per message)."""
        phrases = cache.get(cls.CACHE_KEY)
        if phrases is None:
            phrases = list(cls.objects.filter(active=True).order_by("phrase").values_list("phrase", flat=True))
            cache.set(cls.CACHE_KEY, phrases, timeout=None)
        return tuple(phrases)
