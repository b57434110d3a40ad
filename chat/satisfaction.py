"""The one-question satisfaction survey (CSAT): offered to the consumer when their chat ends, answered once.

``conversation.end_chat`` sends the ``survey`` frame as the chat ends; ``rate_chat`` stores the consumer's answer.
A chat takes one answer: a second is refused (``already_rated``), so a score a supervisor has read never
changes under them. Only the chat's own consumer may answer, and only after it ended
(docs/chat-protocol.md, *Satisfaction survey*).
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chat.conversation import ChatError
from chat.models import ChatSession, Satisfaction
from core.satisfaction import InvalidAnswer, check_answer


@transaction.atomic
def rate_chat(consumer_id: int, chat_id: int, score: object, comment: object = "", *,
              now: datetime | None = None) -> Satisfaction:  # fmt: skip
    """The consumer answers the survey of their ended chat ``chat_id``; a chat of someone else reads as unknown."""
    try:
        score, comment = check_answer(score, comment)
    except InvalidAnswer as refused:
        raise ChatError("invalid", refused.message) from None
    chat = ChatSession.objects.filter(pk=chat_id, consumer_id=consumer_id).first()
    if chat is None:
        raise ChatError("not_found", _("There is no such conversation."))
    if chat.state != ChatSession.State.ENDED:
        raise ChatError("not_ended", _("A conversation can be rated once it has ended."))
    try:
        with transaction.atomic():
            return Satisfaction.objects.create(
                chat=chat, score=score, comment=comment, created_at=now or timezone.now()
            )
    except IntegrityError:
        raise ChatError("already_rated", _("This conversation has already been rated.")) from None
