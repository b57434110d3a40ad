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

COMMENT_MAX_CHARS = 500


def check_answer(score: object, comment: object) -> tuple[int, str]:
    """The score (a whole number 1–5) and the comment (a string, at most COMMENT_MAX_CHARS) or a refusal naming
    the field."""
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise ChatError("invalid", _("The field “score” must be a whole number from 1 to 5."))
    if not isinstance(comment, str):
        raise ChatError("invalid", _("The field “comment” must be a string."))
    comment = comment.replace("\x00", "").strip()
    if len(comment) > COMMENT_MAX_CHARS:
        raise ChatError("invalid", _("The field “comment” may have at most %(n)s characters.")
                        % {"n": COMMENT_MAX_CHARS})  # fmt: skip
    return score, comment


@transaction.atomic
def rate_chat(consumer_id: int, chat_id: int, score: object, comment: object = "", *,
              now: datetime | None = None) -> Satisfaction:  # fmt: skip
    """The consumer answers the survey of their ended chat ``chat_id``; a chat of someone else reads as unknown."""
    score, comment = check_answer(score, comment)
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
