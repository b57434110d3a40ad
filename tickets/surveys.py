"""The satisfaction survey (CSAT) of a ticket resolved outside chat (phone, web): a signed link, one answer.

When such a ticket is resolved, ``transition_ticket`` puts ``resolution_notice`` on its timeline as a message
the consumer sees: the link to ``/survey/<token>/``. There is no outbound channel (mail, SMS) to the consumer,
so the link travels with the resolution reply, and the agent's ticket page shows it to copy. The token is signed
(django.core.signing) over the ticket and the moment it was resolved: it cannot be made up or altered, it works
for ``TICKET_SURVEY_DAYS`` after that moment, and the same ticket resolved again gets a new one. No login: the
signature is the consumer's key. A ticket takes one answer (a unique constraint is the last word); a chat's
ticket is rated in the chat widget instead (chat.satisfaction), so it is never offered this survey.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.privacy import shown
from core.satisfaction import InvalidAnswer, check_answer
from core.users import Actor
from tickets.models import Ticket, TicketSatisfaction

SALT = "tickets.survey"
ANSWERABLE = (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)


class SurveyError(Exception):
    """A survey link or answer that is refused: ``code`` for the page (and its HTTP status), ``message`` to say."""

    STATUS = {"bad_link": 400, "invalid": 400, "gone": 404, "reopened": 409, "already_answered": 409, "expired": 410}

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    @property
    def status(self) -> int:
        return self.STATUS[self.code]


def offers_survey(ticket: Ticket) -> bool:
    """Is ``ticket`` one this survey is for? Resolved outside chat (a chat is rated in the chat widget)."""
    return ticket.channel != Ticket.Channel.CHAT and ticket.resolved_at is not None


def survey_token(ticket: Ticket) -> str:
    """The signed token of the ticket's survey, for the resolution it is in (``resolved_at``)."""
    assert ticket.resolved_at is not None
    return signing.Signer(salt=SALT).sign_object({"t": ticket.pk, "at": int(ticket.resolved_at.timestamp())})


def survey_url(ticket: Ticket) -> str:
    """The survey's address as the consumer opens it (settings.PUBLIC_BASE_URL)."""
    return settings.PUBLIC_BASE_URL + reverse("ticket-survey", args=[survey_token(ticket)])


def resolution_notice(ticket: Ticket) -> str:
    """The consumer-visible message that goes with the ticket's resolution: the survey link, in the desk's language
    (a phone or web ticket does not know the consumer's; the survey page itself offers both). Blank when the ticket
    is not one for the survey or was already rated."""
    if not offers_survey(ticket) or TicketSatisfaction.objects.filter(ticket=ticket).exists():
        return ""
    with translation.override(settings.LANGUAGE_CODE):
        return _("How did we do? Rate our help with one tap (the link works for %(days)s days): %(url)s") % {
            "days": settings.TICKET_SURVEY_DAYS, "url": survey_url(ticket),
        }  # fmt: skip


@dataclass(frozen=True)
class DeskSurvey:
    """What the agent's ticket page shows of a resolved ticket's survey: the link to copy, and the answer if any."""

    url: str
    answer: TicketSatisfaction | None
    comment: str = ""  # the answer's comment as the reader may see it (personal numbers masked: core.privacy)


def desk_survey(ticket: Ticket, user: Actor) -> DeskSurvey | None:
    """The survey box of the ticket page: only for a resolved (or closed) phone or web ticket; 1 query."""
    if not offers_survey(ticket) or ticket.status not in ANSWERABLE:
        return None
    answer = TicketSatisfaction.objects.filter(ticket=ticket).first()
    return DeskSurvey(survey_url(ticket), answer, shown(answer.comment, user) if answer else "")


@dataclass(frozen=True)
class Survey:
    """The ticket a survey link opens, and its answer if it was given."""

    ticket: Ticket
    answer: TicketSatisfaction | None


def open_survey(token: str, *, now: datetime | None = None) -> Survey:
    """The survey a link opens, or a SurveyError: ``bad_link`` (altered or made up), ``expired``, ``gone`` (no such
    ticket any more), ``reopened`` (resolved again later, or worked on again: the link is not the current one)."""
    try:
        payload = signing.Signer(salt=SALT).unsign_object(token)
        ticket_id, at = int(payload["t"]), int(payload["at"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        refused = _("This survey link is not valid. Please use the link exactly as you got it.")
        raise SurveyError("bad_link", refused) from None
    if (now or timezone.now()).timestamp() > at + timedelta(days=settings.TICKET_SURVEY_DAYS).total_seconds():
        raise SurveyError("expired", _("This survey link has expired."))
    ticket = Ticket.objects.filter(pk=ticket_id).select_related("satisfaction").first()
    if ticket is None or ticket.channel == Ticket.Channel.CHAT:
        raise SurveyError("gone", _("There is no such request any more."))
    answer = getattr(ticket, "satisfaction", None)
    current = ticket.resolved_at is not None and int(ticket.resolved_at.timestamp()) == at
    if answer is None and (ticket.status not in ANSWERABLE or not current):
        again = _("This request was opened again; you will get a new survey once it is resolved.")
        raise SurveyError("reopened", again)
    return Survey(ticket, answer)


def _posted_score(score: object) -> object:
    """A score as a form posts it: its digits read as the number they spell; anything else as it came."""
    if isinstance(score, str) and score.strip().isascii() and score.strip().isdigit():
        return int(score.strip())
    return score


@transaction.atomic
def answer_survey(token: str, score: object, comment: object = "", *,
                  now: datetime | None = None) -> TicketSatisfaction:  # fmt: skip
    """The consumer answers the survey a link opens: once per ticket (``already_answered`` after that)."""
    now = now or timezone.now()
    survey = open_survey(token, now=now)
    if survey.answer is not None:
        raise SurveyError("already_answered", _("This survey has already been answered. Thank you!"))
    try:
        score, comment = check_answer(_posted_score(score), comment)
    except InvalidAnswer as refused:
        raise SurveyError("invalid", refused.message) from None
    try:
        with transaction.atomic():
            return TicketSatisfaction.objects.create(ticket=survey.ticket, score=score, comment=comment, created_at=now)
    except IntegrityError:
        raise SurveyError("already_answered", _("This survey has already been answered. Thank you!")) from None
