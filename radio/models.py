"""The Nine O'Clock Radio: nominations, their screening, channels, the morning digests and the answers to them."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from qa.models import Severity

SHOP_CODE_PREFIX = "shop-"


class SourceKind(models.TextChoices):
    TICKET = "ticket", _("Ticket")
    CHAT = "chat", _("Chat")
    TRANSCRIPT = "transcript", _("Call or chat transcript")
    FINDING = "finding", _("QA finding")


class Channel(models.Model):
    """A department's radio channel (logistics, refunds policy, electronics, the app ...) that business teams follow,
    or a shop's own channel (``merchant`` set): its customers' voices, for its staff.

    A shop's channel is made by the morning build the first time a screened nomination about the shop goes on
    air (``building.build_digests``); it has no department, and its digest carries only that shop's items.
    """

    tenant_field: ClassVar[str | None] = "merchant"

    department = models.ForeignKey(
        "tickets.Department", on_delete=models.PROTECT, null=True, blank=True, related_name="radio_channels",
        verbose_name=_("department"), help_text=_("Blank for a shop's own channel."),
    )  # fmt: skip
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("shop"), help_text=_("Set for a shop's own channel: its staff read it, nobody subscribes."),
    )  # fmt: skip
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=300, blank=True)
    active = models.BooleanField(_("active"), default=True, help_text=_("Inactive channels get no new digests."))
    subscribers: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Subscription", related_name="radio_channels", verbose_name=_("subscribers")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = pgettext_lazy("radio", "channel")
        verbose_name_plural = _("channels")
        ordering = ["name"]
        permissions = [("read_all_channels", _("Can read every channel's digest (curators)"))]
        constraints = [models.UniqueConstraint(fields=["merchant"], name="radio_channel_one_per_shop")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # ``shop-<id>`` is the code the morning build gives a shop's channel: a department's channel cannot take it.
        if self.merchant_id is None and self.code.startswith(SHOP_CODE_PREFIX):
            raise ValidationError({"code": _("Codes starting with “shop-” are kept for the shops' own channels.")})


class Subscription(models.Model):
    """A business user following a channel: its digest is on their page every morning."""

    tenant_field: ClassVar[str | None] = None

    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="subscriptions", verbose_name=pgettext_lazy("radio", "channel")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="radio_subscriptions", verbose_name=_("user")
    )
    created_at = models.DateTimeField(_("subscribed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [models.UniqueConstraint(fields=["user", "channel"], name="radio_subscription_once")]

    def __str__(self) -> str:
        return f"{self.user} → {self.channel}"


class Nomination(models.Model):
    """A case an agent put forward for the radio: the consumer's own words, the agent's note, and its screening.

    The source is a (kind, id) pair with one unique constraint, not a foreign key per kind, because a
    nomination must outlive its source exactly as it was nominated: QA replaces a transcript's
    segments (and deletes their findings) when a transcript is re-imported or a chat goes on, and a
    foreign key would either cascade the nomination away or be nulled — and a nulled key would let
    the same source be nominated again. The quote is copied (masked) at nomination time, so nothing
    on the radio reads the source afterwards; ``ticket`` keeps the case's ticket for navigation.
    """

    tenant_field: ClassVar[str | None] = None

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for screening")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        MERGED = "merged", _("Merged into another")

    source_kind = models.CharField(_("source"), max_length=16, choices=SourceKind.choices)
    source_id = models.PositiveBigIntegerField(_("source id"))
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="radio_nominations",
        verbose_name=_("ticket"),
    )  # fmt: skip
    department = models.ForeignKey(
        "tickets.Department", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("department"),
    )  # fmt: skip
    # The shop the case is about (its ticket's merchant, at nomination): once screened, it goes on that shop's
    # channel too.
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("shop"),
    )  # fmt: skip
    quote = models.TextField(_("the consumer's words"))
    note = models.TextField(_("agent's note"), blank=True)
    headline = models.CharField(_("headline"), max_length=200, blank=True)
    suggested_channel = models.ForeignKey(
        Channel, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("suggested channel"),
    )  # fmt: skip
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices, default=Severity.MEDIUM)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    # How many customers said this: 1, plus those of every nomination merged into this one.
    customers = models.PositiveIntegerField(_("customers"), default=1)
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged",
        verbose_name=_("merged into"),
    )  # fmt: skip
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    nominated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="radio_nominations",
        verbose_name=_("nominated by"),
    )  # fmt: skip
    nominated_at = models.DateTimeField(_("nominated at"))
    screened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("screened by"),
    )  # fmt: skip
    screened_at = models.DateTimeField(_("screened at"), null=True, blank=True)
    channels: models.ManyToManyField[Any, Any] = models.ManyToManyField(
        Channel, through="Placement", related_name="nominations", blank=True, verbose_name=_("channels")
    )

    class Meta:
        verbose_name = _("nomination")
        verbose_name_plural = _("nominations")
        ordering = ["-nominated_at"]
        constraints = [
            models.UniqueConstraint(fields=["source_kind", "source_id"], name="radio_nomination_once_per_source"),
            models.CheckConstraint(condition=Q(customers__gte=1), name="radio_nomination_customers_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "-nominated_at"], name="radio_nomination_queue"),
            models.Index(fields=["nominated_by", "-nominated_at"], name="radio_nomination_agent"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        """The headline, or the start of the quote while a curator has not written one (what a digest item shows)."""
        return self.headline or default_headline(self.quote)


HEADLINE_FROM_QUOTE = 40  # characters of the quote a headline falls back to


def default_headline(quote: str) -> str:
    """The headline of a nomination without one: its quote on one line, cut to HEADLINE_FROM_QUOTE characters.

    The one definition of the fallback: the morning build freezes it into the digest items too.
    """
    text = " ".join(quote.split())
    return text if len(text) <= HEADLINE_FROM_QUOTE else text[: HEADLINE_FROM_QUOTE - 1] + "…"


class Placement(models.Model):
    """A nomination approved into one channel; the channel's next digest takes it (and records which one did)."""

    tenant_field: ClassVar[str | None] = None

    nomination = models.ForeignKey(Nomination, on_delete=models.CASCADE, related_name="placements")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="placements")
    approved_at = models.DateTimeField(_("approved at"))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("approved by"),
    )  # fmt: skip
    digest = models.ForeignKey(
        "Digest", on_delete=models.SET_NULL, null=True, blank=True, related_name="placements",
        verbose_name=_("digest"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("placement")
        verbose_name_plural = _("placements")
        constraints = [models.UniqueConstraint(fields=["nomination", "channel"], name="radio_placement_once")]
        indexes = [
            # What the morning build claims: each channel's approvals not yet in a digest.
            models.Index(
                fields=["channel", "approved_at"], condition=Q(digest__isnull=True), name="radio_placement_waiting"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.nomination_id} → {self.channel_id}"


class Digest(models.Model):
    """One channel's morning digest for one day: its items frozen in order, its figures, and its audio."""

    tenant_field: ClassVar[str | None] = "channel__merchant"  # merchant staff read their shop's channel only

    class Audio(models.TextChoices):
        NONE = "none", _("Nothing to read")
        PENDING = "pending", _("Being recorded")
        READY = "ready", _("Ready")
        UNAVAILABLE = "unavailable", _("No speech engine on this server")
        FAILED = "failed", _("Failed")

    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="digests", verbose_name=pgettext_lazy("radio", "channel")
    )
    day = models.DateField(_("day"))
    built_at = models.DateTimeField(_("built at"))
    # Everything approved into the channel up to this moment (and after the previous digest) is in it.
    covers_until = models.DateTimeField(_("covers approvals until"))
    items_count = models.PositiveIntegerField(_("items"), default=0)
    customers = models.PositiveIntegerField(_("customers"), default=0)
    # Frozen per-channel figures: items by severity and by source kind, severe items.
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    audio = models.FileField(_("audio"), upload_to="radio/", blank=True)
    audio_status = models.CharField(_("audio"), max_length=16, choices=Audio.choices, default=Audio.NONE)
    audio_error = models.TextField(_("audio error"), blank=True)
    audio_seconds = models.FloatField(_("audio length (s)"), null=True, blank=True)

    class Meta:
        verbose_name = _("digest")
        verbose_name_plural = _("digests")
        ordering = ["-day", "channel"]
        constraints = [models.UniqueConstraint(fields=["channel", "day"], name="radio_digest_once_a_day")]
        indexes = [models.Index(fields=["day"], name="radio_digest_day")]

    def __str__(self) -> str:
        return f"{self.channel} {self.day:%Y-%m-%d}"

    @property
    def audio_type(self) -> str:
        """The recording's content type: MP3 now; WAV for a digest recorded before the radio compressed."""
        return "audio/wav" if self.audio.name.endswith(".wav") else "audio/mpeg"


class DigestItem(models.Model):
    """One nomination as it stood when the digest was built (frozen), in the digest's order."""

    tenant_field: ClassVar[str | None] = "digest__channel__merchant"

    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="items", verbose_name=_("digest"))
    nomination = models.ForeignKey(
        Nomination, on_delete=models.CASCADE, related_name="digest_items", verbose_name=_("nomination")
    )
    position = models.PositiveIntegerField(_("position"))
    headline = models.CharField(_("headline"), max_length=200)
    quote = models.TextField(_("the consumer's words"))
    note = models.TextField(_("agent's note"), blank=True)
    customers = models.PositiveIntegerField(_("customers"))
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    source_kind = models.CharField(_("source"), max_length=16, choices=SourceKind.choices)
    nominated_at = models.DateTimeField(_("nominated at"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("acknowledged by"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("digest item")
        verbose_name_plural = _("digest items")
        ordering = ["digest", "position"]
        permissions = [("respond_digestitem", _("Can acknowledge and answer digest items"))]
        constraints = [
            models.UniqueConstraint(fields=["digest", "position"], name="radio_item_position"),
            models.UniqueConstraint(fields=["digest", "nomination"], name="radio_item_once"),
        ]
        indexes = [models.Index(fields=["nomination"], name="radio_item_nomination")]

    def __str__(self) -> str:
        return self.headline


class Reply(models.Model):
    """A business team's answer to a digest item ("fix scheduled for Friday"), read by the nominating agent."""

    tenant_field: ClassVar[str | None] = None

    item = models.ForeignKey(DigestItem, on_delete=models.CASCADE, related_name="replies", verbose_name=_("item"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("author"),
    )  # fmt: skip
    body = models.TextField(_("reply"))
    created_at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("reply")
        verbose_name_plural = _("replies")
        ordering = ["item", "created_at"]
        indexes = [models.Index(fields=["item", "created_at"], name="radio_reply_item")]

    def __str__(self) -> str:
        return self.body[:40]
