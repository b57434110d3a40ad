"""The one satisfaction question (CSAT) both surveys ask — a chat's, in the widget (chat.satisfaction), and a phone or
web ticket's, by a signed link (tickets.surveys): what an answer may be, and which answers count as satisfied."""

from __future__ import annotations

from django.utils.translation import gettext as _

SATISFIED = 4  # 4 and 5 stars count as satisfied (满意)
COMMENT_MAX_CHARS = 500


class InvalidAnswer(ValueError):
    """An answer refused, with the message naming the field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_answer(score: object, comment: object) -> tuple[int, str]:
    """The score (a whole number 1–5) and the comment (a string, at most COMMENT_MAX_CHARS, NULs dropped, trimmed),
    or InvalidAnswer naming the field."""
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise InvalidAnswer(_("The field “score” must be a whole number from 1 to 5."))
    if not isinstance(comment, str):
        raise InvalidAnswer(_("The field “comment” must be a string."))
    comment = comment.replace("\x00", "").strip()
    if len(comment) > COMMENT_MAX_CHARS:
        raise InvalidAnswer(_("The field “comment” may have at most %(n)s characters.") % {"n": COMMENT_MAX_CHARS})
    return score, comment
