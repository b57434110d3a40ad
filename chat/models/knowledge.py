"""The bot's knowledge base: articles, the synonyms it reads as one concept, and the answers consumers chose."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from chat.models.sessions import Language


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
