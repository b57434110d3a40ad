"""A live chat with a consumer: the session, the consumer's satisfaction rating and the images sent in it."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", "简体中文"
    EN = "en", "English"


class ChatSession(models.Model):
    """A live chat with a consumer: its ticket, who is talking (bot, queue, agent) and its place in the queue."""

    # A shop's chat (``shop``) belongs to that shop's staff; a platform chat (no shop) to no merchant.
    tenant_field: ClassVar[str | None] = "shop"

    class State(models.TextChoices):
        BOT = "bot", _("With the bot")
        WAITING = "waiting", _("Waiting for an agent")
        ACTIVE = "active", _("With an agent")
        ENDED = "ended", _("Ended")

    class Handoff(models.TextChoices):
        ASKED = "asked", _("The consumer asked for a person")
        MISSES = "misses", _("The bot could not answer twice in a row")
        ANGER = "anger", _("Complaint or anger words")
        PRIORITY = "priority", _("Priority routing of the consumer's tier")
        BOT_ERROR = "bot_error", _("The bot failed")
        REQUEUED = "requeued", _("Accepted but not answered in time")
        TRANSFERRED = "transferred", _("Transferred by an agent")
        ESCALATED = "escalated", _("The consumer asked the platform to step in")

    # Queue order: callbacks promised at night first (the morning's agents find them first), then
    # consumers whose tier has priority routing, then first come first served.
    RANK_NORMAL, RANK_PRIORITY, RANK_CALLBACK = 0, 1, 2

    ticket = models.OneToOneField(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="chat", verbose_name=_("ticket")
    )
    consumer = models.ForeignKey("crm.Consumer", on_delete=models.PROTECT, related_name="+", verbose_name=_("consumer"))
    # The shop the consumer opened the chat with (its bot answers from its articles first, its staff take the
    # handoff); null: the platform's own chat.
    shop = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("shop"),
    )  # fmt: skip
    # When the platform's agents took over a shop's chat (nobody of the shop was free, or 平台介入); null: the
    # shop's staff handle it. A platform chat never has one.
    escalated_at = models.DateTimeField(_("platform stepped in at"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.BOT)
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, default=Language.ZH_HANS)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("agent"),
    )  # fmt: skip
    bot_misses = models.PositiveSmallIntegerField(_("bot misses in a row"), default=0)
    handoff_reason = models.CharField(_("handed off because"), max_length=16, choices=Handoff.choices, blank=True)
    queue_rank = models.PositiveSmallIntegerField(_("queue rank"), default=RANK_NORMAL)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    # The accepting agent's first message; a chat accepted and left unanswered goes back to the queue.
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    callback = models.BooleanField(_("callback promised"), default=False)
    # From the consumer's tier when the chat started (as the ticket's tier is): routing never waits on a join.
    priority_routing = models.BooleanField(_("priority routing"), default=False)
    # What the bot gathered before the handoff, as codes and quotes, put into words by the console.
    summary = models.JSONField(_("bot's summary"), default=dict, blank=True)
    # An action the bot proposed and the consumer has not yet confirmed or cancelled (one at a time):
    # {"id", "kind", "order", "order_no", "amount", "key"}. Only a confirm frame naming its id carries it out.
    proposal = models.JSONField(_("pending proposal"), default=dict, blank=True)
    created_at = models.DateTimeField(_("started at"))
    last_activity_at = models.DateTimeField(_("last activity at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("live chat")
        verbose_name_plural = _("live chats")
        permissions = [
            ("use_chat_console", _("Can take live chats in the agent console")),
            ("issue_chat_token", _("Can issue chat tokens for consumers")),
            ("view_missed_questions", _("Can see the questions the bot missed")),
        ]
        indexes = [
            models.Index(fields=["state", "-queue_rank", "queued_at"], name="tickets_chat_queue"),
            models.Index(fields=["state", "accepted_at"], name="tickets_chat_accepted"),
            models.Index(fields=["state", "last_activity_at"], name="tickets_chat_activity"),
            models.Index(fields=["agent", "state"], name="tickets_chat_agent_state"),
            models.Index(fields=["shop", "state"], name="chat_session_shop_state"),
        ]
        constraints = [
            # One live conversation per consumer: every tab and reconnect joins it.
            models.UniqueConstraint(
                fields=["consumer"], condition=~models.Q(state="ended"), name="tickets_chat_one_live_per_consumer"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.get_state_display()}"


class Satisfaction(models.Model):
    """A consumer's answer to the one-question survey offered when their chat ended: 1–5 stars, a comment."""

    tenant_field: ClassVar[str | None] = "chat__ticket__merchant"

    # One per chat, so one per ticket too (a chat has one ticket): the constraint is the last word on a second answer.
    chat = models.OneToOneField(
        ChatSession, on_delete=models.CASCADE, related_name="satisfaction", verbose_name=_("live chat")
    )
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("rated at"))

    class Meta:
        verbose_name = _("satisfaction answer")
        verbose_name_plural = _("satisfaction answers")
        indexes = [models.Index(fields=["created_at"], name="chat_satisfaction_created")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__gte=1, score__lte=5), name="chat_satisfaction_score_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.chat_id} {self.score}★"


class ChatAttachment(models.Model):
    """An image sent in a live chat, by the consumer or the agent: the stored file and the message carrying it."""

    tenant_field: ClassVar[str | None] = "chat__shop"

    class Sender(models.TextChoices):
        CONSUMER = "consumer", _("Consumer")
        AGENT = "agent", _("Agent")

    chat = models.ForeignKey(
        ChatSession, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("live chat")
    )
    # The chat message (a ticket event) that carries the image; the timeline shows the image in its place.
    event = models.OneToOneField(
        "tickets.TicketEvent", on_delete=models.CASCADE, related_name="attachment", verbose_name=_("message")
    )
    sender = models.CharField(_("sent by"), max_length=16, choices=Sender.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("agent"),
    )  # fmt: skip
    file = models.FileField(_("file"), upload_to="chat/%Y/%m/")
    # Sniffed from the bytes (core.images), never taken from the name or the browser's word.
    content_type = models.CharField(_("type"), max_length=32)
    size = models.PositiveIntegerField(_("size in bytes"))
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    # The client's idempotency key, prefixed by who sent it ("consumer:…", "agent.7:…"): a retried upload finds
    # the first one instead of storing a second message.
    key = models.CharField(_("idempotency key"), max_length=80)
    created_at = models.DateTimeField(_("sent at"))

    class Meta:
        verbose_name = _("chat attachment")
        verbose_name_plural = _("chat attachments")
        constraints = [models.UniqueConstraint(fields=["chat", "key"], name="chat_attachment_once_per_key")]

    def __str__(self) -> str:
        return f"#{self.chat_id} {self.file.name}"
