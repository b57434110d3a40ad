""" "猜你想问" remembered: a consumer's tap on an offered title is stored, and consumers who agree teach the bot.

The bot offers 2–3 titles when it is not sure (``chat.understanding``); the chat keeps the offer (its
question and the articles) in ``ChatSession.summary["offer"]`` until the next message. A message that is
one of the offered titles is a tap: the bot answers with that article (a hit, not a miss: ``chat.bot``)
and ``remember_choice`` stores who chose what for which question.

One consumer alone cannot teach the bot: a tap counts once per consumer, question and article, however
often it is repeated, and the question becomes a wording of the article only when
``CHAT_CHOICE_LEARN_CONSUMERS`` different consumers chose that article for it (same question once
normalised) and no other article was chosen for it as often. Until then the pairs wait on the
supervisors' missed-questions page as suggested wordings, one click to teach.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max

from chat.analysis import normalised_question
from chat.models import ChatSession, ChosenAnswer, KnowledgeArticle
from chat.wordings import MAX_WORDING, append_wording
from core.text import mask_pii

MAX_KEY = 200


@transaction.atomic
def remember_choice(chat: ChatSession, question: str, article_id: int, now: datetime) -> bool:
    """Store that the chat's consumer chose ``article_id`` for ``question``; teach it as a wording when enough
    consumers agree (see the module). True when the question became a wording now."""
    # Learnt without a person reading it: a consumer's numbers never become part of an article.
    wording = mask_pii(" ".join(question.split()))[:MAX_WORDING]
    key = normalised_question(wording)[:MAX_KEY]
    if not key:
        return False
    try:
        with transaction.atomic():  # a savepoint: the same consumer's second tap is already counted
            ChosenAnswer.objects.create(question_key=key, question=wording, article_id=article_id,
                                        consumer_id=chat.consumer_id, chosen_at=now)  # fmt: skip
    except IntegrityError:
        return False
    # Taps for one article count one after another: the second of two at once sees the first once it commits.
    if not KnowledgeArticle.objects.select_for_update().filter(pk=article_id, active=True).exists():
        return False
    counts = dict(
        ChosenAnswer.objects.filter(question_key=key).values_list("article_id")
        .annotate(n=Count("consumer_id", distinct=True)).values_list("article_id", "n")
    )  # fmt: skip
    mine = counts.get(article_id, 0)
    rivals = max((n for article, n in counts.items() if article != article_id), default=0)
    if mine < settings.CHAT_CHOICE_LEARN_CONSUMERS or mine <= rivals:
        return False
    if ChosenAnswer.objects.filter(question_key=key, article_id=article_id, learnt=True).exists():
        return False
    added = append_wording(article_id, wording)
    ChosenAnswer.objects.filter(question_key=key, article_id=article_id).update(learnt=True)
    return bool(added)


def suggested_wordings(limit: int = 50) -> list[dict[str, Any]]:
    """Questions consumers answered themselves through "猜你想问" and that are not learnt yet: the question, the
    article chosen, by how many consumers; most chosen first. One query."""
    rows = (
        ChosenAnswer.objects.filter(learnt=False, article__active=True)
        .values("question_key", "article_id", "article__title")
        .annotate(consumers=Count("consumer_id", distinct=True), question=Max("question"))
        .order_by("-consumers", "question_key")[:limit]
    )
    return list(rows)
