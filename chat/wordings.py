"""Another wording of a knowledge article: appended to ``KnowledgeArticle.questions`` and re-indexed.

Two paths teach the bot a wording: a person (``chat.learning.add_wording``: an agent from the console, a
supervisor from the missed-questions page, each checked for the permission) and consumers' own choices in
"猜你想问" (``chat.choices.remember_choice``, once several consumers agreed). Both store it here, through
the index's single writer (``chat.tasks.index_knowledge_article``, after the commit).
"""

from __future__ import annotations

from django.db import transaction

from chat.analysis import fold
from chat.models import KnowledgeArticle
from core.queue import enqueue

MAX_WORDING = 200


def same_wording(text: str) -> str:
    return " ".join(fold(text).split())


@transaction.atomic
def append_wording(article_id: int, wording: str) -> bool | None:
    """Append ``wording`` (one line, already checked) to the article's other wordings and re-index it after the
    commit. False when the article already reads so (title or a wording, case and width folded); None when
    there is no such active article."""
    locked = KnowledgeArticle.objects.select_for_update().filter(pk=article_id, active=True).first()
    if locked is None:
        return None
    lines = [line for line in locked.questions.splitlines() if line.strip()]
    if same_wording(wording) in {same_wording(locked.title), *(same_wording(line) for line in lines)}:
        return False
    locked.questions = "\n".join([*lines, wording])
    locked.save(update_fields=["questions", "updated_at"])
    enqueue("chat.tasks.index_knowledge_article", locked.pk)
    return True
