"""Live chat's models: a conversation with a consumer, the bot's knowledge base, its proactive rules."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
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


class KnowledgeArticle(models.Model):
    """An answer the bot may give: the question, other ways consumers ask it, and the answer.

    The bot ranks a chat's message among the active articles of its scope (a shop's, or the platform's), read
    through ``scope_ids`` (cached in Redis, shared by every process). The cached lists sit under one version
    token: saving or deleting an article, and every re-index (queued after the commit of every change), draws
    a new token, so no list survives a change of any article's shop or state, bulk changes included.
    """

    tenant_field: ClassVar[str | None] = "shop"
    SCOPE_VERSION_KEY = "chat:article-scopes"
    SCOPE_TIMEOUT = 24 * 3600  # lists of an old version are never read again: let Redis drop them

    # A shop's article answers that shop's chats only; null: the platform's, for every chat after the shop's own.
    shop = models.ForeignKey(
        "merchants.Merchant", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("shop"), help_text=_("Blank: the platform's article."),
    )  # fmt: skip
    title = models.CharField(_("question"), max_length=200)
    questions = models.TextField(
        _("other wordings"), blank=True, help_text=_("Other ways consumers ask this, one per line.")
    )
    answer = models.TextField(_("answer"))
    language = models.CharField(_("language"), max_length=8, choices=Language.choices, default=Language.ZH_HANS)
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("knowledge article")
        verbose_name_plural = _("knowledge articles")
        ordering = ["language", "title"]
        indexes = [models.Index(fields=["shop", "active"], name="chat_article_shop_active")]
        permissions = [("add_wording", _("Can add a consumer's question to an article as another wording"))]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        self.forget_scopes()

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        deleted = super().delete(*args, **kwargs)
        self.forget_scopes()
        return deleted

    @classmethod
    def forget_scopes(cls) -> None:
        """Drop every cached scope. A save drops them at once; a reader between the save and its commit may cache
        what was committed before, and the re-index that every change queues after its commit
        (``knowledge.index_article``) drops them again."""
        cache.delete(cls.SCOPE_VERSION_KEY)

    @classmethod
    def scope_ids(cls, shop_id: int | None) -> frozenset[int]:
        """The active articles of one shop (None: the platform's own), from the cache when it holds them."""
        version = cache.get_or_set(cls.SCOPE_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        key = f"chat:article-scope:{version}:{shop_id or 'platform'}"
        ids = cache.get(key)
        if ids is None:
            ids = list(cls.objects.filter(shop_id=shop_id, active=True).values_list("pk", flat=True))
            cache.set(key, ids, timeout=cls.SCOPE_TIMEOUT)
        return frozenset(ids)


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


class Synonym(models.Model):
    """A group of words the bot reads as one concept (撤销 = 取消 = cancel), edited by supervisors.

    The bot reads the active groups through ``active_groups`` (cached in Redis, shared by every process);
    saving or deleting a group drops the cache, and each process rebuilds its ranker with the new groups
    within seconds (``chat.knowledge``). The seed is ``chat/data/synonyms.txt``, loaded by a migration;
    while the table holds no row at all (a database emptied by hand) the bot reads that file.
    """

    tenant_field: ClassVar[str | None] = None
    CACHE_KEY = "chat:synonyms"

    name = models.CharField(
        _("concept"), max_length=60, unique=True, help_text=_("The group's name; it is one of its words too.")
    )
    terms = models.TextField(
        _("words"), help_text=_("Words and phrases that mean the same here, separated by commas or new lines.")
    )
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("synonym group")
        verbose_name_plural = _("synonym groups")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.name = " ".join(self.name.split())
        self.terms = ", ".join(self.words()[1:])
        super().save(*args, **kwargs)
        self.forget_groups()

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        deleted = super().delete(*args, **kwargs)
        self.forget_groups()
        return deleted

    def clean(self) -> None:
        if "," in self.name or "，" in self.name:
            raise ValidationError({"name": _("The name is one word or phrase: put the others under words.")})

    def words(self) -> list[str]:
        """The group as the ranker takes it: its name first, then its other words, each once."""
        found = [self.name, *(w for line in self.terms.splitlines() for w in line.replace("，", ",").split(","))]
        return list(dict.fromkeys(" ".join(word.split()) for word in found if word.strip()))

    @classmethod
    def forget_groups(cls) -> None:
        """Drop the cached groups (after a change; bulk changes in the admin call it too)."""
        cache.delete(cls.CACHE_KEY)

    @classmethod
    def active_groups(cls) -> list[list[str]] | None:
        """The active groups, from the cache when it holds them; None while the table is empty (read the seed)."""
        groups = cache.get(cls.CACHE_KEY)
        if groups is None:
            rows = list(cls.objects.order_by("name"))
            groups = [row.words() for row in rows if row.active] if rows else "seed"
            cache.set(cls.CACHE_KEY, groups, timeout=None)
        return None if groups == "seed" else groups


class ChosenAnswer(models.Model):
    """A consumer tapped one of the "猜你想问" titles the bot offered for their question.

    One row per question, article and consumer: however often one consumer taps, they count once. When
    enough different consumers chose the same article for the same question (``CHAT_CHOICE_LEARN_CONSUMERS``)
    and no other article was chosen as often, the question becomes another wording of the article
    (``chat.choices.remember_choice``).
    """

    tenant_field: ClassVar[str | None] = None

    question_key = models.CharField(_("question, normalised"), max_length=200)
    question = models.CharField(_("question"), max_length=200)
    article = models.ForeignKey(KnowledgeArticle, on_delete=models.CASCADE, related_name="+", verbose_name=_("article"))
    consumer = models.ForeignKey("crm.Consumer", on_delete=models.CASCADE, related_name="+", verbose_name=_("consumer"))
    chosen_at = models.DateTimeField(_("chosen at"))
    learnt = models.BooleanField(_("learnt as a wording"), default=False)

    class Meta:
        verbose_name = _("chosen answer")
        verbose_name_plural = _("chosen answers")
        constraints = [
            models.UniqueConstraint(
                fields=["question_key", "article", "consumer"], name="chat_chosen_once_per_consumer"
            )
        ]
        indexes = [models.Index(fields=["question_key", "article"], name="chat_chosen_question")]

    def __str__(self) -> str:
        return self.question


class Satisfaction(models.Model):
    """A consumer's answer to the one-question survey offered when their chat ended: 1–5 stars, a comment."""

    tenant_field: ClassVar[str | None] = "chat__ticket__merchant"
    SATISFIED = 4  # 4 and 5 stars count as satisfied (满意)

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
